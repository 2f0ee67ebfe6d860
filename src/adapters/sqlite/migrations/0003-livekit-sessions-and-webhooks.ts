/**
 * LiveKit's media session id per participant and the sessions known to have
 * ended (tell stale webhooks from current ones), and the ids of processed webhooks (LiveKit retries; a replay
 * must change nothing).
 */
export const sql = /* sql */ `
ALTER TABLE call_participants ADD COLUMN livekit_sid TEXT;

CREATE TABLE call_ended_sessions (
  call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  sid     TEXT NOT NULL,
  PRIMARY KEY (call_id, sid)
) WITHOUT ROWID;

CREATE TABLE webhook_events (
  id          TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);
`;
