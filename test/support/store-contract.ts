import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OutboundEvent } from "../../src/app/events.js";
import type { OutboxRelayLease, OutboxStore, Store } from "../../src/app/ports.js";
import { endCall, joinCall, leaveCall, rejectCall, startCall, timeOutCall, type Call, type Transition } from "../../src/domain/call.js";
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
  count(table: "call_participants" | "call_invitees", callId: string): Promise<number>;
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
      await insert(started("call-1", "room-1", "t1", ["alice", "bob", "carol", "dave"]));
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
          { userId: "bob", state: "joined" },
          { userId: "carol", state: "rejected" },
          { userId: "dave", state: "ringing" },
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

    it("stores an ended call: end time, reason, no participants, stopped invitees", async () => {
      await insert(started());
      const { call } = await update("t1", "call-1", (c) => leaveCall(c, "alice", T0 + 9_000));
      const stored = await store.calls.findCall("t1", "call-1");
      expect(stored).toEqual(call);
      expect(stored).toMatchObject({ status: "ended", endedAt: T0 + 9_000, endReason: "canceled", participants: [] });
      expect(stored?.invitees).toEqual([
        { userId: "bob", state: "stopped" },
        { userId: "carol", state: "stopped" },
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
          const broken: Call = { ...ended, invitees: [{ userId: "bob", state: "bogus" as "ringing" }] };
          return { call: broken, events: [] };
        }),
      ).rejects.toThrow(/constraint/i);
      expect(await store.calls.findCall("t1", "call-1")).toEqual(before);
      expect((await store.calls.findLiveCallInRoom("t1", "room-1"))?.id).toBe("call-1");
    });

    it("transactions asked for at once run one after another, each seeing the one before", async () => {
      await insert(started("call-1", "room-1", "t1", ["alice", "bob", "carol", "dave"]));
      await Promise.all(["bob", "carol", "dave"].map((user, i) => update("t1", "call-1", (c) => joinCall(c, user, T0 + i + 1))));
      const stored = await store.calls.findCall("t1", "call-1");
      expect(stored?.participants.map((p) => p.userId).sort()).toEqual(["alice", "bob", "carol", "dave"]);
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
      expect((await store.recordings.listForCall("c1")).map((r) => r.id)).toEqual(["r1", "r2"]);
      expect((await store.recordings.findLatest("c1"))?.id).toBe("r2");
      expect((await store.recordings.listPastDeadline(T0 + 60_000)).map((r) => r.id)).toEqual([]);
      expect((await store.recordings.listPastDeadline(T0 + 69_000)).map((r) => r.id)).toEqual(["r2"]);
      await store.transaction((tx) => tx.recordings.discard("r2"));
      expect(await store.recordings.findById("r2")).toBeUndefined();
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
});
}
