import type { Statement } from "better-sqlite3";
import type { CallKey, CallRepository } from "../../app/ports.js";
import { nextRingAt, type Call } from "../../domain/call.js";
import type { CallHistoryRecord, HistoryPage } from "../../domain/history.js";
import { callRowChanges } from "../call-changes.js";
import {
  callFromColumns,
  historyFromColumns,
  type CallColumns,
  type HistoryColumns,
  type InviteeColumns,
  type ParticipantColumns,
} from "../rows.js";
import type { SqliteDatabase } from "./database.js";

/** `next_ring_at` is written for the ring timer; the domain derives it from the call (nextRingAt). */
type CallRow = CallColumns & { next_ring_at: number | null };
/** Flags are 0/1 in SQLite. */
type ParticipantRow = ParticipantColumns & { audio_on: number; video_on: number };
type InviteeRow = InviteeColumns;
/** A call_parties row to write; `missed_unseen` null leaves a stored row's flag as it is. */
interface PartyRow {
  call_id: string;
  user_id: string;
  tenant_id: string;
  started_at: number;
  joined: number;
  missed_unseen: number | null;
}
/** Where a page starts: strictly older than this call (started_at, id). */
type PageStart = { before_started_at: number; before_id: string };

/**
 * Both history reads walk an index newest first (call_parties_history,
 * calls_by_room) from where the page starts: EXPLAIN QUERY PLAN shows a
 * SEARCH on that index with the row comparison in it, primary-key lookups
 * for the rest, and no SCAN or TEMP B-TREE (test/unit/sqlite-migrations.test.ts
 * checks it). INDEXED BY: left to itself, the planner counts a call's joined
 * parties on the primary key, reading every member the call rang.
 */
const HISTORY = `
  SELECT c.id, c.room_id, c.type, c.status, c.initiator_id, c.started_at, c.ended_at, c.end_reason,
    (SELECT count(*) FROM call_parties j INDEXED BY call_parties_joined WHERE j.call_id = p.call_id AND j.joined) AS participant_count,
    i.state AS invite_state, p.joined, p.missed_unseen
  FROM call_parties p
  JOIN calls c ON c.id = p.call_id
  LEFT JOIN call_invitees i ON i.call_id = p.call_id AND i.user_id = p.user_id
  WHERE p.tenant_id = @tenant_id AND p.user_id = @user_id`;
