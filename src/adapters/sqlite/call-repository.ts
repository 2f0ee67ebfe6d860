import type { Statement } from "better-sqlite3";
import type { OutboundEvent } from "../../app/events.js";
import type { CallRepository, CallKey } from "../../app/ports.js";
import type { Call, CallStatus, CallType, EndReason, Invitee, InviteState, Participant, Transition } from "../../domain/call.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import type { SqliteDatabase } from "./database.js";
import { enlistWrite } from "./group-commit.js";

interface CallRow {
  id: string;
  tenant_id: string;
  room_id: string;
  type: CallType;
  status: CallStatus;
  initiator_id: string;
  started_at: number;
  ended_at: number | null;
  end_reason: EndReason | null;
  ended_by: string | null;
  end_requested_by: string | null;
  end_requested_at: number | null;
  ring_deadline: number;
}

interface ParticipantRow {
  user_id: string;
  joined_at: number;
  audio_on: number;
  video_on: number;
  livekit_sid: string | null;
}

interface InviteeRow {
  user_id: string;
  state: InviteState;
}

export interface CallRepositoryOptions {
  /** The events of a transition, written to the outbox in the same transaction as the change. */
  readonly events: (transition: Transition) => readonly OutboundEvent[];
  /**
   * Called after a commit of this repository's own that wrote events. With a
   * GroupCommit attached (the service) writes commit with their group, which
   * tells the relay instead; this is for a repository used on its own.
   */
  readonly afterCommit?: () => void;
}

/**
 * Calls in SQLite. Every write is one IMMEDIATE transaction (the write lock is
 * taken up front, no upgrade deadlock) holding the change and its events, or
 * a SAVEPOINT in the turn's group when a GroupCommit is attached.
 */
