import type { CallKey, CallRepository } from "../../app/ports.js";
import type { Call } from "../../domain/call.js";
import { callRowChanges } from "../call-changes.js";
import { callFromColumns, type CallColumns, type InviteeColumns, type ParticipantColumns } from "../rows.js";
import type { Queryable } from "./queryable.js";

/** The call with its children as JSON aggregates. */
type CallRow = CallColumns & { participants: ParticipantColumns[]; invitees: InviteeColumns[]; ended_sessions: string[] };

/** A call with its children in one round trip (JSON aggregates), ordered as SQLite orders them. */
const SELECT_CALL = `
  SELECT c.*,
    COALESCE((SELECT json_agg(json_build_object('user_id', p.user_id, 'joined_at', p.joined_at, 'audio_on', p.audio_on,
               'video_on', p.video_on, 'livekit_sid', p.livekit_sid) ORDER BY p.joined_at, p.user_id)
              FROM call_participants p WHERE p.call_id = c.id), '[]') AS participants,
    COALESCE((SELECT json_agg(json_build_object('user_id', i.user_id, 'state', i.state) ORDER BY i.user_id)
              FROM call_invitees i WHERE i.call_id = c.id), '[]') AS invitees,
    COALESCE((SELECT json_agg(s.sid ORDER BY s.sid) FROM call_ended_sessions s WHERE s.call_id = c.id), '[]') AS ended_sessions
  FROM calls c`;

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
         end_requested_by, end_requested_at, ring_deadline)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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
      ],
    );
    if (inserted.rowCount === 0) return false;
    await this.writeChanges(undefined, call);
    return true;
  }

  async saveCall(before: Call, after: Call): Promise<void> {
    await this.db.query(
      `UPDATE calls SET status = $2, ended_at = $3, end_reason = $4, ended_by = $5, end_requested_by = $6, end_requested_at = $7
       WHERE id = $1`,
      [after.id, after.status, after.endedAt, after.endReason, after.endedBy, after.endRequest?.by ?? null, after.endRequest?.at ?? null],
    );
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

  /** Rows another instance holds are skipped, not waited for: that instance is expiring them. */
  async claimRingingDue(now: number, limit: number): Promise<CallKey[]> {
    const { rows } = await this.db.query<{ tenant_id: string; id: string }>(
      "SELECT tenant_id, id FROM calls WHERE status = 'ringing' AND ring_deadline <= $1 ORDER BY ring_deadline LIMIT $2 FOR UPDATE SKIP LOCKED",
      [now, limit],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, callId: r.id }));
  }

  async nextRingDeadline(): Promise<number | undefined> {
    const { rows } = await this.db.query<{ deadline: number | null }>("SELECT min(ring_deadline) AS deadline FROM calls WHERE status = 'ringing'");
    return rows[0]?.deadline ?? undefined;
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
        `INSERT INTO call_invitees (call_id, user_id, state) SELECT $1, * FROM unnest($2::text[], $3::text[])
         ON CONFLICT (call_id, user_id) DO UPDATE SET state = excluded.state`,
        [after.id, invitees.map((i) => i.userId), invitees.map((i) => i.state)],
      );
    }
  }
}

function hydrate(row: CallRow): Call {
  return callFromColumns(row, { participants: row.participants, invitees: row.invitees, endedSessions: row.ended_sessions });
}
