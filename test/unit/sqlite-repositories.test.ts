import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteCallRepository } from "../../src/adapters/sqlite/call-repository.js";
import { openDatabase, type SqliteDatabase } from "../../src/adapters/sqlite/database.js";
import { SqliteDirectoryRepository } from "../../src/adapters/sqlite/directory-repository.js";
import { migrations } from "../../src/adapters/sqlite/migrations/index.js";
import { endCall, joinCall, leaveCall, rejectCall, startCall, type Call, type Transition } from "../../src/domain/call.js";
import { CallError, CallErrorCode } from "../../src/domain/errors.js";
import type { OutboundEvent } from "../../src/app/events.js";
import { SqliteOutboxStore } from "../../src/adapters/sqlite/outbox-store.js";
import { timeOutCall } from "../../src/domain/call.js";

const T0 = 1_700_000_000_000;

/** One outbox row per domain event, named after it, so tests can see what was written with each change. */
let eventCounter = 0;
function outboxEventsOf(transition: Transition): OutboundEvent[] {
  return transition.events.map((e) => ({
    id: `evt-${++eventCounter}`,
    subject: `test.${transition.call.id}`,
    payload: JSON.stringify(e),
    createdAt: T0,
  }));
}
const LATEST = migrations.at(-1)!.version;

function callErrorOf(fn: () => unknown): CallError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CallError);
  return caught as CallError;
}

describe("openDatabase and migrations", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "calls-sqlite-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("brings an in-memory database to the latest schema version", () => {
    const db = openDatabase(":memory:");
    try {
      expect(LATEST).toBe(6);
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST);
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => (r as { name: string }).name);
      expect(tables).toEqual(["call_ended_sessions", "call_invitees", "call_participants", "calls", "media", "outbox", "recordings", "room_members", "rooms", "sqlite_sequence", "tenant_policies", "transcripts", "webhook_events"]);
      expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  it("creates the parent directory, and re-opening a file is idempotent and keeps the data", () => {
    const path = join(dir, "nested", "calls.db");
    const first = openDatabase(path);
    expect(first.pragma("user_version", { simple: true })).toBe(LATEST);
    expect(first.pragma("journal_mode", { simple: true })).toBe("wal");
    new SqliteDirectoryRepository(first, () => T0).putRoom("t1", "r1", [{ userId: "alice", powerLevel: 100 }]);
    first.close();

    const second = openDatabase(path);
    try {
      expect(second.pragma("user_version", { simple: true })).toBe(LATEST);
      expect(new SqliteDirectoryRepository(second).findMember("t1", "r1", "alice")).toEqual({ userId: "alice", powerLevel: 100 });
    } finally {
      second.close();
    }
    // And a third time, for good measure: still no migration re-run (CREATE TABLE would fail).
    openDatabase(path).close();
  });

  it("refuses a database written by a newer build, with a clear error", () => {
    const path = join(dir, "newer.db");
    const raw = new Database(path);
    raw.pragma(`user_version = ${LATEST + 41}`);
    raw.close();
    expect(() => openDatabase(path)).toThrow(
      `database schema version ${LATEST + 41} is newer than this build knows (${LATEST}); refusing to start`,
    );
    // Refused before anything was changed: the file is still in rollback-journal mode.
    const after = new Database(path);
    expect(after.pragma("journal_mode", { simple: true })).toBe("delete");
    after.close();
  });

  it("applies only the migrations above the stored version, each once", () => {
    const db = openDatabase(":memory:", [
      { version: 1, name: "one", sql: "CREATE TABLE one (x INTEGER);" },
      { version: 2, name: "two", sql: "CREATE TABLE two (x INTEGER);" },
    ]);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(2);
    } finally {
      db.close();
    }
  });

  it("a failing migration leaves the previous version and no partial schema", () => {
    const path = join(dir, "broken.db");
    const good = { version: 1, name: "one", sql: "CREATE TABLE one (x INTEGER);" };
    const bad = { version: 2, name: "two", sql: "CREATE TABLE two (x INTEGER); CREATE TABLE one (y INTEGER);" };
    expect(() => openDatabase(path, [good, bad])).toThrow(/table one already exists/);
    const raw = new Database(path);
    try {
      expect(raw.pragma("user_version", { simple: true })).toBe(1);
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'two'").get()).toBeUndefined();
    } finally {
      raw.close();
    }
  });
});

