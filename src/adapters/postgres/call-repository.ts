import type { CallKey, CallRepository } from "../../app/ports.js";
import { nextRingAt, type Call } from "../../domain/call.js";
import type { CallHistoryRecord, HistoryPage } from "../../domain/history.js";
import { callRowChanges, type PartyChange } from "../call-changes.js";
import {
  callFromColumns,
  historyFromColumns,
  type CallColumns,
  type HistoryColumns,
  type InviteeColumns,
  type ParticipantColumns,
} from "../rows.js";
import type { Queryable } from "./queryable.js";

/** The call with its children as JSON aggregates. */
type CallRow = CallColumns & { participants: ParticipantColumns[]; invitees: InviteeColumns[]; ended_sessions: string[] };

/** A call with its children in one round trip (JSON aggregates), ordered as SQLite orders them. */
const SELECT_CALL = `
  SELECT c.*,
    COALESCE((SELECT json_agg(json_build_object('user_id', p.user_id, 'joined_at', p.joined_at, 'audio_on', p.audio_on,
               'video_on', p.video_on, 'livekit_sid', p.livekit_sid) ORDER BY p.joined_at, p.user_id)
              FROM call_participants p WHERE p.call_id = c.id), '[]') AS participants,
    COALESCE((SELECT json_agg(json_build_object('user_id', i.user_id, 'state', i.state, 'changed_at', i.changed_at,
               'ring_deadline', i.ring_deadline) ORDER BY i.user_id)
              FROM call_invitees i WHERE i.call_id = c.id), '[]') AS invitees,
    COALESCE((SELECT json_agg(s.sid ORDER BY s.sid) FROM call_ended_sessions s WHERE s.call_id = c.id), '[]') AS ended_sessions
  FROM calls c`;

/**
 * A user's history, newest first. Both history reads walk an index from
 * where the page starts (call_parties_history, calls_by_room): EXPLAIN shows
 * an Index Scan with the row comparison as an index condition, under the
 * Limit, and no Sort.
 */
const HISTORY = `
  SELECT c.id, c.room_id, c.type, c.status, c.initiator_id, c.started_at, c.ended_at, c.end_reason,
    (SELECT count(*)::int FROM call_parties j WHERE j.call_id = p.call_id AND j.joined) AS participant_count,
    i.state AS invite_state, p.joined, p.missed_unseen
  FROM call_parties p
  JOIN calls c ON c.id = p.call_id
  LEFT JOIN call_invitees i ON i.call_id = p.call_id AND i.user_id = p.user_id
  WHERE p.tenant_id = $1 AND p.user_id = $2`;

/**
 * Calls in PostgreSQL, on the pool (reads) or on a transaction's client.
 * `findCallForUpdate` locks the call's row until commit, so changes of one
 * call are serialized across connections and instances.
 */
export class PostgresCallRepository implements CallRepository {
  constructor(private readonly db: Queryable) {}

  async findCall(tenantId: string, callId: string): Promise<Call | undefined> {
    return this.one(`${SELECT_CALL} WHERE c.tenant_id = $1 AND c.id = $2`, [tenantId, callId]);
  }

  async findCallForUpdate(tenantId: string, callId: string): Promise<Call | undefined> {
    return this.one(`${SELECT_CALL} WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE OF c`, [tenantId, callId]);
  }

  async findLiveCallInRoom(tenantId: string, roomId: string): Promise<Call | undefined> {
    return this.one(`${SELECT_CALL} WHERE c.tenant_id = $1 AND c.room_id = $2 AND c.status <> 'ended'`, [tenantId, roomId]);
  }

  async insertCall(call: Call): Promise<boolean> {
    // The partial unique index decides glare: a second live call in the room inserts nothing.
    const inserted = await this.db.query(
      `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ended_by,
         end_requested_by, end_requested_at, ring_deadline, next_ring_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (tenant_id, room_id) WHERE status <> 'ended' DO NOTHING`,
      [
        call.id,
        call.tenantId,
        call.roomId,
        call.type,
        call.status,
        call.initiatorId,
        call.startedAt,
        call.endedAt,
        call.endReason,
        call.endedBy,
        call.endRequest?.by ?? null,
        call.endRequest?.at ?? null,
        call.ringDeadline,
        nextRingAt(call),
      ],
    );
    if (inserted.rowCount === 0) return false;
    await this.writeChanges(undefined, call);
    return true;
  }

  async saveCall(before: Call, after: Call): Promise<void> {
    await this.writeChanges(before, after);
  }

  async locateCall(callId: string): Promise<{ tenantId: string; roomId: string } | undefined> {
    const { rows } = await this.db.query<{ tenant_id: string; room_id: string }>("SELECT tenant_id, room_id FROM calls WHERE id = $1", [callId]);
    const row = rows[0];
    return row && { tenantId: row.tenant_id, roomId: row.room_id };
  }