const HISTORY_ORDER = "ORDER BY p.started_at DESC, p.call_id DESC LIMIT @limit";
const ROOM_CALLS = "SELECT * FROM calls WHERE tenant_id = @tenant_id AND room_id = @room_id";
const ROOM_CALLS_ORDER = "ORDER BY started_at DESC, id DESC LIMIT @limit";
/** The page reads, first page and the pages after one; exported for the test of their query plans. */
export const PAGE_QUERIES = {
  history: `${HISTORY} ${HISTORY_ORDER}`,
  historyBefore: `${HISTORY} AND (p.started_at, p.call_id) < (@before_started_at, @before_id) ${HISTORY_ORDER}`,
  roomCalls: `${ROOM_CALLS} ${ROOM_CALLS_ORDER}`,
  roomCallsBefore: `${ROOM_CALLS} AND (started_at, id) < (@before_started_at, @before_id) ${ROOM_CALLS_ORDER}`,
} as const;

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
    updateCall: Statement<Omit<CallRow, "tenant_id" | "room_id" | "type" | "initiator_id" | "started_at">>;
    upsertParticipant: Statement<ParticipantRow & { call_id: string }>;
    deleteParticipant: Statement<[string, string]>;
    upsertInvitee: Statement<InviteeRow & { call_id: string }>;
    upsertParty: Statement<PartyRow>;
    selectDueRinging: Statement<[number, number], { tenant_id: string; id: string }>;
    selectNextDeadline: Statement<[], { deadline: number | null }>;
    selectHistory: Statement<{ tenant_id: string; user_id: string; limit: number }, HistoryColumns>;
    selectHistoryBefore: Statement<{ tenant_id: string; user_id: string; limit: number } & PageStart, HistoryColumns>;
    countUnseenMissed: Statement<[string, string], { n: number }>;
    markHistorySeen: Statement<[string, string]>;
    selectRoomCalls: Statement<{ tenant_id: string; room_id: string; limit: number }, CallRow>;
    selectRoomCallsBefore: Statement<{ tenant_id: string; room_id: string; limit: number } & PageStart, CallRow>;
    selectBusy: Statement<[string, string], { user_id: string }>;
    deleteEndedBefore: Statement<[number, number]>;
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
      selectInvitees: db.prepare("SELECT user_id, state, changed_at, ring_deadline FROM call_invitees WHERE call_id = ? ORDER BY user_id"),
      insertCall: db.prepare(
        `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ended_by,
           end_requested_by, end_requested_at, ring_deadline, next_ring_at)
         VALUES (@id, @tenant_id, @room_id, @type, @status, @initiator_id, @started_at, @ended_at, @end_reason, @ended_by,
           @end_requested_by, @end_requested_at, @ring_deadline, @next_ring_at)`,
      ),
      updateCall: db.prepare(
        `UPDATE calls SET status = @status, ended_at = @ended_at, end_reason = @end_reason, ended_by = @ended_by,
           end_requested_by = @end_requested_by, end_requested_at = @end_requested_at, ring_deadline = @ring_deadline,
           next_ring_at = @next_ring_at WHERE id = @id`,
      ),
      upsertParticipant: db.prepare(
        `INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
         VALUES (@call_id, @user_id, @joined_at, @audio_on, @video_on, @livekit_sid)
         ON CONFLICT (call_id, user_id) DO UPDATE SET joined_at = excluded.joined_at,
           audio_on = excluded.audio_on, video_on = excluded.video_on, livekit_sid = excluded.livekit_sid`,
      ),
      deleteParticipant: db.prepare("DELETE FROM call_participants WHERE call_id = ? AND user_id = ?"),
      upsertInvitee: db.prepare(
        `INSERT INTO call_invitees (call_id, user_id, state, changed_at, ring_deadline)
         VALUES (@call_id, @user_id, @state, @changed_at, @ring_deadline)
         ON CONFLICT (call_id, user_id) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at,
           ring_deadline = excluded.ring_deadline`,
      ),
      // A stored party's `joined` only ever turns true; its `missed_unseen` changes only when given.
      // A stored row these would leave as it is is not written.
      upsertParty: db.prepare(
        `INSERT INTO call_parties (call_id, user_id, tenant_id, started_at, joined, missed_unseen)
         VALUES (@call_id, @user_id, @tenant_id, @started_at, @joined, coalesce(@missed_unseen, 0))
         ON CONFLICT (call_id, user_id) DO UPDATE SET joined = max(joined, excluded.joined),
           missed_unseen = coalesce(@missed_unseen, missed_unseen)
         WHERE call_parties.joined < excluded.joined OR call_parties.missed_unseen IS NOT coalesce(@missed_unseen, call_parties.missed_unseen)`,
      ),
      // next_ring_at is set only while something of a live call rings (calls_by_next_ring).
      selectDueRinging: db.prepare("SELECT tenant_id, id FROM calls WHERE next_ring_at <= ? ORDER BY next_ring_at LIMIT ?"),
      selectNextDeadline: db.prepare("SELECT min(next_ring_at) AS deadline FROM calls WHERE next_ring_at IS NOT NULL"),
      selectHistory: db.prepare(PAGE_QUERIES.history),
      selectHistoryBefore: db.prepare(PAGE_QUERIES.historyBefore),
      countUnseenMissed: db.prepare("SELECT count(*) AS n FROM call_parties WHERE tenant_id = ? AND user_id = ? AND missed_unseen"),
      markHistorySeen: db.prepare("UPDATE call_parties SET missed_unseen = 0 WHERE tenant_id = ? AND user_id = ? AND missed_unseen"),
      selectRoomCalls: db.prepare(PAGE_QUERIES.roomCalls),
      selectRoomCallsBefore: db.prepare(PAGE_QUERIES.roomCallsBefore),
      // Only a live call has participants; the join keeps to the tenant's calls. EXISTS stops at a user's first live call.
      selectBusy: db.prepare(
        `SELECT u.value AS user_id FROM json_each(?) u WHERE EXISTS (
           SELECT 1 FROM call_participants p JOIN calls c ON c.id = p.call_id
           WHERE p.user_id = u.value AND c.tenant_id = ? AND c.status <> 'ended')`,
      ),
      // Oldest first; recordings (and their media and transcripts) outlive retention, so their calls stay.
      deleteEndedBefore: db.prepare(
        `DELETE FROM calls WHERE id IN (
           SELECT c.id FROM calls c WHERE c.status = 'ended' AND c.ended_at < ?
             AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = c.id)
           ORDER BY c.ended_at LIMIT ?)`,
      ),
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

  listHistory(tenantId: string, userId: string, page: HistoryPage): Promise<CallHistoryRecord[]> {
    const key = { tenant_id: tenantId, user_id: userId, limit: page.limit };
    const rows = page.before
      ? this.stmt.selectHistoryBefore.all({ ...key, ...pageStart(page.before) })
      : this.stmt.selectHistory.all(key);
    return Promise.resolve(rows.map(historyFromColumns));
  }

  countUnseenMissed(tenantId: string, userId: string): Promise<number> {
    return Promise.resolve(this.stmt.countUnseenMissed.get(tenantId, userId)?.n ?? 0);
  }

  markHistorySeen(tenantId: string, userId: string): Promise<number> {
    return Promise.resolve(this.stmt.markHistorySeen.run(tenantId, userId).changes);
  }

  listRoomCalls(tenantId: string, roomId: string, page: HistoryPage): Promise<Call[]> {
    const key = { tenant_id: tenantId, room_id: roomId, limit: page.limit };
    const rows = page.before
      ? this.stmt.selectRoomCallsBefore.all({ ...key, ...pageStart(page.before) })
      : this.stmt.selectRoomCalls.all(key);
    return Promise.resolve(rows.map((row) => this.hydrate(row)));
  }

  /** Any number of ids is one JSON array parameter (no limit on bound variables to run into). */
  findBusy(tenantId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return Promise.resolve(new Set());
    return Promise.resolve(new Set(this.stmt.selectBusy.all(JSON.stringify(userIds), tenantId).map((r) => r.user_id)));
  }

  /** Children (participants, invitees, ended sessions, parties) go with their call: ON DELETE CASCADE. */
  deleteEndedBefore(before: number, limit: number): Promise<number> {
    return Promise.resolve(this.stmt.deleteEndedBefore.run(before, limit).changes);
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
    if (before && changes.callRow) {
      const { id, status, ended_at, end_reason, ended_by, end_requested_by, end_requested_at, ring_deadline, next_ring_at } = toRow(after);
      this.stmt.updateCall.run({ id, status, ended_at, end_reason, ended_by, end_requested_by, end_requested_at, ring_deadline, next_ring_at });
    }
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
    for (const i of changes.upsertInvitees) {
      this.stmt.upsertInvitee.run({ call_id: after.id, user_id: i.userId, state: i.state, changed_at: i.changedAt, ring_deadline: i.ringDeadline });
    }
    for (const party of changes.upsertParties) {
      this.stmt.upsertParty.run({
        call_id: after.id,
        user_id: party.userId,
        tenant_id: after.tenantId,
        started_at: after.startedAt,
        joined: party.joined ? 1 : 0,
        missed_unseen: party.missedUnseen === undefined ? null : party.missedUnseen ? 1 : 0,
      });
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
    next_ring_at: nextRingAt(call),
  };
}

function pageStart(before: NonNullable<HistoryPage["before"]>): PageStart {
  return { before_started_at: before.startedAt, before_id: before.callId };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "SQLITE_CONSTRAINT_UNIQUE";
}
