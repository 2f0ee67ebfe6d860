/**
 * Ringing per member and call history, as SQLite's migration 9 leaves it.
 *
 * - `call_invitees`: the states a rung member can be in now (answered,
 *   rejected, missed, busy, canceled), when it last changed, and their own
 *   ring deadline while their phone rings. Old rows: joined → answered;
 *   stopped → canceled when the caller gave up, else missed.
 * - `calls.next_ring_at`: the earliest moment something of a live call rings
 *   out (a member's deadline, or the call's own while nobody answered), for
 *   the ring timer; `ring_deadline` stays the call's own deadline.
 * - `call_parties`: one row per user who started, was rung for or joined a
 *   call, for the user's history (newest first) and their unseen missed calls.
 * - Indexes for a room's call log, for retention (ended calls by end time)
 *   and for "is this user in a live call" (call waiting).
 */
export const sql = /* sql */ `
ALTER TABLE call_invitees DROP CONSTRAINT call_invitees_state_check;
ALTER TABLE call_invitees ADD COLUMN changed_at BIGINT, ADD COLUMN ring_deadline BIGINT;
UPDATE call_invitees i SET
  state = CASE
    WHEN i.state = 'joined' THEN 'answered'
    WHEN i.state = 'stopped' AND c.end_reason = 'canceled' THEN 'canceled'
    WHEN i.state = 'stopped' THEN 'missed'
    -- Never written by the old code, but a ring cannot outlive its call.
    WHEN i.state = 'ringing' AND c.status = 'ended' THEN 'missed'
    ELSE i.state
  END,
  changed_at = COALESCE(c.ended_at, c.started_at),
  ring_deadline = CASE WHEN i.state = 'ringing' AND c.status <> 'ended' THEN c.ring_deadline END
FROM calls c WHERE c.id = i.call_id;
ALTER TABLE call_invitees
  ALTER COLUMN changed_at SET NOT NULL,
  ADD CONSTRAINT call_invitees_state_check CHECK (state IN ('ringing', 'answered', 'rejected', 'missed', 'busy', 'canceled'));

ALTER TABLE calls ADD COLUMN next_ring_at BIGINT;
UPDATE calls SET next_ring_at = (
  SELECT min(deadline) FROM (
    SELECT CASE WHEN calls.status = 'ringing' THEN calls.ring_deadline END AS deadline
    UNION ALL
    SELECT ring_deadline FROM call_invitees WHERE call_invitees.call_id = calls.id
  ) AS deadlines
) WHERE status <> 'ended';
DROP INDEX calls_ringing_by_deadline;
CREATE INDEX calls_by_next_ring ON calls (next_ring_at) WHERE next_ring_at IS NOT NULL;

CREATE TABLE call_parties (
  call_id       TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id       TEXT COLLATE "C" NOT NULL,
  tenant_id     TEXT COLLATE "C" NOT NULL,
  started_at    BIGINT NOT NULL,
  joined        BOOLEAN NOT NULL,
  missed_unseen BOOLEAN NOT NULL,
  PRIMARY KEY (call_id, user_id)
);
-- A user's history page: an index walk from where the page starts.
CREATE INDEX call_parties_history ON call_parties (tenant_id, user_id, started_at DESC, call_id DESC);
CREATE INDEX call_parties_unseen ON call_parties (tenant_id, user_id) WHERE missed_unseen;
-- Counting who joined a call reads its joined parties only, not every member it rang.
CREATE INDEX call_parties_joined ON call_parties (call_id) WHERE joined;

INSERT INTO call_parties (call_id, user_id, tenant_id, started_at, joined, missed_unseen)
SELECT p.call_id, p.user_id, c.tenant_id, c.started_at, bool_or(p.joined), false
FROM (
  SELECT id AS call_id, initiator_id AS user_id, true AS joined FROM calls
  UNION ALL
  SELECT call_id, user_id, state = 'answered' FROM call_invitees
  UNION ALL
  SELECT call_id, user_id, true FROM call_participants
) p JOIN calls c ON c.id = p.call_id
GROUP BY p.call_id, p.user_id, c.tenant_id, c.started_at;

CREATE INDEX calls_by_room ON calls (tenant_id, room_id, started_at DESC, id DESC);
CREATE INDEX calls_ended_by_time ON calls (ended_at) WHERE status = 'ended';
CREATE INDEX call_participants_by_user ON call_participants (user_id);
`;