export class SqliteCallRepository implements CallRepository {
  /** The write transactions, run IMMEDIATE (a SAVEPOINT inside a group). */
  private readonly tx: {
    insert: (transition: Transition) => void;
    update: (tenantId: string, callId: string, change: (call: Call) => Transition) => Transition;
    oncePerWebhook: (eventId: string, receivedAt: number, work: () => void) => "processed" | "duplicate";
  };
  private readonly stmt: {
    selectCall: Statement<[string, string], CallRow>;
    locateCall: Statement<[string], { tenant_id: string; room_id: string }>;
    selectLive: Statement<[], CallRow>;
    selectLiveForMember: Statement<[string, string, number], CallRow>;
    countLive: Statement<[], { status: string; n: number }>;
    insertWebhook: Statement<[string, number]>;
    selectEndedSessions: Statement<[string], { sid: string }>;
    insertEndedSession: Statement<[string, string]>;
    pruneWebhooks: Statement<[number]>;
    selectLiveInRoom: Statement<[string, string], CallRow>;
    selectParticipants: Statement<[string], ParticipantRow>;
    selectInvitees: Statement<[string], InviteeRow>;
    insertCall: Statement<CallRow>;
    updateCall: Statement<Omit<CallRow, "tenant_id" | "room_id" | "type" | "initiator_id" | "started_at" | "ring_deadline">>;
    upsertParticipant: Statement<ParticipantRow & { call_id: string }>;
    deleteParticipant: Statement<[string, string]>;
    upsertInvitee: Statement<InviteeRow & { call_id: string }>;
    insertEvent: Statement<[string, string, string, number]>;
    selectDueRinging: Statement<[number], { tenant_id: string; id: string }>;
    selectNextDeadline: Statement<[], { deadline: number | null }>;
  };

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: CallRepositoryOptions,
  ) {
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
      insertWebhook: db.prepare("INSERT INTO webhook_events (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"),
      pruneWebhooks: db.prepare("DELETE FROM webhook_events WHERE received_at < ?"),
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
      insertEvent: db.prepare("INSERT INTO outbox (id, subject, payload, created_at) VALUES (?, ?, ?, ?)"),
      selectDueRinging: db.prepare(
        "SELECT tenant_id, id FROM calls WHERE status = 'ringing' AND ring_deadline <= ? ORDER BY ring_deadline",
      ),
      selectNextDeadline: db.prepare("SELECT min(ring_deadline) AS deadline FROM calls WHERE status = 'ringing'"),
    };
    // Built once: better-sqlite3 makes four wrapper functions per db.transaction() call.
    this.tx = {
      insert: db.transaction((transition: Transition) => {
        this.stmt.insertCall.run(toRow(transition.call));
        this.writeChanges(undefined, transition.call);
        this.writeEvents(transition);
      }).immediate,
      update: db.transaction((tenantId: string, callId: string, change: (call: Call) => Transition): Transition => {
        const current = this.findCall(tenantId, callId);
        if (!current) throw new CallError(CallErrorCode.NotFound, `call ${callId} not found`);
        const next = change(current);
        if (next.call !== current) {
          const { id, status, ended_at, end_reason, ended_by, end_requested_by, end_requested_at } = toRow(next.call);
          this.stmt.updateCall.run({ id, status, ended_at, end_reason, ended_by, end_requested_by, end_requested_at });
          this.writeChanges(current, next.call);
        }
        this.writeEvents(next);
        return next;
      }).immediate,
      oncePerWebhook: db.transaction((eventId: string, receivedAt: number, work: () => void): "processed" | "duplicate" => {
        if (this.stmt.insertWebhook.run(eventId, receivedAt).changes === 0) return "duplicate";
        work();
        return "processed";
      }).immediate,
    };
  }

  findCall(tenantId: string, callId: string): Call | undefined {
    const row = this.stmt.selectCall.get(tenantId, callId);
    return row && this.hydrate(row);
  }

  findLiveCallInRoom(tenantId: string, roomId: string): Call | undefined {
    const row = this.stmt.selectLiveInRoom.get(tenantId, roomId);
    return row && this.hydrate(row);
  }

  insertCall(transition: Transition): boolean {
    try {
      enlistWrite(this.db);
      this.tx.insert(transition);
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
    if (!this.db.inTransaction) this.options.afterCommit?.();
    return true;
  }

  updateCall(tenantId: string, callId: string, change: (call: Call) => Transition): Transition {
    enlistWrite(this.db);
    const transition = this.tx.update(tenantId, callId, change);
    // Inside an enclosing transaction (a group, oncePerWebhook) the commit comes later and tells the relay then.
    if (transition.events.length > 0 && !this.db.inTransaction) this.options.afterCommit?.();
    return transition;
  }

  /** One indexed lookup, no participants: the webhook reads the call itself inside its transaction. */
  locateCall(callId: string): { tenantId: string; roomId: string } | undefined {
    const row = this.stmt.locateCall.get(callId);
    return row && { tenantId: row.tenant_id, roomId: row.room_id };
  }

  /** For the live-calls gauge. */
  countLive(): { ringing: number; active: number } {
    const rows = this.stmt.countLive.all();
    return {
      ringing: rows.find((r) => r.status === "ringing")?.n ?? 0,
      active: rows.find((r) => r.status === "active")?.n ?? 0,
    };
  }

  listLiveCallsForMember(tenantId: string, userId: string, limit: number): Call[] {
    return this.stmt.selectLiveForMember.all(tenantId, userId, limit).map((row) => this.hydrate(row));
  }

  listLiveCalls(): Call[] {
    return this.stmt.selectLive.all().map((row) => this.hydrate(row));
  }

  /**
   * Runs `work` (which may update calls) in one transaction with the record
   * that webhook `eventId` was processed; a webhook seen before runs nothing.
   */
  oncePerWebhook(eventId: string, receivedAt: number, work: () => void): "processed" | "duplicate" {
    enlistWrite(this.db);
    const outcome = this.tx.oncePerWebhook(eventId, receivedAt, work);
    if (outcome === "processed" && !this.db.inTransaction) this.options.afterCommit?.();
    return outcome;
  }

  pruneWebhookIds(before: number): number {
    return this.stmt.pruneWebhooks.run(before).changes;
  }

  listRingingDue(now: number): CallKey[] {
    return this.stmt.selectDueRinging.all(now).map((r) => ({ tenantId: r.tenant_id, callId: r.id }));
  }

  nextRingDeadline(): number | undefined {
    return this.stmt.selectNextDeadline.get()?.deadline ?? undefined;
  }

  private writeEvents(transition: Transition): void {
    for (const event of this.options.events(transition)) {
      this.stmt.insertEvent.run(event.id, event.subject, event.payload, event.createdAt);
    }
  }

  private hydrate(row: CallRow): Call {
    return {
      id: row.id,
      tenantId: row.tenant_id,
      roomId: row.room_id,
      type: row.type,
      status: row.status,
      initiatorId: row.initiator_id,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      endReason: row.end_reason,
      endedBy: row.ended_by,
      endRequest:
        row.end_requested_by === null || row.end_requested_at === null
          ? null
          : { by: row.end_requested_by, at: row.end_requested_at },
      ringDeadline: row.ring_deadline,
      participants: this.stmt.selectParticipants.all(row.id).map(
        (p): Participant => ({
          userId: p.user_id,
          joinedAt: p.joined_at,
          audioOn: p.audio_on === 1,
          videoOn: p.video_on === 1,
          livekitSid: p.livekit_sid,
        }),
      ),
      invitees: this.stmt.selectInvitees.all(row.id).map((i): Invitee => ({ userId: i.user_id, state: i.state })),
      endedSessions: this.stmt.selectEndedSessions.all(row.id).map((r) => r.sid),
    };
  }

  /** Writes only what differs, so a join in a room of thousands touches two rows, not thousands. */
  private writeChanges(before: Call | undefined, after: Call): void {
    const oldParticipants = new Map(before?.participants.map((p) => [p.userId, p]));
    for (const p of after.participants) {
      const old = oldParticipants.get(p.userId);
      oldParticipants.delete(p.userId);
      if (
        old &&
        old.joinedAt === p.joinedAt &&
        old.audioOn === p.audioOn &&
        old.videoOn === p.videoOn &&
        old.livekitSid === p.livekitSid
      ) {
        continue;
      }
      this.stmt.upsertParticipant.run({
        call_id: after.id,
        user_id: p.userId,
        joined_at: p.joinedAt,
        audio_on: p.audioOn ? 1 : 0,
        video_on: p.videoOn ? 1 : 0,
        livekit_sid: p.livekitSid,
      });
    }
    for (const gone of oldParticipants.keys()) this.stmt.deleteParticipant.run(after.id, gone);

    const known = new Set(before?.endedSessions);
    for (const sid of after.endedSessions) if (!known.has(sid)) this.stmt.insertEndedSession.run(after.id, sid);

    const oldStates = new Map(before?.invitees.map((i) => [i.userId, i.state]));
    for (const i of after.invitees) {
      if (oldStates.get(i.userId) === i.state) continue;
      this.stmt.upsertInvitee.run({ call_id: after.id, user_id: i.userId, state: i.state });
    }
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
