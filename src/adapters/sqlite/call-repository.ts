import type { Statement } from "better-sqlite3";
import type { CallKey, CallRepository } from "../../app/ports.js";
import type { Call } from "../../domain/call.js";
import { callRowChanges } from "../call-changes.js";
import { callFromColumns, type CallColumns, type InviteeColumns, type ParticipantColumns } from "../rows.js";
import type { SqliteDatabase } from "./database.js";

type CallRow = CallColumns;
/** Flags are 0/1 in SQLite. */
type ParticipantRow = ParticipantColumns & { audio_on: number; video_on: number };
type InviteeRow = InviteeColumns;

/**
 * Calls in SQLite. Writes run inside the store's transaction (SqliteStore):
 * this class only issues the statements. On one connection a read in the
 * transaction already holds the write lock, so no row lock is needed.
 */
export class SqliteCallRepository implements CallRepository {
  private readonly stmt: {
    selectCall: Statement<[string, string], CallRow>;
    locateCall: Statement<[string], { tenant_id: string; room_id: string }>;
    selectLive: Statement<[], CallRow>;
    selectLiveForMember: Statement<[string, string, number], CallRow>;
    countLive: Statement<[], { status: string; n: number }>;
    selectEndedSessions: Statement<[string], { sid: string }>;
    insertEndedSession: Statement<[string, string]>;
    selectLiveInRoom: Statement<[string, string], CallRow>;
    selectParticipants: Statement<[string], ParticipantRow>;
    selectInvitees: Statement<[string], InviteeRow>;
    insertCall: Statement<CallRow>;
    updateCall: Statement<Omit<CallRow, "tenant_id" | "room_id" | "type" | "initiator_id" | "started_at" | "ring_deadline">>;
    upsertParticipant: Statement<ParticipantRow & { call_id: string }>;
    deleteParticipant: Statement<[string, string]>;
    upsertInvitee: Statement<InviteeRow & { call_id: string }>;
    selectDueRinging: Statement<[number, number], { tenant_id: string; id: string }>;
    selectNextDeadline: Statement<[], { deadline: number | null }>;
  };

  constructor(db: SqliteDatabase) {
    this.stmt = {
      selectCall: db.prepare("SELECT * FROM calls WHERE tenant_id = ? AND id = ?"),
      locateCall: db.prepare("SELECT tenant_id, room_id FROM calls WHERE id = ?"),
      selectLive: db.prepare("SELECT * FROM calls WHERE status <> 'ended' ORDER BY started_at"),
      countLive: db.prepare("SELECT status, count(*) AS n FROM calls WHERE status <> 'ended' GROUP BY status"),
      selectLiveForMember: db.prepare(
        `SELECT c.* FROM calls c JOIN room_members m ON m.tenant_id = c.tenant_id AND m.room_id = c.room_id
         WHERE m.tenant_id = ? AND m.user_id = ? AND c.status <> 'ended' ORDER BY c.started_at DESC LIMIT ?`,
      ),
      selectEndedSessions: db.prepare("SELECT sid FROM call_ended_sessions WHERE call_id = ?"),
      insertEndedSession: db.prepare("INSERT INTO call_ended_sessions (call_id, sid) VALUES (?, ?) ON CONFLICT DO NOTHING"),
      selectLiveInRoom: db.prepare("SELECT * FROM calls WHERE tenant_id = ? AND room_id = ? AND status <> 'ended'"),
      selectParticipants: db.prepare(
        "SELECT user_id, joined_at, audio_on, video_on, livekit_sid FROM call_participants WHERE call_id = ? ORDER BY joined_at, user_id",
      ),
      selectInvitees: db.prepare("SELECT user_id, state FROM call_invitees WHERE call_id = ? ORDER BY user_id"),
      insertCall: db.prepare(
        `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ended_by,
           end_requested_by, end_requested_at, ring_deadline)
         VALUES (@id, @tenant_id, @room_id, @type, @status, @initiator_id, @started_at, @ended_at, @end_reason, @ended_by,
           @end_requested_by, @end_requested_at, @ring_deadline)`,
      ),
      updateCall: db.prepare(
        `UPDATE calls SET status = @status, ended_at = @ended_at, end_reason = @end_reason, ended_by = @ended_by,
           end_requested_by = @end_requested_by, end_requested_at = @end_requested_at WHERE id = @id`,
      ),
      upsertParticipant: db.prepare(
        `INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
         VALUES (@call_id, @user_id, @joined_at, @audio_on, @video_on, @livekit_sid)
         ON CONFLICT (call_id, user_id) DO UPDATE SET joined_at = excluded.joined_at,
           audio_on = excluded.audio_on, video_on = excluded.video_on, livekit_sid = excluded.livekit_sid`,
      ),
      deleteParticipant: db.prepare("DELETE FROM call_participants WHERE call_id = ? AND user_id = ?"),
      upsertInvitee: db.prepare(
        `INSERT INTO call_invitees (call_id, user_id, state) VALUES (@call_id, @user_id, @state)
         ON CONFLICT (call_id, user_id) DO UPDATE SET state = excluded.state`,
      ),
      selectDueRinging: db.prepare(
        "SELECT tenant_id, id FROM calls WHERE status = 'ringing' AND ring_deadline <= ? ORDER BY ring_deadline LIMIT ?",
      ),
      selectNextDeadline: db.prepare("SELECT min(ring_deadline) AS deadline FROM calls WHERE status = 'ringing'"),
    };
  }

