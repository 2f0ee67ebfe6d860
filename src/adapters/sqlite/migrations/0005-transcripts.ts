/** Transcripts of recordings: state of the transcription job and its result. */
export const sql = /* sql */ `
CREATE TABLE transcripts (
  recording_id TEXT PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
  call_id      TEXT NOT NULL,
  tenant_id    TEXT NOT NULL,
  room_id      TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
  engine       TEXT,
  text         TEXT,
  segments     TEXT NOT NULL DEFAULT '[]',
  vtt_key      TEXT,
  txt_key      TEXT,
  attempts     INTEGER NOT NULL DEFAULT 0,
  error        TEXT,
  updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
`;
