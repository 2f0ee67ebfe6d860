import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OutboundEvent } from "../../src/app/events.js";
import type { OutboxRelayLease, OutboxStore, Store } from "../../src/app/ports.js";
import {
  endCall,
  joinCall,
  leaveCall,
  mediaChanged,
  rejectCall,
  ringAgain,
  startCall,
  timeOutCall,
  type Call,
  type Transition,
} from "../../src/domain/call.js";
import { outcomeOf, type CallHistoryRecord, type HistoryPage } from "../../src/domain/history.js";
import type { MediaEntry, Recording } from "../../src/domain/recording.js";
import { CallError, CallErrorCode } from "../../src/domain/errors.js";

/**
 * What every store must do, whatever engine is behind it: the use cases rely
 * on exactly this. test/unit/store-contract.test.ts runs it on SQLite,
 * test/integration/store-contract-postgres.test.ts on a real PostgreSQL.
 */

export const T0 = 1_700_000_000_000;

export interface StoreUnderTest {
  readonly store: Store;
  readonly outbox: OutboxStore;
  /** Rows in a table of a call (for "nothing of it was stored"). */
  count(table: "call_participants" | "call_invitees" | "call_ended_sessions" | "call_parties", callId: string): Promise<number>;
  /**
   * How many rows of the calls' tables (calls, participants, invitees, ended
   * sessions, parties) `work` inserted, updated or deleted; a row updated to
   * the values it had counts too. `work` writes nothing else.
   */
  rowsWritten(work: () => Promise<unknown>): Promise<number>;
  close(): Promise<void>;
}

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

async function callErrorOf(promise: Promise<unknown>): Promise<CallError> {
  const caught = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(caught).toBeInstanceOf(CallError);
  return caught as CallError;
}

