/**
 * Who ended a call, and an end asked for while LiveKit deletes the room (so
 * LiveKit's reports of that deletion end the call as the asked-for end).
 */
export const sql = /* sql */ `
ALTER TABLE calls ADD COLUMN ended_by TEXT;
ALTER TABLE calls ADD COLUMN end_requested_by TEXT;
ALTER TABLE calls ADD COLUMN end_requested_at INTEGER;
`;
