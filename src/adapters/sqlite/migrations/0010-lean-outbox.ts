/**
 * A leaner outbox: one B-tree insert per event instead of four. Events are no
 * longer marked one row at a time; the relay appends a mark (the highest seq
 * it has published, and when) after each batch, so "unsent" is "seq above the
 * last mark". `seq` is a plain rowid (no AUTOINCREMENT, no sqlite_sequence
 * write per insert): pruning never deletes the newest event, so a new event's
 * seq is always above every mark. The `outbox` view keeps the old shape
 * (with `sent_at`, the time of the mark that covered the event) for operators
 * and tools.
 */
export const sql = /* sql */ `
CREATE TABLE outbox_events (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL,
  subject    TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
INSERT INTO outbox_events (seq, id, subject, payload, created_at)
SELECT seq, id, subject, payload, created_at FROM outbox ORDER BY seq;

CREATE TABLE outbox_marks (
  sent_seq INTEGER PRIMARY KEY,
  sent_at  INTEGER NOT NULL
);
CREATE INDEX outbox_marks_by_time ON outbox_marks (sent_at);
-- The relay marked sent events in seq order: each batch's time becomes a mark at the highest seq it covered.
INSERT INTO outbox_marks (sent_seq, sent_at)
SELECT max(seq), sent_at FROM outbox
WHERE sent_at IS NOT NULL AND seq < COALESCE((SELECT min(seq) FROM outbox WHERE sent_at IS NULL), 9223372036854775807)
GROUP BY sent_at;

DROP TABLE outbox;
CREATE VIEW outbox AS
SELECT e.seq, e.id, e.subject, e.payload, e.created_at,
  (SELECT m.sent_at FROM outbox_marks m WHERE m.sent_seq >= e.seq ORDER BY m.sent_seq LIMIT 1) AS sent_at
FROM outbox_events e;
`;