describe("SqliteDirectoryRepository", () => {
  let db: SqliteDatabase;
  let directory: SqliteDirectoryRepository;
  beforeEach(() => {
    db = openDatabase(":memory:");
    directory = new SqliteDirectoryRepository(db, () => T0);
  });
  afterEach(() => db.close());

  it("putRoom stores the member list with power levels", () => {
    directory.putRoom("t1", "r1", [
      { userId: "carol", powerLevel: 0 },
      { userId: "alice", powerLevel: 100 },
      { userId: "bob", powerLevel: 50 },
    ]);
    expect(directory.listMemberIds("t1", "r1")).toEqual(["alice", "bob", "carol"]);
    expect(directory.findMember("t1", "r1", "alice")).toEqual({ userId: "alice", powerLevel: 100 });
    expect(directory.findMember("t1", "r1", "bob")).toEqual({ userId: "bob", powerLevel: 50 });
    expect(directory.findMember("t1", "r1", "carol")).toEqual({ userId: "carol", powerLevel: 0 });
  });

  it("putRoom replaces the whole member list: members left out are gone", () => {
    directory.putRoom("t1", "r1", [
      { userId: "alice", powerLevel: 100 },
      { userId: "bob", powerLevel: 0 },
    ]);
    directory.putRoom("t1", "r1", [
      { userId: "bob", powerLevel: 50 },
      { userId: "dave", powerLevel: 0 },
    ]);
    expect(directory.listMemberIds("t1", "r1")).toEqual(["bob", "dave"]);
    expect(directory.findMember("t1", "r1", "alice")).toBeUndefined();
    expect(directory.findMember("t1", "r1", "bob")).toEqual({ userId: "bob", powerLevel: 50 });
  });

  it("putRoom with an empty list empties the room", () => {
    directory.putRoom("t1", "r1", [{ userId: "alice", powerLevel: 100 }]);
    directory.putRoom("t1", "r1", []);
    expect(directory.listMemberIds("t1", "r1")).toEqual([]);
  });

  it("putMember adds a member to a room it creates if needed, and upserts the power level", () => {
    directory.putMember("t1", "r9", { userId: "erin", powerLevel: 0 });
    expect(directory.findMember("t1", "r9", "erin")).toEqual({ userId: "erin", powerLevel: 0 });
    directory.putMember("t1", "r9", { userId: "erin", powerLevel: 100 });
    expect(directory.findMember("t1", "r9", "erin")).toEqual({ userId: "erin", powerLevel: 100 });
    expect(directory.listMemberIds("t1", "r9")).toEqual(["erin"]);
  });

  it("putMember keeps the other members", () => {
    directory.putRoom("t1", "r1", [{ userId: "alice", powerLevel: 100 }]);
    directory.putMember("t1", "r1", { userId: "bob", powerLevel: 0 });
    expect(directory.listMemberIds("t1", "r1")).toEqual(["alice", "bob"]);
  });

  it("removeMember removes only that member, and removing an absent one is harmless", () => {
    directory.putRoom("t1", "r1", [
      { userId: "alice", powerLevel: 100 },
      { userId: "bob", powerLevel: 0 },
    ]);
    directory.removeMember("t1", "r1", "bob");
    expect(directory.findMember("t1", "r1", "bob")).toBeUndefined();
    expect(directory.listMemberIds("t1", "r1")).toEqual(["alice"]);
    directory.removeMember("t1", "r1", "nobody");
    directory.removeMember("t1", "no-room", "alice");
    expect(directory.listMemberIds("t1", "r1")).toEqual(["alice"]);
  });

  it("tenants are isolated: tenant B cannot see tenant A's member of a room with the same id", () => {
    directory.putRoom("tenant-a", "general", [{ userId: "alice", powerLevel: 100 }]);
    expect(directory.findMember("tenant-b", "general", "alice")).toBeUndefined();
    expect(directory.listMemberIds("tenant-b", "general")).toEqual([]);

    directory.putRoom("tenant-b", "general", [{ userId: "bob", powerLevel: 0 }]);
    expect(directory.listMemberIds("tenant-a", "general")).toEqual(["alice"]);
    expect(directory.listMemberIds("tenant-b", "general")).toEqual(["bob"]);

    directory.removeMember("tenant-b", "general", "alice");
    expect(directory.findMember("tenant-a", "general", "alice")).toEqual({ userId: "alice", powerLevel: 100 });
  });

  it("a tenant without a policy gets recordings and transcription off", () => {
    expect(directory.getTenantPolicy("t1")).toEqual({ recordingsEnabled: false, transcriptionEnabled: false });
  });

  it("putTenantPolicy stores and replaces a tenant's policy, per tenant", () => {
    directory.putTenantPolicy("t1", { recordingsEnabled: true, transcriptionEnabled: true });
    expect(directory.getTenantPolicy("t1")).toEqual({ recordingsEnabled: true, transcriptionEnabled: true });
    expect(directory.getTenantPolicy("t2")).toEqual({ recordingsEnabled: false, transcriptionEnabled: false });
    directory.putTenantPolicy("t1", { recordingsEnabled: true, transcriptionEnabled: false });
    expect(directory.getTenantPolicy("t1")).toEqual({ recordingsEnabled: true, transcriptionEnabled: false });
  });
});