  findCall(tenantId: string, callId: string): Promise<Call | undefined> {
    return Promise.resolve(this.findCallNow(tenantId, callId));
  }

  findCallForUpdate(tenantId: string, callId: string): Promise<Call | undefined> {
    return this.findCall(tenantId, callId);
  }

  findLiveCallInRoom(tenantId: string, roomId: string): Promise<Call | undefined> {
    const row = this.stmt.selectLiveInRoom.get(tenantId, roomId);
    return Promise.resolve(row && this.hydrate(row));
  }

  insertCall(call: Call): Promise<boolean> {
    try {
      this.stmt.insertCall.run(toRow(call));
    } catch (err) {
      if (isUniqueViolation(err)) return Promise.resolve(false);
      throw err;
    }
    this.writeChanges(undefined, call);
    return Promise.resolve(true);
  }

  saveCall(before: Call, after: Call): Promise<void> {
    const { id, status, ended_at, end_reason, ended_by, end_requested_by, end_requested_at } = toRow(after);
    this.stmt.updateCall.run({ id, status, ended_at, end_reason, ended_by, end_requested_by, end_requested_at });
    this.writeChanges(before, after);
    return Promise.resolve();
  }

  /** One indexed lookup, no participants: the webhook reads the call itself inside its transaction. */
  locateCall(callId: string): Promise<{ tenantId: string; roomId: string } | undefined> {
    const row = this.stmt.locateCall.get(callId);
    return Promise.resolve(row && { tenantId: row.tenant_id, roomId: row.room_id });
  }

  countLive(): Promise<{ ringing: number; active: number }> {
    const rows = this.stmt.countLive.all();
    return Promise.resolve({
      ringing: rows.find((r) => r.status === "ringing")?.n ?? 0,
      active: rows.find((r) => r.status === "active")?.n ?? 0,
    });
  }

  listLiveCallsForMember(tenantId: string, userId: string, limit: number): Promise<Call[]> {
    return Promise.resolve(this.stmt.selectLiveForMember.all(tenantId, userId, limit).map((row) => this.hydrate(row)));
  }

  listLiveCalls(): Promise<Call[]> {
    return Promise.resolve(this.stmt.selectLive.all().map((row) => this.hydrate(row)));
  }

  /** One connection, one writer: inside a unit of work nobody else can take these calls. */
  claimRingingDue(now: number, limit: number): Promise<CallKey[]> {
    return Promise.resolve(this.stmt.selectDueRinging.all(now, limit).map((r) => ({ tenantId: r.tenant_id, callId: r.id })));
  }

  nextRingDeadline(): Promise<number | undefined> {
    return Promise.resolve(this.stmt.selectNextDeadline.get()?.deadline ?? undefined);
  }

  private findCallNow(tenantId: string, callId: string): Call | undefined {
    const row = this.stmt.selectCall.get(tenantId, callId);
    return row && this.hydrate(row);
  }

  private hydrate(row: CallRow): Call {
    return callFromColumns(row, {
      participants: this.stmt.selectParticipants.all(row.id),
      invitees: this.stmt.selectInvitees.all(row.id),
      endedSessions: this.stmt.selectEndedSessions.all(row.id).map((r) => r.sid),
    });
  }

  /** Writes only what differs, so a join in a room of thousands touches two rows, not thousands. */
  private writeChanges(before: Call | undefined, after: Call): void {
    const changes = callRowChanges(before, after);
    for (const p of changes.upsertParticipants) {
      this.stmt.upsertParticipant.run({
        call_id: after.id,
        user_id: p.userId,
        joined_at: p.joinedAt,
        audio_on: p.audioOn ? 1 : 0,
        video_on: p.videoOn ? 1 : 0,
        livekit_sid: p.livekitSid,
      });
    }
    for (const gone of changes.deleteParticipants) this.stmt.deleteParticipant.run(after.id, gone);
    for (const sid of changes.addEndedSessions) this.stmt.insertEndedSession.run(after.id, sid);
    for (const i of changes.upsertInvitees) this.stmt.upsertInvitee.run({ call_id: after.id, user_id: i.userId, state: i.state });
  }
}

function toRow(call: Call): CallRow {
  return {
    id: call.id,
    tenant_id: call.tenantId,
    room_id: call.roomId,
    type: call.type,
    status: call.status,
    initiator_id: call.initiatorId,
    started_at: call.startedAt,
    ended_at: call.endedAt,
    end_reason: call.endReason,
    ended_by: call.endedBy,
    end_requested_by: call.endRequest?.by ?? null,
    end_requested_at: call.endRequest?.at ?? null,
    ring_deadline: call.ringDeadline,
  };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "SQLITE_CONSTRAINT_UNIQUE";
}