/** The contract's tests, for one kind of store: `open` makes a fresh, empty one (migrated, now at {@link T0}). */
export function storeContract(name: string, open: () => Promise<StoreUnderTest>): void {
describe(`the ${name} store`, () => {
  let subject: StoreUnderTest;
  let store: Store;
  /** The outbox as the relay (the lease holder) reads it. */
  let relay: OutboxRelayLease;
  beforeEach(async () => {
    subject = await open();
    store = subject.store;
    const lease = await subject.outbox.acquireRelay(() => undefined);
    if (!lease) throw new Error("a fresh store's relay lease is free");
    relay = lease;
  });
  afterEach(async () => {
    await relay.release();
    await subject.close();
  });

  /** A new call and its events, as InitiateCall stores them. */
  const insert = (transition: Transition) =>
    store.transaction(async (tx) => {
      if (!(await tx.calls.insertCall(transition.call))) return false;
      await tx.outbox.append(outboxEventsOf(transition));
      return true;
    });

  /** A change and its events, as the use cases make it. */
  const update = (tenantId: string, callId: string, change: (call: Call) => Transition) =>
    store.transaction(async (tx) => {
      const current = await tx.calls.findCallForUpdate(tenantId, callId);
      if (!current) throw new CallError(CallErrorCode.NotFound, `call ${callId} not found`);
      const next = change(current);
      if (next.call !== current) await tx.calls.saveCall(current, next.call);
      await tx.outbox.append(outboxEventsOf(next));
      return next;
    });

  describe("directory", () => {
    const put = (tenantId: string, roomId: string, members: { userId: string; powerLevel: number }[]) =>
      store.transaction((tx) => tx.directory.putRoom(tenantId, roomId, members));

    it("putRoom stores the member list with power levels", async () => {
      await put("t1", "r1", [
        { userId: "carol", powerLevel: 0 },
        { userId: "alice", powerLevel: 100 },
        { userId: "bob", powerLevel: 50 },
      ]);
      expect(await store.directory.listMemberIds("t1", "r1")).toEqual(["alice", "bob", "carol"]);
      expect(await store.directory.findMember("t1", "r1", "alice")).toEqual({ userId: "alice", powerLevel: 100 });
      expect(await store.directory.findMember("t1", "r1", "bob")).toEqual({ userId: "bob", powerLevel: 50 });
      expect(await store.directory.findMember("t1", "r1", "carol")).toEqual({ userId: "carol", powerLevel: 0 });
    });

    it("putRoom replaces the whole member list; an empty list empties the room", async () => {
      await put("t1", "r1", [
        { userId: "alice", powerLevel: 100 },
        { userId: "bob", powerLevel: 0 },
      ]);
      await put("t1", "r1", [
        { userId: "bob", powerLevel: 50 },
        { userId: "dave", powerLevel: 0 },
      ]);
      expect(await store.directory.listMemberIds("t1", "r1")).toEqual(["bob", "dave"]);
      expect(await store.directory.findMember("t1", "r1", "alice")).toBeUndefined();
      expect(await store.directory.findMember("t1", "r1", "bob")).toEqual({ userId: "bob", powerLevel: 50 });
      await put("t1", "r1", []);
      expect(await store.directory.listMemberIds("t1", "r1")).toEqual([]);
    });

    it("putMember adds a member (creating the room) and upserts the power level, keeping the others", async () => {
      await store.transaction((tx) => tx.directory.putMember("t1", "r9", { userId: "erin", powerLevel: 0 }));
      await store.transaction((tx) => tx.directory.putMember("t1", "r9", { userId: "erin", powerLevel: 100 }));
      expect(await store.directory.findMember("t1", "r9", "erin")).toEqual({ userId: "erin", powerLevel: 100 });
      await store.transaction((tx) => tx.directory.putMember("t1", "r9", { userId: "bob", powerLevel: 0 }));
      expect(await store.directory.listMemberIds("t1", "r9")).toEqual(["bob", "erin"]);
    });

    it("removeMember removes only that member, and removing an absent one is harmless", async () => {
      await put("t1", "r1", [
        { userId: "alice", powerLevel: 100 },
        { userId: "bob", powerLevel: 0 },
      ]);
      await store.transaction(async (tx) => {
        await tx.directory.removeMember("t1", "r1", "bob");
        await tx.directory.removeMember("t1", "r1", "nobody");
        await tx.directory.removeMember("t1", "no-room", "alice");
      });
      expect(await store.directory.findMember("t1", "r1", "bob")).toBeUndefined();
      expect(await store.directory.listMemberIds("t1", "r1")).toEqual(["alice"]);
    });

    it("tenants are isolated: tenant B cannot see tenant A's member of a room with the same id", async () => {
      await put("tenant-a", "general", [{ userId: "alice", powerLevel: 100 }]);
      expect(await store.directory.findMember("tenant-b", "general", "alice")).toBeUndefined();
      await put("tenant-b", "general", [{ userId: "bob", powerLevel: 0 }]);
      expect(await store.directory.listMemberIds("tenant-a", "general")).toEqual(["alice"]);
      expect(await store.directory.listMemberIds("tenant-b", "general")).toEqual(["bob"]);
      await store.transaction((tx) => tx.directory.removeMember("tenant-b", "general", "alice"));
      expect(await store.directory.findMember("tenant-a", "general", "alice")).toEqual({ userId: "alice", powerLevel: 100 });
    });

    it("a tenant without a policy gets recordings and transcription off; a policy is stored per tenant", async () => {
      expect(await store.directory.getTenantPolicy("t1")).toEqual({ recordingsEnabled: false, transcriptionEnabled: false });
      await store.transaction((tx) => tx.directory.putTenantPolicy("t1", { recordingsEnabled: true, transcriptionEnabled: true }));
      expect(await store.directory.getTenantPolicy("t1")).toEqual({ recordingsEnabled: true, transcriptionEnabled: true });
      expect(await store.directory.getTenantPolicy("t2")).toEqual({ recordingsEnabled: false, transcriptionEnabled: false });
      await store.transaction((tx) => tx.directory.putTenantPolicy("t1", { recordingsEnabled: true, transcriptionEnabled: false }));
      expect(await store.directory.getTenantPolicy("t1")).toEqual({ recordingsEnabled: true, transcriptionEnabled: false });
    });
  });

  describe("calls", () => {
    function started(id = "call-1", roomId = "room-1", tenantId = "t1", memberIds = ["alice", "bob", "carol"]): Transition {
      return startCall({ id, tenantId, roomId, type: "video", initiatorId: "alice", memberIds, now: T0, ringTimeoutMs: 45_000 });
    }

    it("insertCall then findCall round-trips the whole call", async () => {
      const transition = started();
      expect(await insert(transition)).toBe(true);
      expect(await store.calls.findCall("t1", "call-1")).toEqual(transition.call);
      expect(transition.call).toMatchObject({ endedBy: null, endRequest: null, endedSessions: [] });
    });

    it("round-trips participants' media state, every invitee state, end requests and ended sessions", async () => {
      await insert(
        startCall({ id: "call-1", tenantId: "t1", roomId: "room-1", type: "video", initiatorId: "alice", memberIds: ["alice", "bob", "carol", "dave", "erin"], now: T0, ringTimeoutMs: 45_000, busyIds: new Set(["erin"]) }),
      );
      await update("t1", "call-1", (c) => joinCall(c, "bob", T0 + 1_000));
      await update("t1", "call-1", (c) => rejectCall(c, "carol", T0 + 2_000));
      const { call: expected } = await update("t1", "call-1", (c) => ({
        call: {
          ...c,
          participants: c.participants.map((p) => (p.userId === "bob" ? { ...p, audioOn: true, videoOn: true, livekitSid: "PA_bob" } : p)),
          endedSessions: ["PA_old"],
          endRequest: { by: "alice", at: T0 + 3_000 },
        },
        events: [],
      }));
      const stored = await store.calls.findCall("t1", "call-1");
      expect(stored).toEqual(expected);
      expect(stored).toMatchObject({
        status: "active",
        participants: [
          { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null },
          { userId: "bob", joinedAt: T0 + 1_000, audioOn: true, videoOn: true, livekitSid: "PA_bob" },
        ],
        invitees: [
          { userId: "bob", state: "answered", changedAt: T0 + 1_000, ringDeadline: null },
          { userId: "carol", state: "rejected", changedAt: T0 + 2_000, ringDeadline: null },
          { userId: "dave", state: "ringing", changedAt: T0, ringDeadline: T0 + 45_000 },
          { userId: "erin", state: "busy", changedAt: T0, ringDeadline: T0 + 45_000 },
        ],
        endedSessions: ["PA_old"],
        endRequest: { by: "alice", at: T0 + 3_000 },
      });
    });

    it("another tenant's call, or an unknown id, is not found", async () => {
      await insert(started());
      expect(await store.calls.findCall("t2", "call-1")).toBeUndefined();
      expect(await store.calls.findCall("t1", "call-404")).toBeUndefined();
      expect(await store.transaction((tx) => tx.calls.findCallForUpdate("t2", "call-1"))).toBeUndefined();
      expect(await store.calls.locateCall("call-1")).toEqual({ tenantId: "t1", roomId: "room-1" });
      expect(await store.calls.locateCall("call-404")).toBeUndefined();
    });

    it("findLiveCallInRoom finds the live call of that tenant's room only", async () => {
      await insert(started());
      expect((await store.calls.findLiveCallInRoom("t1", "room-1"))?.id).toBe("call-1");
      expect(await store.calls.findLiveCallInRoom("t2", "room-1")).toBeUndefined();
      expect(await store.calls.findLiveCallInRoom("t1", "room-2")).toBeUndefined();
    });

    it("refuses a second live call in the same room, storing nothing of it and none of its events", async () => {
      expect(await insert(started("call-1"))).toBe(true);
      expect(await insert(started("call-2"))).toBe(false);
      expect(await store.calls.findCall("t1", "call-2")).toBeUndefined();
      expect(await subject.count("call_participants", "call-2")).toBe(0);
      expect(await subject.count("call_invitees", "call-2")).toBe(0);
      expect(await relay.pending(100)).toHaveLength(4);
      expect((await store.calls.findLiveCallInRoom("t1", "room-1"))?.id).toBe("call-1");
    });

    it("two initiates racing for one room: exactly one wins", async () => {
      const results = await Promise.all([insert(started("call-a")), insert(started("call-b")), insert(started("call-c"))]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.calls.listLiveCalls()).toHaveLength(1);
    });

    it("allows a live call in the same room id of another tenant, in another room, and once the first one ended", async () => {
      expect(await insert(started("call-1", "room-1", "t1"))).toBe(true);
      expect(await insert(started("call-2", "room-1", "t2"))).toBe(true);
      expect(await insert(started("call-3", "room-2", "t1"))).toBe(true);
      await update("t1", "call-1", (c) => endCall(c, "ended", T0 + 5_000));
      expect(await insert(started("call-4", "room-1", "t1"))).toBe(true);
      expect((await store.calls.findLiveCallInRoom("t1", "room-1"))?.id).toBe("call-4");
      expect((await store.calls.findCall("t1", "call-1"))?.status).toBe("ended");
    });

    it("stores an ended call: end time, reason, no participants, invitees no longer ringing", async () => {
      await insert(started());
      const { call } = await update("t1", "call-1", (c) => leaveCall(c, "alice", T0 + 9_000));
      const stored = await store.calls.findCall("t1", "call-1");
      expect(stored).toEqual(call);
      expect(stored).toMatchObject({ status: "ended", endedAt: T0 + 9_000, endReason: "canceled", participants: [] });
      expect(stored?.invitees).toEqual([
        { userId: "bob", state: "canceled", changedAt: T0 + 9_000, ringDeadline: null },
        { userId: "carol", state: "canceled", changedAt: T0 + 9_000, ringDeadline: null },
      ]);
    });

    it("a change that throws rolls back everything of its transaction, events included", async () => {
      await insert(started());
      const before = await store.calls.findCall("t1", "call-1");
      const eventsBefore = await relay.pending(100);
      const error = await callErrorOf(
        store.transaction(async (tx) => {
          await tx.directory.putRoom("t1", "room-x", [{ userId: "zed", powerLevel: 0 }]);
          await tx.outbox.append(outboxEventsOf(joinCall((await tx.calls.findCallForUpdate("t1", "call-1"))!, "bob", T0 + 1)));
          return rejectCall((await tx.calls.findCallForUpdate("t1", "call-1"))!, "mallory", T0 + 1_000);
        }),
      );
      expect(error.code).toBe(CallErrorCode.NotRinging);
      expect(await store.calls.findCall("t1", "call-1")).toEqual(before);
      expect(await store.directory.listMemberIds("t1", "room-x")).toEqual([]);
      expect(await relay.pending(100)).toEqual(eventsBefore);
    });

    it("a write that fails half-way rolls back the whole change", async () => {
      await insert(started());
      const before = await store.calls.findCall("t1", "call-1");
      // The call row and participants are written before the invitees; the bad invitee state
      // fails the store's check after them, so only atomicity keeps the call as it was.
      await expect(
        update("t1", "call-1", (c) => {
          const ended = endCall(c, "ended", T0 + 1_000).call;
          const broken: Call = { ...ended, invitees: [{ userId: "bob", state: "bogus" as "ringing", changedAt: T0 + 1_000, ringDeadline: null }] };
          return { call: broken, events: [] };
        }),
      ).rejects.toThrow(/constraint/i);
      expect(await store.calls.findCall("t1", "call-1")).toEqual(before);
      expect((await store.calls.findLiveCallInRoom("t1", "room-1"))?.id).toBe("call-1");
    });

    it("a save writes only the rows whose columns change, and nothing for an equal call", async () => {
      await insert(started("call-1", "room-1", "t1", ["alice", "bob", "carol", "dave", "erin"]));
      /** Saves the change as the use cases do, without the outbox: only the call's rows are written. */
      const save = (change: (call: Call) => Call) =>
        subject.rowsWritten(() =>
          store.transaction(async (tx) => {
            const current = (await tx.calls.findCallForUpdate("t1", "call-1"))!;
            await tx.calls.saveCall(current, change(current));
          }),
        );
      // The first answer: the call turns active, and bob's participant, invitee and party rows change.
      expect(await save((c) => joinCall(c, "bob", T0 + 1_000).call)).toBe(4);
      // Someone never rung joins the active call: their participant and party rows, not the call's row.
      expect(await save((c) => joinCall(c, "frank", T0 + 2_000).call)).toBe(2);
      expect(await save((c) => mediaChanged(c, "bob", { audioOn: true }).call)).toBe(1);
      expect(await save((c) => leaveCall(c, "frank", T0 + 3_000).call)).toBe(1);
      // Back again: a participant row; their party row already says they joined.
      expect(await save((c) => joinCall(c, "frank", T0 + 4_000).call)).toBe(1);
      // An equal call that is another object (e.g. rebuilt from a report) writes nothing.
      expect(await save((c) => ({ ...c, participants: c.participants.map((p) => ({ ...p })), invitees: c.invitees.map((i) => ({ ...i })) }))).toBe(0);
      const stored = await store.calls.findCall("t1", "call-1");
      expect(stored).toMatchObject({
        status: "active",
        participants: [{ userId: "alice" }, { userId: "bob", audioOn: true }, { userId: "frank", joinedAt: T0 + 4_000 }],
      });
      expect((await store.calls.listHistory("t1", "frank", { limit: 10 }))[0]).toMatchObject({ callId: "call-1", joined: true });
    });

    it("transactions asked for at once run one after another, each seeing the one before", async () => {
      await insert(started("call-1", "room-1", "t1", ["alice", "bob", "carol", "dave"]));
      await Promise.all(["bob", "carol", "dave"].map((user, i) => update("t1", "call-1", (c) => joinCall(c, user, T0 + i + 1))));
      const stored = await store.calls.findCall("t1", "call-1");
      expect(stored?.participants.map((p) => p.userId).sort()).toEqual(["alice", "bob", "carol", "dave"]);
    });
  });

  describe("read units", () => {
    it("reads through the store and returns what its work returns", async () => {
      await insert(startCall({ id: "call-1", tenantId: "t1", roomId: "room-1", type: "audio", initiatorId: "alice", memberIds: ["alice", "bob"], now: T0, ringTimeoutMs: 45_000 }));
      await store.transaction((tx) => tx.directory.putRoom("t1", "room-1", [{ userId: "alice", powerLevel: 100 }]));
      const read = await store.read(async (reads) => {
        const call = await reads.calls.findCall("t1", "call-1");
        return { call, member: await reads.directory.findMember("t1", call!.roomId, "alice"), recordings: await reads.recordings.listForCalls([call!.id]) };
      });
      expect(read).toEqual({ call: await store.calls.findCall("t1", "call-1"), member: { userId: "alice", powerLevel: 100 }, recordings: [] });
    });

    it("a throw in the work reaches the caller, and the store serves read units and changes after as before", async () => {
      for (let i = 0; i < 12; i++) {
        const error = await callErrorOf(
          store.read(async (reads) => {
            if (!(await reads.calls.findCall("t1", "call-404"))) throw new CallError(CallErrorCode.NotFound, "call call-404 not found");
          }),
        );
        expect(error.code).toBe(CallErrorCode.NotFound);
      }
      await store.transaction((tx) => tx.directory.putMember("t1", "room-1", { userId: "bob", powerLevel: 0 }));
      expect(await store.read((reads) => reads.directory.listMemberIds("t1", "room-1"))).toEqual(["bob"]);
    });
  });

  describe("recordings and transcripts", () => {
    const callFor = (id: string) =>
      startCall({ id, tenantId: "t1", roomId: `room-${id}`, type: "video", initiatorId: "alice", memberIds: ["alice"], now: T0, ringTimeoutMs: 45_000 });
    const recording = (id: string, callId: string): Recording => ({
      id,
      callId,
      tenantId: "t1",
      roomId: `room-${callId}`,
      status: "starting",
      audio: true,
      video: true,
      transcript: true,
      egressId: null,
      fileKey: `recordings/${callId}/${id}.mp4`,
      requestedBy: "alice",
      startedAt: T0,
      endedAt: null,
      error: null,
      stopDeadline: T0 + 60_000,
      media: null,
    });
    const media: MediaEntry = { id: "media-1", bucket: "b", key: "recordings/c1/r1.mp4", mimeType: "video/mp4", sizeBytes: 4096, durationMs: 7_500, startedAt: T0, endedAt: T0 + 7_500 };

    it("keeps one active recording per call, and round-trips one with its media entry", async () => {
      await insert(callFor("c1"));
      expect(await store.transaction((tx) => tx.recordings.insert(recording("r1", "c1")))).toBe(true);
      expect(await store.transaction((tx) => tx.recordings.insert(recording("r2", "c1")))).toBe(false);
      await store.transaction((tx) => tx.recordings.setEgressId("r1", "EG_1"));
      const started = (await store.recordings.findByEgressId("EG_1"))!;
      expect(started).toEqual({ ...recording("r1", "c1"), egressId: "EG_1" });
      const ready: Recording = { ...started, status: "ready", endedAt: T0 + 8_000, media };
      await store.transaction((tx) => tx.recordings.save(started, ready));
      expect(await store.recordings.findById("r1")).toEqual(ready);
      expect(await store.recordings.findActive("c1")).toBeUndefined();
      // Once it is no longer active, the call may be recorded again.
      expect(await store.transaction((tx) => tx.recordings.insert({ ...recording("r2", "c1"), startedAt: T0 + 9_000, stopDeadline: T0 + 69_000 }))).toBe(true);
      expect((await store.recordings.listForCalls(["c1"])).map((r) => r.id)).toEqual(["r1", "r2"]);
      expect((await store.recordings.findLatest("c1"))?.id).toBe("r2");
      expect((await store.recordings.listPastDeadline(T0 + 60_000)).map((r) => r.id)).toEqual([]);
      expect((await store.recordings.listPastDeadline(T0 + 69_000)).map((r) => r.id)).toEqual(["r2"]);
      await store.transaction((tx) => tx.recordings.discard("r2"));
      expect(await store.recordings.findById("r2")).toBeUndefined();
    });

    it("lists the recordings of many calls in one read, with their media entries, and finds their transcripts", async () => {
      for (const id of ["c1", "c2", "c3"]) await insert(callFor(id));
      const r1 = recording("r1", "c1");
      const r2 = { ...recording("r2", "c2"), startedAt: T0 + 1_000 };
      await store.transaction(async (tx) => {
        await tx.recordings.insert(r1);
        await tx.recordings.insert(r2);
        await tx.recordings.save(r1, { ...r1, status: "ready", endedAt: T0 + 8_000, media });
      });
      const r3 = { ...recording("r3", "c1"), startedAt: T0 + 9_000 };
      await store.transaction((tx) => tx.recordings.insert(r3));
      expect(await store.recordings.listForCalls(["c2", "c1", "c404"])).toEqual([{ ...r1, status: "ready", endedAt: T0 + 8_000, media }, r2, r3]);
      expect(await store.recordings.listForCalls(["c3"])).toEqual([]);
      expect(await store.recordings.listForCalls([])).toEqual([]);
      await store.transaction((tx) => tx.transcripts.createPending(r3, T0 + 9_500));
      expect(await store.transcripts.findMany(["r1", "r3", "r404"])).toEqual([await store.transcripts.find("r3")]);
      expect(await store.transcripts.findMany([])).toEqual([]);
    });

    it("a transcript is created once, counts attempts and progress, and finishes once", async () => {
      await insert(callFor("c1"));
      const r = recording("r1", "c1");
      await store.transaction((tx) => tx.recordings.insert(r));
      expect(await store.transaction((tx) => tx.transcripts.createPending(r, T0))).toBe(true);
      expect(await store.transaction((tx) => tx.transcripts.createPending(r, T0 + 1))).toBe(false);
      await store.transaction((tx) => tx.transcripts.recordAttempt("r1", 2, T0 + 2));
      await store.transaction((tx) => tx.transcripts.recordProgress("r1", 0.5, T0 + 3));
      expect(await store.transcripts.find("r1")).toMatchObject({ status: "pending", attempts: 2, progress: 0.5 });
      const result = {
        engine: "whisper-base",
        language: "en",
        text: "hello there",
        segments: [{ start: 0, end: 1.25, text: "hello there" }],
        vttKey: "recordings/c1/r1.vtt",
        txtKey: "recordings/c1/r1.txt",
      };
      expect(await store.transaction((tx) => tx.transcripts.complete("r1", result, T0 + 4))).toBe(true);
      expect(await store.transaction((tx) => tx.transcripts.complete("r1", result, T0 + 5))).toBe(false);
      expect(await store.transaction((tx) => tx.transcripts.fail("r1", "too late", T0 + 6))).toBe(false);
      expect(await store.transcripts.find("r1")).toMatchObject({
        status: "ready",
        engine: "whisper-base",
        language: "en",
        text: "hello there",
        segments: [{ start: 0, end: 1.25, text: "hello there" }],
        vttKey: "recordings/c1/r1.vtt",
        error: null,
      });
    });
  });

  describe("outbox, webhooks and ring deadlines", () => {
    const start = (id: string, now = T0, ringTimeoutMs = 45_000) =>
      startCall({ id, tenantId: "t1", roomId: `room-${id}`, type: "audio", initiatorId: "alice", memberIds: ["alice", "bob"], now, ringTimeoutMs });

    const typesOf = async () => (await relay.pending(100)).map((e) => (JSON.parse(e.payload) as { type: string }).type);

    it("keeps a change's events in commit order", async () => {
      await insert(start("c1"));
      expect(await typesOf()).toEqual(["started", "participant_joined", "invited"]);
      await update("t1", "c1", (c) => joinCall(c, "bob", T0 + 1));
      expect(await typesOf()).toEqual(["started", "participant_joined", "invited", "participant_joined", "ring_stopped", "active"]);
    });

    it("records a webhook id once: a retry is told it was seen", async () => {
      expect(await store.transaction((tx) => tx.webhooks.record("EV_1", T0))).toBe(true);
      expect(await store.transaction((tx) => tx.webhooks.record("EV_1", T0 + 1))).toBe(false);
      expect(await store.transaction((tx) => tx.webhooks.prune(T0 + 1))).toBe(1);
      expect(await store.transaction((tx) => tx.webhooks.record("EV_1", T0 + 2))).toBe(true);
    });

    it("lists ringing calls past their deadline, earliest first, and the next deadline", async () => {
      await insert(start("late", T0, 30_000));
      await insert(start("early", T0, 10_000));
      await insert(start("answered", T0, 5_000));
      await update("t1", "answered", (c) => joinCall(c, "bob", T0 + 1));
      expect(await store.calls.nextRingDeadline()).toBe(T0 + 10_000);
      expect(await store.transaction((tx) => tx.calls.claimRingingDue(T0 + 9_999, 10))).toEqual([]);
      expect(await store.transaction((tx) => tx.calls.claimRingingDue(T0 + 30_000, 10))).toEqual([
        { tenantId: "t1", callId: "early" },
        { tenantId: "t1", callId: "late" },
      ]);
      expect(await store.transaction((tx) => tx.calls.claimRingingDue(T0 + 30_000, 1))).toEqual([{ tenantId: "t1", callId: "early" }]);
      await update("t1", "early", (c) => timeOutCall(c, T0 + 10_000));
      expect(await store.calls.findCall("t1", "early")).toMatchObject({ status: "ended", endReason: "no_answer" });
      expect(await store.calls.nextRingDeadline()).toBe(T0 + 30_000);
      expect(await store.calls.countLive()).toEqual({ ringing: 1, active: 1 });
    });

    it("claims a periodic job's run once per interval", async () => {
      const claim = (now: number, holder = "a") => store.transaction((tx) => tx.schedule.claim("reconcile", now, 30_000, holder));
      expect(await claim(T0)).toBe(false); // not registered
      await store.transaction((tx) => tx.schedule.register("reconcile", T0));
      await store.transaction((tx) => tx.schedule.register("reconcile", T0 + 60_000)); // known: keeps its schedule
      expect(await claim(T0)).toBe(true);
      expect(await claim(T0, "b")).toBe(false);
      expect(await claim(T0 + 29_999, "b")).toBe(false);
      expect(await claim(T0 + 30_000, "b")).toBe(true);
      expect(await claim(T0 + 30_001)).toBe(false);
      await store.transaction((tx) => tx.schedule.register("recording-limit", T0 + 1_000));
      expect(await store.transaction((tx) => tx.schedule.claim("recording-limit", T0 + 999, 1_000, "a"))).toBe(false);
      expect(await store.transaction((tx) => tx.schedule.claim("recording-limit", T0 + 1_000, 1_000, "a"))).toBe(true);
    });

    it("the outbox reports its backlog, marks events sent and prunes old sent ones", async () => {
      await insert(start("c1"));
      expect(await subject.outbox.backlog()).toEqual({ pending: 3, oldestCreatedAt: T0 });
      await relay.markSent((await relay.pending(2)).map((e) => e.seq), T0 + 100);
      expect(await subject.outbox.backlog()).toEqual({ pending: 1, oldestCreatedAt: T0 });
      expect(await relay.pruneSent(T0 + 100)).toBe(0);
      expect(await relay.pruneSent(T0 + 101)).toBe(2);
    });
  });

  describe("ring deadlines per member, history and retention", () => {
    const RING_MS = 45_000;
    interface Ring {
      readonly tenantId?: string;
      readonly roomId?: string;
      readonly now?: number;
      readonly initiator?: string;
      readonly members?: readonly string[];
      readonly busy?: readonly string[];
    }
    const ring = (id: string, o: Ring = {}) =>
      startCall({
        id,
        tenantId: o.tenantId ?? "t1",
        roomId: o.roomId ?? `room-${id}`,
        type: "audio",
        initiatorId: o.initiator ?? "alice",
        memberIds: o.members ?? ["alice", "bob"],
        now: o.now ?? T0,
        ringTimeoutMs: RING_MS,
        busyIds: new Set(o.busy),
      });
    const history = (userId: string, page: HistoryPage = { limit: 50 }, tenantId = "t1") => store.calls.listHistory(tenantId, userId, page);
    const ids = (records: readonly { callId: string }[]) => records.map((r) => r.callId);
    const claim = (now: number, limit = 10) => store.transaction((tx) => tx.calls.claimRingingDue(now, limit));
    /** Where the next page starts: after the last record of this one. */
    const after = (records: readonly CallHistoryRecord[]): HistoryPage["before"] => {
      const last = records.at(-1)!;
      return { startedAt: last.startedAt, callId: last.callId };
    };

    it("an active call whose member still rings is claimed at that member's deadline, and ringing again moves it", async () => {
      await insert(ring("c1", { members: ["alice", "bob", "carol"] }));
      await update("t1", "c1", (c) => joinCall(c, "bob", T0 + 1_000));
      await update("t1", "c1", (c) => ringAgain(c, "bob", [{ userId: "dave", busy: true }], T0 + 10_000, RING_MS));
      expect(await store.calls.findCall("t1", "c1")).toMatchObject({
        status: "active",
        invitees: [
          { userId: "bob", state: "answered", changedAt: T0 + 1_000, ringDeadline: null },
          { userId: "carol", state: "ringing", changedAt: T0, ringDeadline: T0 + RING_MS },
          { userId: "dave", state: "busy", changedAt: T0 + 10_000, ringDeadline: T0 + 10_000 + RING_MS },
        ],
      });
      // Active, so no longer the call's own deadline: carol's.
      expect(await store.calls.nextRingDeadline()).toBe(T0 + RING_MS);
      expect(await claim(T0 + RING_MS - 1)).toEqual([]);
      expect(await claim(T0 + RING_MS)).toEqual([{ tenantId: "t1", callId: "c1" }]);
      await update("t1", "c1", (c) => timeOutCall(c, T0 + RING_MS));
      expect(await store.calls.findCall("t1", "c1")).toMatchObject({
        status: "active",
        invitees: [{ userId: "bob" }, { userId: "carol", state: "missed", ringDeadline: null }, { userId: "dave", state: "busy" }],
      });
      expect(await store.calls.nextRingDeadline()).toBe(T0 + 10_000 + RING_MS);
      expect(await claim(T0 + RING_MS)).toEqual([]);
      await update("t1", "c1", (c) => timeOutCall(c, T0 + 10_000 + RING_MS));
      expect(await store.calls.nextRingDeadline()).toBeUndefined();
      expect(await claim(Number.MAX_SAFE_INTEGER)).toEqual([]);
      expect((await store.calls.findCall("t1", "c1"))?.status).toBe("active");
    });

    it("ringing again while nobody answered stores the call's later deadline", async () => {
      await insert(ring("c1"));
      const { call } = await update("t1", "c1", (c) => ringAgain(c, "alice", [{ userId: "bob", busy: false }], T0 + 30_000, RING_MS));
      expect(call.ringDeadline).toBe(T0 + 30_000 + RING_MS);
      expect(await store.calls.findCall("t1", "c1")).toEqual(call);
      expect(await store.calls.nextRingDeadline()).toBe(T0 + 30_000 + RING_MS);
      expect(await claim(T0 + RING_MS)).toEqual([]);
    });

    it("lists a user's calls newest first (then by id), and a page after another stays put while newer calls start", async () => {
      await insert(ring("h1", { now: T0 }));
      await insert(ring("h2", { now: T0 + 1_000 }));
      await insert(ring("h3", { now: T0 + 1_000 }));
      await insert(ring("h4", { now: T0 + 2_000, initiator: "bob" }));
      await insert(ring("other", { now: T0 + 5_000, members: ["alice", "carol"], initiator: "carol" }));
      expect(ids(await history("bob"))).toEqual(["h4", "h3", "h2", "h1"]);

      const first = await history("bob", { limit: 2 });
      expect(ids(first)).toEqual(["h4", "h3"]);
      await insert(ring("h5", { now: T0 + 3_000 }));
      const second = await history("bob", { limit: 2, before: after(first) });
      expect(ids(second)).toEqual(["h2", "h1"]);
      expect(await history("bob", { limit: 2, before: after(second) })).toEqual([]);
      expect(ids(await history("bob", { limit: 1 }))).toEqual(["h5"]);
      expect(ids(await history("carol"))).toEqual(["other"]);
      expect(await history("nobody")).toEqual([]);
    });

    it("keeps tenants apart: the same user id in another tenant has a history of its own", async () => {
      await insert(ring("a1", { tenantId: "t1", roomId: "room-x" }));
      await insert(ring("b1", { tenantId: "t2", roomId: "room-x", now: T0 + 1 }));
      await update("t2", "b1", (c) => endCall(c, "ended", T0 + 2, "alice"));
      expect(ids(await history("bob", { limit: 10 }, "t1"))).toEqual(["a1"]);
      expect(ids(await history("bob", { limit: 10 }, "t2"))).toEqual(["b1"]);
      expect(await store.calls.countUnseenMissed("t1", "bob")).toBe(0);
      expect(await store.calls.countUnseenMissed("t2", "bob")).toBe(1);
      expect(await store.transaction((tx) => tx.calls.markHistorySeen("t1", "bob"))).toBe(0);
      expect(await store.calls.countUnseenMissed("t2", "bob")).toBe(1);
      expect(await store.calls.listRoomCalls("t1", "room-x", { limit: 10 })).toEqual([await store.calls.findCall("t1", "a1")]);
    });

    it("records each user's part as the call goes: answered, declined, missed, busy, canceled, rung again", async () => {
      // answered: bob joins, carol declines, dave joins unrung, erin is still ringing when it ends.
      await insert(ring("answered", { members: ["alice", "bob", "carol", "erin"] }));
      await update("t1", "answered", (c) => joinCall(c, "bob", T0 + 1_000));
      await update("t1", "answered", (c) => rejectCall(c, "carol", T0 + 2_000));
      await update("t1", "answered", (c) => joinCall(c, "dave", T0 + 3_000));
      await update("t1", "answered", (c) => endCall(c, "ended", T0 + 4_000, "alice"));
      // missed: nobody answered in time.
      await insert(ring("missed", { now: T0 + 10_000 }));
      await update("t1", "missed", (c) => timeOutCall(c, T0 + 10_000 + RING_MS));
      // busy: bob was in another call; rung as call waiting, he did not answer.
      await insert(ring("busy", { now: T0 + 20_000, busy: ["bob"] }));
      await update("t1", "busy", (c) => timeOutCall(c, T0 + 20_000 + RING_MS));
      // canceled: alice gave up before anyone answered.
      await insert(ring("canceled", { now: T0 + 30_000 }));
      await update("t1", "canceled", (c) => leaveCall(c, "alice", T0 + 31_000));
      // rung again: carol's ring timed out, bob rang her again and she answered.
      await insert(ring("again", { now: T0 + 40_000, members: ["alice", "bob", "carol"] }));
      await update("t1", "again", (c) => joinCall(c, "bob", T0 + 41_000));
      await update("t1", "again", (c) => timeOutCall(c, T0 + 40_000 + RING_MS));
      expect(await store.calls.countUnseenMissed("t1", "carol")).toBe(1);
      await update("t1", "again", (c) => ringAgain(c, "bob", [{ userId: "carol", busy: false }], T0 + 90_000, RING_MS));
      // Her phone rings again: the missed ring stays unseen until she answers (or marks it seen).
      expect(await store.calls.countUnseenMissed("t1", "carol")).toBe(1);
      await update("t1", "again", (c) => joinCall(c, "carol", T0 + 91_000));
      expect(await store.calls.countUnseenMissed("t1", "carol")).toBe(0);

      const part = async (userId: string, callId: string) => (await history(userId)).find((r) => r.callId === callId);
      const outcome = async (userId: string, callId: string) => outcomeOf((await part(userId, callId))!, userId);

      expect(await part("alice", "answered")).toEqual({
        callId: "answered",
        roomId: "room-answered",
        type: "audio",
        status: "ended",
        initiatorId: "alice",
        startedAt: T0,
        endedAt: T0 + 4_000,
        endReason: "ended",
        participantCount: 3,
        inviteState: null,
        joined: true,
        missedUnseen: false,
      });
      expect(await part("bob", "answered")).toMatchObject({ inviteState: "answered", joined: true, missedUnseen: false, participantCount: 3 });
      expect(await part("carol", "answered")).toMatchObject({ inviteState: "rejected", joined: false, missedUnseen: false });
      expect(await part("dave", "answered")).toMatchObject({ inviteState: null, joined: true, missedUnseen: false });
      expect(await part("erin", "answered")).toMatchObject({ inviteState: "missed", joined: false, missedUnseen: true });
      expect([await outcome("alice", "answered"), await outcome("bob", "answered"), await outcome("carol", "answered"), await outcome("erin", "answered")]).toEqual([
        "answered",
        "answered",
        "declined",
        "missed",
      ]);

      expect(await part("bob", "missed")).toMatchObject({ endReason: "no_answer", inviteState: "missed", joined: false, missedUnseen: true, participantCount: 1 });
      expect([await outcome("alice", "missed"), await outcome("bob", "missed")]).toEqual(["missed", "missed"]);
      expect(await part("bob", "busy")).toMatchObject({ inviteState: "busy", joined: false, missedUnseen: false });
      expect(await outcome("bob", "busy")).toBe("busy");
      expect(await part("bob", "canceled")).toMatchObject({ endReason: "canceled", inviteState: "canceled", joined: false, missedUnseen: true });
      expect([await outcome("alice", "canceled"), await outcome("bob", "canceled")]).toEqual(["canceled", "canceled"]);
      expect(await part("carol", "again")).toMatchObject({ status: "active", inviteState: "answered", joined: true, missedUnseen: false, participantCount: 3 });

      expect(ids(await history("bob"))).toEqual(["again", "canceled", "busy", "missed", "answered"]);
    });

    it("counts unseen missed calls until the user marks their history seen", async () => {
      await insert(ring("m1"));
      await update("t1", "m1", (c) => timeOutCall(c, T0 + RING_MS));
      await insert(ring("m2", { now: T0 + 1 }));
      await update("t1", "m2", (c) => endCall(c, "ended", T0 + 2, "alice"));
      await insert(ring("live", { now: T0 + 3 }));
      expect(await store.calls.countUnseenMissed("t1", "bob")).toBe(2);
      expect(await store.calls.countUnseenMissed("t1", "alice")).toBe(0);
      expect(await store.transaction((tx) => tx.calls.markHistorySeen("t1", "bob"))).toBe(2);
      expect(await store.calls.countUnseenMissed("t1", "bob")).toBe(0);
      expect((await history("bob")).map((r) => [r.callId, r.missedUnseen, r.inviteState])).toEqual([
        ["live", false, "ringing"],
        ["m2", false, "canceled"],
        ["m1", false, "missed"],
      ]);
      expect(await store.transaction((tx) => tx.calls.markHistorySeen("t1", "bob"))).toBe(0);
      // A call missed after that is new again.
      await update("t1", "live", (c) => timeOutCall(c, T0 + 3 + RING_MS));
      expect(await store.calls.countUnseenMissed("t1", "bob")).toBe(1);
    });

    it("lists a room's calls newest first as whole calls, page by page, in that tenant only", async () => {
      await insert(ring("r1", { roomId: "room-1", now: T0 }));
      await update("t1", "r1", (c) => endCall(c, "ended", T0 + 1, "alice"));
      await insert(ring("r2", { roomId: "room-1", now: T0 + 10 }));
      await update("t1", "r2", (c) => joinCall(c, "bob", T0 + 11));
      await update("t1", "r2", (c) => endCall(c, "ended", T0 + 12, "bob"));
      await insert(ring("r3", { roomId: "room-1", now: T0 + 20 }));
      await insert(ring("elsewhere", { roomId: "room-2", now: T0 + 30 }));
      await insert(ring("other-tenant", { tenantId: "t2", roomId: "room-1", now: T0 + 40 }));

      const first = await store.calls.listRoomCalls("t1", "room-1", { limit: 2 });
      expect(first).toEqual([await store.calls.findCall("t1", "r3"), await store.calls.findCall("t1", "r2")]);
      expect(first[1]).toMatchObject({ status: "ended", endedBy: "bob", invitees: [{ userId: "bob", state: "answered" }] });
      const last = first.at(-1)!;
      const second = await store.calls.listRoomCalls("t1", "room-1", { limit: 2, before: { startedAt: last.startedAt, callId: last.id } });
      expect(second.map((c) => c.id)).toEqual(["r1"]);
      expect((await store.calls.listRoomCalls("t2", "room-1", { limit: 10 })).map((c) => c.id)).toEqual(["other-tenant"]);
      expect(await store.calls.listRoomCalls("t3", "room-1", { limit: 10 })).toEqual([]);
    });

    it("finds which users are in a live call of the tenant, from any number of ids", async () => {
      await insert(ring("live", { members: ["alice", "bob", "carol"] }));
      await update("t1", "live", (c) => joinCall(c, "bob", T0 + 1));
      await insert(ring("gone", { initiator: "dave", members: ["dave", "erin"] }));
      await update("t1", "gone", (c) => joinCall(c, "erin", T0 + 1));
      await update("t1", "gone", (c) => endCall(c, "ended", T0 + 2, "dave"));
      await insert(ring("elsewhere", { tenantId: "t2", initiator: "frank", members: ["frank"] }));

      const many = [...Array.from({ length: 1_500 }, (_, i) => `user-${i}`), "alice", "bob", "carol", "dave", "erin", "frank"];
      // carol only rings (not in the call), dave and erin were in a call that ended, frank is in another tenant's.
      expect(await store.calls.findBusy("t1", many)).toEqual(new Set(["alice", "bob"]));
      expect(await store.calls.findBusy("t2", many)).toEqual(new Set(["frank"]));
      expect(await store.calls.findBusy("t1", [])).toEqual(new Set());
    });

    it("deletes calls that ended before the cutoff, oldest first and with their rows, but not live, recent or recorded ones", async () => {
      const ended = async (id: string, endedAt: number) => {
        await insert(ring(id, { now: endedAt - 10_000 }));
        await update("t1", id, (c) => joinCall(c, "bob", endedAt - 5_000));
        await update("t1", id, (c) => ({ call: { ...c, endedSessions: [`PA_${id}`] }, events: [] }));
        await update("t1", id, (c) => endCall(c, "ended", endedAt, "alice"));
      };
      await ended("oldest", T0 + 100_000);
      await ended("old", T0 + 200_000);
      await ended("recorded", T0 + 150_000);
      await ended("recent", T0 + 500_000);
      await insert(ring("live", { now: T0 }));
      await store.transaction((tx) =>
        tx.recordings.insert({
          id: "rec-1",
          callId: "recorded",
          tenantId: "t1",
          roomId: "room-recorded",
          status: "failed",
          audio: true,
          video: false,
          transcript: false,
          egressId: null,
          fileKey: "recordings/recorded/rec-1.mp4",
          requestedBy: "alice",
          startedAt: T0 + 141_000,
          endedAt: T0 + 142_000,
          error: "egress failed",
          stopDeadline: T0 + 200_000,
          media: null,
        }),
      );
      expect(await subject.count("call_invitees", "oldest")).toBe(1);
      expect(await subject.count("call_ended_sessions", "oldest")).toBe(1);
      expect(await subject.count("call_parties", "oldest")).toBe(2);

      const cutoff = T0 + 400_000;
      expect(await store.transaction((tx) => tx.calls.deleteEndedBefore(cutoff, 1))).toBe(1);
      expect(await store.calls.findCall("t1", "oldest")).toBeUndefined();
      expect(await store.calls.findCall("t1", "old")).toBeDefined();
      expect(await store.transaction((tx) => tx.calls.deleteEndedBefore(cutoff, 10))).toBe(1);
      expect(await store.transaction((tx) => tx.calls.deleteEndedBefore(cutoff, 10))).toBe(0);

      for (const id of ["oldest", "old"]) {
        expect(await store.calls.findCall("t1", id)).toBeUndefined();
        for (const table of ["call_participants", "call_invitees", "call_ended_sessions", "call_parties"] as const) {
          expect(await subject.count(table, id), `${table} of ${id}`).toBe(0);
        }
      }
      expect(ids(await history("bob"))).toEqual(["recent", "recorded", "live"]);
      expect((await store.recordings.findById("rec-1"))?.callId).toBe("recorded");
      expect((await store.calls.findCall("t1", "live"))?.status).toBe("ringing");
    });
  });
});
}