describe("SqliteCallRepository", () => {
  let db: SqliteDatabase;
  let calls: SqliteCallRepository;
  beforeEach(() => {
    db = openDatabase(":memory:");
    calls = new SqliteCallRepository(db, { events: outboxEventsOf });
  });
  afterEach(() => db.close());

  function started(id = "call-1", roomId = "room-1", tenantId = "t1", memberIds = ["alice", "bob", "carol"]): Transition {
    return startCall({ id, tenantId, roomId, type: "video", initiatorId: "alice", memberIds, now: T0, ringTimeoutMs: 45_000 });
  }

  it("insertCall then findCall round-trips the whole call", () => {
    const transition = started();
    expect(calls.insertCall(transition)).toBe(true);
    expect(calls.findCall("t1", "call-1")).toEqual(transition.call);
    expect(calls.findCall("t1", "call-1")).toEqual({
      id: "call-1",
      tenantId: "t1",
      roomId: "room-1",
      type: "video",
      status: "ringing",
      initiatorId: "alice",
      startedAt: T0,
      endedAt: null,
      endReason: null,
      endedBy: null,
      endRequest: null,
      ringDeadline: T0 + 45_000,
      participants: [{ userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null }],
      invitees: [
        { userId: "bob", state: "ringing" },
        { userId: "carol", state: "ringing" },
      ],
      endedSessions: [],
    });
  });

  it("round-trips participants' media state and every invitee state after updates", () => {
    calls.insertCall(started("call-1", "room-1", "t1", ["alice", "bob", "carol", "dave"]));
    calls.updateCall("t1", "call-1", (c) => joinCall(c, "bob", T0 + 1_000));
    calls.updateCall("t1", "call-1", (c) => rejectCall(c, "carol", T0 + 2_000));
    calls.updateCall("t1", "call-1", (c) => ({
      call: {
        ...c,
        participants: c.participants.map((p) => (p.userId === "bob" ? { ...p, audioOn: true, videoOn: true, livekitSid: "PA_bob" } : p)),
        endedSessions: ["PA_old"],
      },
      events: [],
    }));
    expect(calls.findCall("t1", "call-1")).toEqual({
      id: "call-1",
      tenantId: "t1",
      roomId: "room-1",
      type: "video",
      status: "active",
      initiatorId: "alice",
      startedAt: T0,
      endedAt: null,
      endReason: null,
      endedBy: null,
      endRequest: null,
      ringDeadline: T0 + 45_000,
      participants: [
        { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null },
        { userId: "bob", joinedAt: T0 + 1_000, audioOn: true, videoOn: true, livekitSid: "PA_bob" },
      ],
      invitees: [
        { userId: "bob", state: "joined" },
        { userId: "carol", state: "rejected" },
        { userId: "dave", state: "ringing" },
      ],
      endedSessions: ["PA_old"],
    });
  });

  it("findCall with another tenant's id, or an unknown id, returns undefined", () => {
    calls.insertCall(started());
    expect(calls.findCall("t2", "call-1")).toBeUndefined();
    expect(calls.findCall("t1", "call-404")).toBeUndefined();
  });

  it("findLiveCallInRoom finds the live call of that tenant's room only", () => {
    calls.insertCall(started());
    expect(calls.findLiveCallInRoom("t1", "room-1")?.id).toBe("call-1");
    expect(calls.findLiveCallInRoom("t2", "room-1")).toBeUndefined();
    expect(calls.findLiveCallInRoom("t1", "room-2")).toBeUndefined();
  });

  it("refuses a second live call in the same room, storing nothing of it", () => {
    expect(calls.insertCall(started("call-1"))).toBe(true);
    expect(calls.insertCall(started("call-2"))).toBe(false);
    expect(calls.findCall("t1", "call-2")).toBeUndefined();
    expect(db.prepare("SELECT COUNT(*) AS n FROM call_participants WHERE call_id = 'call-2'").get()).toEqual({ n: 0 });
    expect(db.prepare("SELECT COUNT(*) AS n FROM call_invitees WHERE call_id = 'call-2'").get()).toEqual({ n: 0 });
    expect(calls.findLiveCallInRoom("t1", "room-1")?.id).toBe("call-1");
  });

  it("allows a live call in the same room id of another tenant, and in another room", () => {
    expect(calls.insertCall(started("call-1", "room-1", "t1"))).toBe(true);
    expect(calls.insertCall(started("call-2", "room-1", "t2"))).toBe(true);
    expect(calls.insertCall(started("call-3", "room-2", "t1"))).toBe(true);
  });

  it("allows a new call in the room once the first one ended", () => {
    calls.insertCall(started("call-1"));
    calls.updateCall("t1", "call-1", (c) => endCall(c, "ended", T0 + 5_000));
    expect(calls.insertCall(started("call-2"))).toBe(true);
    expect(calls.findLiveCallInRoom("t1", "room-1")?.id).toBe("call-2");
    expect(calls.findCall("t1", "call-1")?.status).toBe("ended");
  });

  it("updateCall applies a transition, returns it, and stores the result", () => {
    calls.insertCall(started());
    const transition = calls.updateCall("t1", "call-1", (c) => joinCall(c, "bob", T0 + 1_000));
    expect(transition.events).toEqual([
      { type: "participant_joined", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "answered" },
      { type: "active" },
    ]);
    expect(calls.findCall("t1", "call-1")).toEqual(transition.call);
    expect(calls.findCall("t1", "call-1")?.status).toBe("active");
  });

  it("updateCall stores an ended call: end time, reason, no participants, stopped invitees", () => {
    calls.insertCall(started());
    const { call } = calls.updateCall("t1", "call-1", (c) => leaveCall(c, "alice", T0 + 9_000));
    const stored = calls.findCall("t1", "call-1");
    expect(stored).toEqual(call);
    expect(stored).toMatchObject({ status: "ended", endedAt: T0 + 9_000, endReason: "canceled", participants: [] });
    expect(stored?.invitees).toEqual([
      { userId: "bob", state: "stopped" },
      { userId: "carol", state: "stopped" },
    ]);
  });

  it("a no-op transition (rejoin) writes nothing and returns no events", () => {
    calls.insertCall(started());
    const before = calls.findCall("t1", "call-1");
    const transition = calls.updateCall("t1", "call-1", (c) => joinCall(c, "alice", T0 + 1_000));
    expect(transition.events).toEqual([]);
    expect(calls.findCall("t1", "call-1")).toEqual(before);
  });

  it("a transition that throws leaves the stored call unchanged and the error reaches the caller", () => {
    calls.insertCall(started());
    const before = calls.findCall("t1", "call-1");
    const error = callErrorOf(() => calls.updateCall("t1", "call-1", (c) => rejectCall(c, "mallory", T0 + 1_000)));
    expect(error.code).toBe(CallErrorCode.NotRinging);
    expect(calls.findCall("t1", "call-1")).toEqual(before);
  });

  it("a write that fails half-way rolls back the whole update", () => {
    calls.insertCall(started());
    const before = calls.findCall("t1", "call-1");
    // The call row and participants are written before the invitees; the bad invitee state
    // fails the CHECK constraint after them, so only atomicity keeps the call as it was.
    expect(() =>
      calls.updateCall("t1", "call-1", (c) => {
        const ended = endCall(c, "ended", T0 + 1_000).call;
        const broken: Call = { ...ended, invitees: [{ userId: "bob", state: "bogus" as "ringing" }] };
        return { call: broken, events: [] };
      }),
    ).toThrow(/CHECK constraint failed/);
    expect(calls.findCall("t1", "call-1")).toEqual(before);
    expect(calls.findLiveCallInRoom("t1", "room-1")?.id).toBe("call-1");
  });

  it("updateCall of an unknown call, or another tenant's call, throws SW_CALL_NOT_FOUND without calling change", () => {
    calls.insertCall(started());
    let called = false;
    const change = (c: Call): Transition => {
      called = true;
      return endCall(c, "ended", T0);
    };
    expect(callErrorOf(() => calls.updateCall("t2", "call-1", change)).code).toBe("SW_CALL_NOT_FOUND");
    expect(callErrorOf(() => calls.updateCall("t1", "call-404", change)).code).toBe("SW_CALL_NOT_FOUND");
    expect(called).toBe(false);
    expect(calls.findCall("t1", "call-1")?.status).toBe("ringing");
  });

  it("updateCall on an ended call throws SW_CALL_ENDED from the domain and changes nothing", () => {
    calls.insertCall(started());
    calls.updateCall("t1", "call-1", (c) => endCall(c, "no_answer", T0 + 30_000));
    const before = calls.findCall("t1", "call-1");
    expect(callErrorOf(() => calls.updateCall("t1", "call-1", (c) => joinCall(c, "bob", T0 + 31_000))).code).toBe(
      "SW_CALL_ENDED",
    );
    expect(calls.findCall("t1", "call-1")).toEqual(before);
  });
});

