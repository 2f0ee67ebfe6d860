/**
 * The transactional outbox (events written in the same transaction as the
 * change they describe, relayed to NATS afterwards) and the durable ring
 * deadline of each call.
 */
export const sql = /* sql */ `
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  subject    TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at    INTEGER
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

ALTER TABLE calls ADD COLUMN ring_deadline INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_ringing_by_deadline ON calls (ring_deadline) WHERE status = 'ringing';
`;