  async listLiveCalls(): Promise<Call[]> {
    return this.many(`${SELECT_CALL} WHERE c.status <> 'ended' ORDER BY c.started_at`, []);
  }

  async listLiveCallsForMember(tenantId: string, userId: string, limit: number): Promise<Call[]> {
    return this.many(
      `${SELECT_CALL} JOIN room_members m ON m.tenant_id = c.tenant_id AND m.room_id = c.room_id
       WHERE m.tenant_id = $1 AND m.user_id = $2 AND c.status <> 'ended' ORDER BY c.started_at DESC LIMIT $3`,
      [tenantId, userId, limit],
    );
  }

  async countLive(): Promise<{ ringing: number; active: number }> {
    const { rows } = await this.db.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM calls WHERE status <> 'ended' GROUP BY status",
    );
    return { ringing: rows.find((r) => r.status === "ringing")?.n ?? 0, active: rows.find((r) => r.status === "active")?.n ?? 0 };
  }

  /**
   * next_ring_at is set only while something of a live call rings (calls_by_next_ring). Rows another
   * instance holds are skipped, not waited for: that instance is expiring them.
   */
  async claimRingingDue(now: number, limit: number): Promise<CallKey[]> {
    const { rows } = await this.db.query<{ tenant_id: string; id: string }>(
      "SELECT tenant_id, id FROM calls WHERE next_ring_at <= $1 ORDER BY next_ring_at LIMIT $2 FOR UPDATE SKIP LOCKED",
      [now, limit],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, callId: r.id }));
  }

  async nextRingDeadline(): Promise<number | undefined> {
    const { rows } = await this.db.query<{ deadline: number | null }>(
      "SELECT min(next_ring_at) AS deadline FROM calls WHERE next_ring_at IS NOT NULL",
    );
    return rows[0]?.deadline ?? undefined;
  }

  async listHistory(tenantId: string, userId: string, page: HistoryPage): Promise<CallHistoryRecord[]> {
    const order = "ORDER BY p.started_at DESC, p.call_id DESC";
    const { rows } = page.before
      ? await this.db.query<HistoryColumns>(`${HISTORY} AND (p.started_at, p.call_id) < ($4, $5) ${order} LIMIT $3`, [
          tenantId,
          userId,
          page.limit,
          page.before.startedAt,
          page.before.callId,
        ])
      : await this.db.query<HistoryColumns>(`${HISTORY} ${order} LIMIT $3`, [tenantId, userId, page.limit]);
    return rows.map(historyFromColumns);
  }

  async countUnseenMissed(tenantId: string, userId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM call_parties WHERE tenant_id = $1 AND user_id = $2 AND missed_unseen",
      [tenantId, userId],
    );
    return rows[0]?.n ?? 0;
  }

  async markHistorySeen(tenantId: string, userId: string): Promise<number> {
    const result = await this.db.query(
      "UPDATE call_parties SET missed_unseen = false WHERE tenant_id = $1 AND user_id = $2 AND missed_unseen",
      [tenantId, userId],
    );
    return result.rowCount ?? 0;
  }

  async listRoomCalls(tenantId: string, roomId: string, page: HistoryPage): Promise<Call[]> {
    const where = "WHERE c.tenant_id = $1 AND c.room_id = $2";
    const order = "ORDER BY c.started_at DESC, c.id DESC LIMIT $3";
    return page.before
      ? this.many(`${SELECT_CALL} ${where} AND (c.started_at, c.id) < ($4, $5) ${order}`, [
          tenantId,
          roomId,
          page.limit,
          page.before.startedAt,
          page.before.callId,
        ])
      : this.many(`${SELECT_CALL} ${where} ${order}`, [tenantId, roomId, page.limit]);
  }

  /** Only a live call has participants; the join keeps to the tenant's calls. Any number of ids is one array parameter. */
  async findBusy(tenantId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const { rows } = await this.db.query<{ user_id: string }>(
      // EXISTS stops at a user's first live call.
      `SELECT u.user_id FROM unnest($2::text[]) AS u(user_id) WHERE EXISTS (
         SELECT 1 FROM call_participants p JOIN calls c ON c.id = p.call_id
         WHERE p.user_id = u.user_id AND c.tenant_id = $1 AND c.status <> 'ended')`,
      [tenantId, userIds],
    );
    return new Set(rows.map((r) => r.user_id));
  }

  /**
   * Oldest first; recordings (and their media and transcripts) outlive retention, so their calls stay.
   * Children (participants, invitees, ended sessions, parties) go with their call: ON DELETE CASCADE.
   * Calls another instance is deleting are skipped.
   */
  async deleteEndedBefore(before: number, limit: number): Promise<number> {
    const result = await this.db.query(
      `DELETE FROM calls WHERE id IN (
         SELECT c.id FROM calls c WHERE c.status = 'ended' AND c.ended_at < $1
           AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = c.id)
         ORDER BY c.ended_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return result.rowCount ?? 0;
  }

  private async one(sql: string, params: unknown[]): Promise<Call | undefined> {
    const { rows } = await this.db.query<CallRow>(sql, params);
    return rows[0] && hydrate(rows[0]);
  }

  private async many(sql: string, params: unknown[]): Promise<Call[]> {
    const { rows } = await this.db.query<CallRow>(sql, params);
    return rows.map(hydrate);
  }

  /** Only what differs, each kind of child row in one statement. */
  private async writeChanges(before: Call | undefined, after: Call): Promise<void> {
    const changes = callRowChanges(before, after);
    if (before && changes.callRow) {
      await this.db.query(
        `UPDATE calls SET status = $2, ended_at = $3, end_reason = $4, ended_by = $5, end_requested_by = $6, end_requested_at = $7,
           ring_deadline = $8, next_ring_at = $9
         WHERE id = $1`,
        [
          after.id,
          after.status,
          after.endedAt,
          after.endReason,
          after.endedBy,
          after.endRequest?.by ?? null,
          after.endRequest?.at ?? null,
          after.ringDeadline,
          nextRingAt(after),
        ],
      );
    }
    const participants = changes.upsertParticipants;
    if (participants.length > 0) {
      await this.db.query(
        `INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::boolean[], $5::boolean[], $6::text[])
         ON CONFLICT (call_id, user_id) DO UPDATE SET joined_at = excluded.joined_at, audio_on = excluded.audio_on,
           video_on = excluded.video_on, livekit_sid = excluded.livekit_sid`,
        [
          after.id,
          participants.map((p) => p.userId),
          participants.map((p) => p.joinedAt),
          participants.map((p) => p.audioOn),
          participants.map((p) => p.videoOn),
          participants.map((p) => p.livekitSid),
        ],
      );
    }
    if (changes.deleteParticipants.length > 0) {
      await this.db.query("DELETE FROM call_participants WHERE call_id = $1 AND user_id = ANY($2::text[])", [after.id, changes.deleteParticipants]);
    }
    if (changes.addEndedSessions.length > 0) {
      await this.db.query(
        "INSERT INTO call_ended_sessions (call_id, sid) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
        [after.id, changes.addEndedSessions],
      );
    }
    const invitees = changes.upsertInvitees;
    if (invitees.length > 0) {
      await this.db.query(
        `INSERT INTO call_invitees (call_id, user_id, state, changed_at, ring_deadline)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])
         ON CONFLICT (call_id, user_id) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at,
           ring_deadline = excluded.ring_deadline`,
        [after.id, invitees.map((i) => i.userId), invitees.map((i) => i.state), invitees.map((i) => i.changedAt), invitees.map((i) => i.ringDeadline)],
      );
    }
    if (changes.upsertParties.length > 0) await this.upsertParties(after, changes.upsertParties);
  }

  /**
   * The parties in one statement: stored ones are updated (`joined` only ever turns true, `missed_unseen`
   * changes only when given, a null in the array) unless that leaves them as they are, the others
   * inserted (every part of the statement sees the rows as they were before it). The call's row is
   * locked by this transaction, so nobody else writes its parties meanwhile; ON CONFLICT is only a safety net.
   */
  private async upsertParties(call: Call, parties: readonly PartyChange[]): Promise<void> {
    await this.db.query(
      `WITH changed AS (
         SELECT * FROM unnest($4::text[], $5::boolean[], $6::boolean[]) AS u(user_id, joined, missed_unseen)
       ), updated AS (
         UPDATE call_parties p SET joined = p.joined OR changed.joined, missed_unseen = COALESCE(changed.missed_unseen, p.missed_unseen)
         FROM changed WHERE p.call_id = $1 AND p.user_id = changed.user_id
           AND ((changed.joined AND NOT p.joined) OR p.missed_unseen IS DISTINCT FROM COALESCE(changed.missed_unseen, p.missed_unseen))
       )
       INSERT INTO call_parties (call_id, user_id, tenant_id, started_at, joined, missed_unseen)
       SELECT $1, changed.user_id, $2, $3, changed.joined, COALESCE(changed.missed_unseen, false) FROM changed
       WHERE NOT EXISTS (SELECT 1 FROM call_parties s WHERE s.call_id = $1 AND s.user_id = changed.user_id)
       ON CONFLICT (call_id, user_id) DO NOTHING`,
      [
        call.id,
        call.tenantId,
        call.startedAt,
        parties.map((p) => p.userId),
        parties.map((p) => p.joined),
        parties.map((p) => p.missedUnseen ?? null),
      ],
    );
  }
}

function hydrate(row: CallRow): Call {
  return callFromColumns(row, { participants: row.participants, invitees: row.invitees, endedSessions: row.ended_sessions });
}
