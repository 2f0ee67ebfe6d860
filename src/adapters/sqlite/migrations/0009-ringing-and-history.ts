/**
 * Ringing per member and call history.
 *
 * - `call_invitees`: the states a rung member can be in now (answered,
 *   rejected, missed, busy, canceled), when it last changed, and their own
 *   ring deadline while their phone rings. SQLite cannot alter a CHECK, so
 *   the table is rebuilt (new, copy, drop, rename). Old rows: joined →
 *   answered; stopped → canceled when the caller gave up, else missed.
 * - `calls.next_ring_at`: the earliest moment something of a live call rings
 *   out (a member's deadline, or the call's own while nobody answered), for
 *   the ring timer; `ring_deadline` stays the call's own deadline.
 * - `call_parties`: one row per user who started, was rung for or joined a
 *   call, for the user's history (newest first) and their unseen missed calls.
 * - Indexes for a room's call log, for retention (ended calls by end time)
 *   and for "is this user in a live call" (call waiting).
 */
export const sql = /* sql */ `
CREATE TABLE call_invitees_new (
  call_id       TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id       TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('ringing', 'answered', 'rejected', 'missed', 'busy', 'canceled')),
  changed_at    INTEGER NOT NULL,
  ring_deadline INTEGER,
  PRIMARY KEY (call_id, user_id)
) WITHOUT ROWID;

INSERT INTO call_invitees_new (call_id, user_id, state, changed_at, ring_deadline)
SELECT i.call_id, i.user_id,
  CASE
    WHEN i.state = 'joined' THEN 'answered'
    WHEN i.state = 'stopped' AND c.end_reason = 'canceled' THEN 'canceled'
    WHEN i.state = 'stopped' THEN 'missed'
    -- Never written by the old code, but a ring cannot outlive its call.
    WHEN i.state = 'ringing' AND c.status = 'ended' THEN 'missed'
    ELSE i.state
  END,
  COALESCE(c.ended_at, c.started_at),
  CASE WHEN i.state = 'ringing' AND c.status <> 'ended' THEN c.ring_deadline END
FROM call_invitees i JOIN calls c ON c.id = i.call_id;

DROP TABLE call_invitees;
ALTER TABLE call_invitees_new RENAME TO call_invitees;

ALTER TABLE calls ADD COLUMN next_ring_at INTEGER;
UPDATE calls SET next_ring_at = (
  SELECT min(deadline) FROM (
    SELECT CASE WHEN calls.status = 'ringing' THEN calls.ring_deadline END AS deadline
    UNION ALL
    SELECT ring_deadline FROM call_invitees WHERE call_invitees.call_id = calls.id
  )
) WHERE status <> 'ended';
DROP INDEX calls_ringing_by_deadline;
CREATE INDEX calls_by_next_ring ON calls (next_ring_at) WHERE next_ring_at IS NOT NULL;

CREATE TABLE call_parties (
  call_id       TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id       TEXT NOT NULL,
  tenant_id     TEXT NOT NULL,
  started_at    INTEGER NOT NULL,
  joined        INTEGER NOT NULL,
  missed_unseen INTEGER NOT NULL,
  PRIMARY KEY (call_id, user_id)
) WITHOUT ROWID;
-- A user's history page: an index walk from where the page starts.
CREATE INDEX call_parties_history ON call_parties (tenant_id, user_id, started_at DESC, call_id DESC);
CREATE INDEX call_parties_unseen ON call_parties (tenant_id, user_id) WHERE missed_unseen;
-- Counting who joined a call reads its joined parties only, not every member it rang
-- (joined in the key too: SQLite then counts from the index alone).
CREATE INDEX call_parties_joined ON call_parties (call_id, joined) WHERE joined;

INSERT INTO call_parties (call_id, user_id, tenant_id, started_at, joined, missed_unseen)
SELECT p.call_id, p.user_id, c.tenant_id, c.started_at, max(p.joined), 0
FROM (
  SELECT id AS call_id, initiator_id AS user_id, 1 AS joined FROM calls
  UNION ALL
  SELECT call_id, user_id, state = 'answered' FROM call_invitees
  UNION ALL
  SELECT call_id, user_id, 1 FROM call_participants
) p JOIN calls c ON c.id = p.call_id
GROUP BY p.call_id, p.user_id;

CREATE INDEX calls_by_room ON calls (tenant_id, room_id, started_at DESC, id DESC);
CREATE INDEX calls_ended_by_time ON calls (ended_at) WHERE status = 'ended';
CREATE INDEX call_participants_by_user ON call_participants (user_id);
`;