describe("SqliteCallRepository events and ring deadlines", () => {
  let db: SqliteDatabase;
  let calls: SqliteCallRepository;
  let outbox: SqliteOutboxStore;
  let commits: number;
  beforeEach(() => {
    db = openDatabase(":memory:");
    commits = 0;
    calls = new SqliteCallRepository(db, { events: outboxEventsOf, afterCommit: () => commits++ });
    outbox = new SqliteOutboxStore(db);
  });
  afterEach(() => db.close());

  const start = (id: string, now = T0, ringTimeoutMs = 45_000) =>
    startCall({ id, tenantId: "t1", roomId: `room-${id}`, type: "audio", initiatorId: "alice", memberIds: ["alice", "bob"], now, ringTimeoutMs });

  const typesOf = () => outbox.pending(100).map((e) => (JSON.parse(e.payload) as { type: string }).type);

  it("writes a change's events in its transaction, in order, and tells the relay after commit", () => {
    calls.insertCall(start("c1"));
    expect(typesOf()).toEqual(["started", "participant_joined", "invited"]);
    expect(commits).toBe(1);
    calls.updateCall("t1", "c1", (c) => joinCall(c, "bob", T0 + 1));
    expect(typesOf()).toEqual(["started", "participant_joined", "invited", "participant_joined", "ring_stopped", "active"]);
    expect(commits).toBe(2);
  });

  it("a failed change writes no events and wakes nobody", () => {
    calls.insertCall(start("c1"));
    const before = outbox.pending(100);
    expect(() => calls.updateCall("t1", "c1", (c) => rejectCall(c, "alice", T0))).toThrow(CallError);
    expect(outbox.pending(100)).toEqual(before);
    expect(commits).toBe(1);
  });

  it("a refused second live call in a room writes no events", () => {
    calls.insertCall(start("c1"));
    const other = startCall({ id: "c2", tenantId: "t1", roomId: "room-c1", type: "audio", initiatorId: "bob", memberIds: ["alice", "bob"], now: T0, ringTimeoutMs: 45_000 });
    expect(calls.insertCall(other)).toBe(false);
    expect(outbox.pending(100)).toHaveLength(3);
  });

  it("lists ringing calls past their deadline, earliest first, and the next deadline", () => {
    calls.insertCall(start("late", T0, 30_000));
    calls.insertCall(start("early", T0, 10_000));
    calls.insertCall(start("answered", T0, 5_000));
    calls.updateCall("t1", "answered", (c) => joinCall(c, "bob", T0 + 1));
    expect(calls.nextRingDeadline()).toBe(T0 + 10_000);
    expect(calls.listRingingDue(T0 + 9_999)).toEqual([]);
    expect(calls.listRingingDue(T0 + 30_000)).toEqual([
      { tenantId: "t1", callId: "early" },
      { tenantId: "t1", callId: "late" },
    ]);
    calls.updateCall("t1", "early", (c) => timeOutCall(c, T0 + 10_000));
    expect(calls.findCall("t1", "early")).toMatchObject({ status: "ended", endReason: "no_answer" });
    expect(calls.nextRingDeadline()).toBe(T0 + 30_000);
  });

  it("the outbox reports its backlog, marks events sent and prunes old sent ones", () => {
    calls.insertCall(start("c1"));
    expect(outbox.backlog()).toEqual({ pending: 3, oldestCreatedAt: T0 });
    outbox.markSent(outbox.pending(2).map((e) => e.seq), T0 + 100);
    expect(outbox.backlog()).toEqual({ pending: 1, oldestCreatedAt: T0 });
    expect(outbox.pruneSent(T0 + 100)).toBe(0);
    expect(outbox.pruneSent(T0 + 101)).toBe(2);
  });
});
