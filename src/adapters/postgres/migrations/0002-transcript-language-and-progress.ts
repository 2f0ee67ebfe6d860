/** The language a transcript's engine heard, and how far its running job got (share of the audio, 0–1). */
export const sql = /* sql */ `
ALTER TABLE transcripts ADD COLUMN language TEXT;
ALTER TABLE transcripts ADD COLUMN progress DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE transcripts SET progress = 1 WHERE status = 'ready';
`;
