import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type SqliteDatabase } from "../../src/adapters/sqlite/database.js";
import { SqliteOutboxStore } from "../../src/adapters/sqlite/outbox-store.js";
import { SqliteStore } from "../../src/adapters/sqlite/store.js";
import { CallsUseCases } from "../../src/app/calls.js";
import { CallEventFactory, type Envelope, type OutboundEvent } from "../../src/app/events.js";
import type { Caller, LiveKitParticipant, LiveKitRooms, Logger } from "../../src/app/ports.js";
import { RecordingsUseCases } from "../../src/app/recordings.js";
import { WebhookIngest, type LiveKitNotice, type VerifiedWebhook } from "../../src/app/webhooks.js";
import { mediaChanged, type Call, type Transition } from "../../src/domain/call.js";

/**
 * WebhookIngest over the real use cases and the real SQLite store (in
 * memory): what each LiveKit notice does to a call, what it writes to the
 * outbox, and that every webhook id is applied at most once.
 */

const T0 = 1_700_000_000_000;
const TENANT = "t1";
const ROOM_ID = "room-1";
const alice: Caller = { userId: "alice", tenantId: TENANT };
const bob: Caller = { userId: "bob", tenantId: TENANT };

/** Test double for LiveKit's RoomService: records every call, never fails. */
class RecordingLiveKitRooms implements LiveKitRooms {
  readonly calls: string[] = [];
  async createRoom(name: string): Promise<void> {
    this.calls.push(`createRoom ${name}`);
  }
  async deleteRoom(name: string): Promise<void> {
    this.calls.push(`deleteRoom ${name}`);
  }
  async listRoomNames(): Promise<Set<string>> {
    this.calls.push("listRoomNames");
    return new Set();
  }
  async listParticipants(roomName: string): Promise<LiveKitParticipant[]> {
    this.calls.push(`listParticipants ${roomName}`);
    return [];
  }
  async muteParticipant(roomName: string, identity: string, what: { audio: boolean; video: boolean }): Promise<void> {
    this.calls.push(`muteParticipant ${roomName} ${identity} ${JSON.stringify(what)}`);
  }
  async removeParticipant(roomName: string, identity: string): Promise<void> {
    this.calls.push(`removeParticipant ${roomName} ${identity}`);
  }
}

/** Test double for the logger: keeps every line. */
class RecordingLogger implements Logger {
  readonly lines: { level: string; obj: object; msg: string }[] = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: "info", obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: "warn", obj, msg });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: "error", obj, msg });
  }
}

let db: SqliteDatabase;
let store: SqliteStore;
let outbox: SqliteOutboxStore;
let rooms: RecordingLiveKitRooms;
let logger: RecordingLogger;
let useCases: CallsUseCases;
let ingest: WebhookIngest;
let now: number;
/** Set to make the next outbox write fail (inside the change's transaction). */
let failOutboxWrites: boolean;

/** The real event factory, made to fail on demand (as a failing outbox write would, inside the change's transaction). */
class FailableEventFactory extends CallEventFactory {
  override fromTransition(transition: Transition, requestId: string | undefined): OutboundEvent[] {
    if (failOutboxWrites) throw new Error("disk I/O error (test)");
    return super.fromTransition(transition, requestId);
  }
}

beforeEach(async () => {
  now = T0;
  failOutboxWrites = false;
  db = openDatabase(":memory:");
  const clock = { now: () => now };
  // The real envelopes, one outbox row per domain event; the call rendering is reduced to what tests read.
  const factory = new FailableEventFactory((call) => JSON.stringify({ status: call.status, participants: call.participants.map((p) => p.userId) }), clock.now);
  store = new SqliteStore(db, { now: clock.now });
  outbox = new SqliteOutboxStore(db);
  await store.transaction((tx) =>
    tx.directory.putRoom(TENANT, ROOM_ID, [
      { userId: "alice", powerLevel: 100 },
      { userId: "bob", powerLevel: 0 },
      { userId: "carol", powerLevel: 0 },
    ]),
  );
  rooms = new RecordingLiveKitRooms();
  logger = new RecordingLogger();
  useCases = new CallsUseCases({
    store,
    events: factory,
    rooms,
    tokens: { mint: async () => "test-livekit-token" },
    clock,
    logger,
    livekitUrl: "wss://livekit.test",
    ringTimeoutMs: 45_000,
  });
  const recordings = new RecordingsUseCases({
    store,
    events: factory,
    egress: undefined,
    objects: undefined,
    clock,
    logger,
    maxDurationMs: 60_000,
    downloadUrlTtlSeconds: 300,
  });
  ingest = new WebhookIngest({ store, useCases, recordings, clock, logger });
});

afterEach(() => db.close());

/** alice starts a call in room-1 at T0, ringing bob and carol; returns its id. */
async function startCall(): Promise<string> {
  const ticket = await useCases.initiate(alice, ROOM_ID, "audio");
  expect(ticket.livekitRoom).toBe(`scaiwave-${ticket.callId}`);
  return ticket.callId;
}

let webhookCounter = 0;
function webhook(notice: LiveKitNotice, options: { id?: string; createdAt?: number } = {}): VerifiedWebhook {
  return { id: options.id ?? `EV_${++webhookCounter}`, createdAt: options.createdAt ?? now, notice };
}

const roomOf = (callId: string) => `scaiwave-${callId}`;
const joined = (callId: string, identity: string, sid: string): LiveKitNotice => ({
  kind: "participant_joined",
  room: roomOf(callId),
  identity,
  sid,
});
const left = (callId: string, identity: string, sid: string): LiveKitNotice => ({
  kind: "participant_left",
  room: roomOf(callId),
  identity,
  sid,
});

/** Every outbox envelope written so far, in commit order. */
async function envelopes(): Promise<Envelope[]> {
  return (await (await outbox.acquireRelay()).pending(1_000)).map((e) => JSON.parse(e.payload) as Envelope);
}
async function outboxSize(): Promise<number> {
  return (await (await outbox.acquireRelay()).pending(1_000)).length;
}
function recordedWebhookIds(): string[] {
  return (db.prepare("SELECT id FROM webhook_events ORDER BY id").all() as { id: string }[]).map((r) => r.id);
}
async function stored(callId: string): Promise<Call> {
  const call = await store.calls.findCall(TENANT, callId);
  if (!call) throw new Error(`call ${callId} not stored`);
  return call;
}

describe("WebhookIngest: participant_joined", () => {
  it("a member LiveKit saw connect becomes a participant, the call becomes active, and the events are written", async () => {
    const callId = await startCall();
    const before = (await outboxSize());
    now = T0 + 2_000;
    expect(await ingest.ingest(webhook(joined(callId, "bob", "PA_b1"), { id: "EV_join_bob" }))).toBe("processed");

    const call = (await stored(callId));
    expect(call.status).toBe("active");
    expect(call.participants).toEqual([
      { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null },
      { userId: "bob", joinedAt: T0 + 2_000, audioOn: false, videoOn: false, livekitSid: "PA_b1" },
    ]);
    expect(call.invitees.map(({ userId, state }) => ({ userId, state }))).toEqual([
      { userId: "bob", state: "answered" },
      { userId: "carol", state: "ringing" },
    ]);
    expect((await envelopes()).slice(before).map((e) => [e.type, e.call_id])).toEqual([
      ["swp.call.participant_joined", callId],
      ["swp.call.ring_stopped", callId],
      ["swp.call.active", callId],
    ]);
    expect(recordedWebhookIds()).toEqual(["EV_join_bob"]);
  });

  it("the same webhook id again is a duplicate: nothing runs, no outbox rows", async () => {
    const callId = await startCall();
    const first = webhook(joined(callId, "bob", "PA_b1"), { id: "EV_dup" });
    expect(await ingest.ingest(first)).toBe("processed");
    const after = { call: (await stored(callId)), outbox: (await outboxSize()) };

    now = T0 + 5_000;
    expect(await ingest.ingest(first)).toBe("duplicate");
    // Even a different notice under an id already processed is not applied (LiveKit reuses ids only for retries).
    expect(await ingest.ingest(webhook(left(callId, "bob", "PA_b1"), { id: "EV_dup" }))).toBe("duplicate");
    expect((await stored(callId))).toEqual(after.call);
    expect((await outboxSize())).toBe(after.outbox);
    expect(recordedWebhookIds()).toEqual(["EV_dup"]);
  });

  it("the initiator's own media connecting records their sid, with no events", async () => {
    const callId = await startCall();
    const before = (await outboxSize());
    expect(await ingest.ingest(webhook(joined(callId, "alice", "PA_a1")))).toBe("processed");
    expect((await stored(callId)).participants).toEqual([
      { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: "PA_a1" },
    ]);
    expect((await stored(callId)).status).toBe("ringing");
    expect((await outboxSize())).toBe(before);
  });

  it("an identity that is not a member of the room (an egress recorder, an agent) is ignored, and its id not recorded", async () => {
    const callId = await startCall();
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    for (const identity of ["EG_xyz", "mallory"]) {
      expect(await ingest.ingest(webhook(joined(callId, identity, "PA_x")))).toBe("ignored");
    }
    expect((await stored(callId))).toEqual(before.call);
    expect((await outboxSize())).toBe(before.outbox);
    expect(recordedWebhookIds()).toEqual([]);
  });

  it("membership is checked in the call's tenant: a member of the same room id in another tenant is ignored", async () => {
    const callId = await startCall();
    await store.transaction((tx) => tx.directory.putRoom("t2", ROOM_ID, [{ userId: "trent", powerLevel: 100 }]));
    expect(await ingest.ingest(webhook(joined(callId, "trent", "PA_t1")))).toBe("ignored");
    expect((await stored(callId)).participants.map((p) => p.userId)).toEqual(["alice"]);
  });
});

describe("WebhookIngest: rooms that are not ours", () => {
  it("rooms not named scaiwave-<call_id>, and unknown calls, are ignored", async () => {
    const callId = await startCall();
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    const notices: LiveKitNotice[] = [
      { kind: "participant_joined", room: callId, identity: "bob", sid: "PA_b1" },
      { kind: "participant_joined", room: `other-${callId}`, identity: "bob", sid: "PA_b1" },
      { kind: "participant_joined", room: `Scaiwave-${callId}`, identity: "bob", sid: "PA_b1" },
      { kind: "participant_joined", room: "", identity: "bob", sid: "PA_b1" },
      { kind: "participant_joined", room: "scaiwave-call-unknown", identity: "bob", sid: "PA_b1" },
      { kind: "participant_left", room: "scaiwave-call-unknown", identity: "alice", sid: "PA_a1" },
      { kind: "track_changed", room: "scaiwave-", identity: "alice", media: { audioOn: true } },
      { kind: "room_finished", room: "scaiwave-call-unknown" },
      { kind: "room_finished", room: `${roomOf(callId)}x` },
    ];
    for (const notice of notices) expect(await ingest.ingest(webhook(notice)), JSON.stringify(notice)).toBe("ignored");
    expect((await stored(callId))).toEqual(before.call);
    expect((await outboxSize())).toBe(before.outbox);
    expect(recordedWebhookIds()).toEqual([]);
  });

  it("egress notices of no recording of ours, and unknown notices, are ignored", async () => {
    const callId = await startCall();
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    const egress = { egressId: "EG_unknown", roomName: "scaiwave-call-unknown", status: "complete" as const, error: "" };
    expect(await ingest.ingest(webhook({ kind: "egress", egress }, { id: "EV_egress" }))).toBe("ignored");
    expect(await ingest.ingest(webhook({ kind: "ignored", event: "room_started" }))).toBe("ignored");
    expect((await stored(callId))).toEqual(before.call);
    expect((await outboxSize())).toBe(before.outbox);
    expect(recordedWebhookIds()).toEqual([]);
  });
});

describe("WebhookIngest: participant_left", () => {
  it("the current session leaving takes them out; the last one out ends the call and its room is deleted", async () => {
    const callId = await startCall();
    now = T0 + 1_000;
    await ingest.ingest(webhook(joined(callId, "alice", "PA_a1")));
    await ingest.ingest(webhook(joined(callId, "bob", "PA_b1")));
    const before = (await outboxSize());

    now = T0 + 10_000;
    expect(await ingest.ingest(webhook(left(callId, "bob", "PA_b1")))).toBe("processed");
    expect((await stored(callId)).participants.map((p) => p.userId)).toEqual(["alice"]);
    now = T0 + 11_000;
    expect(await ingest.ingest(webhook(left(callId, "alice", "PA_a1")))).toBe("processed");

    expect((await stored(callId))).toMatchObject({ status: "ended", endReason: "all_left", endedAt: T0 + 11_000, participants: [] });
    expect((await envelopes()).slice(before).map((e) => e.type)).toEqual([
      "swp.call.participant_left",
      "swp.call.participant_left",
      "swp.call.ring_stopped",
      "swp.call.missed",
      "swp.call.ended",
    ]);
    expect((await envelopes()).at(-1)?.data).toMatchObject({ end_reason: "all_left" });
    expect(rooms.calls).toEqual([`createRoom ${roomOf(callId)}`, `deleteRoom ${roomOf(callId)}`]);
  });

  it("a left created before the latest API join, with no sid known, changes nothing", async () => {
    const callId = await startCall();
    now = T0 + 5_000;
    await useCases.join(bob, callId);
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    expect(before.call.participants.find((p) => p.userId === "bob")).toMatchObject({ joinedAt: T0 + 5_000, livekitSid: null });

    now = T0 + 6_000;
    const stale = webhook(left(callId, "bob", "PA_b0"), { id: "EV_stale", createdAt: T0 + 2_000 });
    expect(await ingest.ingest(stale)).toBe("processed");
    expect((await stored(callId))).toEqual({ ...before.call, endedSessions: ["PA_b0"] });
    expect((await outboxSize())).toBe(before.outbox);
    // Recorded all the same: a retry of it changes nothing either.
    expect(recordedWebhookIds()).toEqual(["EV_stale"]);
  });

  it("a left of an older session (after a reconnect) changes nothing", async () => {
    const callId = await startCall();
    await ingest.ingest(webhook(joined(callId, "bob", "PA_b1")));
    await ingest.ingest(webhook(joined(callId, "bob", "PA_b2")));
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    expect(before.call.participants.find((p) => p.userId === "bob")?.livekitSid).toBe("PA_b2");
    expect(await ingest.ingest(webhook(left(callId, "bob", "PA_b1")))).toBe("processed");
    expect((await stored(callId))).toEqual({ ...before.call, endedSessions: ["PA_b1"] });
    expect((await outboxSize())).toBe(before.outbox);
  });
});

describe("WebhookIngest: track_changed", () => {
  it("a microphone turned on is a participant_updated event carrying audio_on", async () => {
    const callId = await startCall();
    await ingest.ingest(webhook(joined(callId, "bob", "PA_b1")));
    const before = (await outboxSize());

    const notice: LiveKitNotice = { kind: "track_changed", room: roomOf(callId), identity: "bob", media: { audioOn: true } };
    expect(await ingest.ingest(webhook(notice))).toBe("processed");
    expect((await stored(callId)).participants.find((p) => p.userId === "bob")).toMatchObject({ audioOn: true, videoOn: false });
    const written = (await envelopes()).slice(before);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      type: "swp.call.participant_updated",
      tenant_id: TENANT,
      room_id: ROOM_ID,
      call_id: callId,
      data: { participant_id: "bob", audio_on: true, video_on: false },
    });

    // The same state reported again (another webhook id) writes nothing.
    expect(await ingest.ingest(webhook(notice))).toBe("processed");
    expect((await outboxSize())).toBe(before + 1);
  });

  it("a track change of someone not in the call changes nothing", async () => {
    const callId = await startCall();
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    const notice: LiveKitNotice = { kind: "track_changed", room: roomOf(callId), identity: "carol", media: { videoOn: true } };
    expect(await ingest.ingest(webhook(notice))).toBe("processed");
    expect((await stored(callId))).toEqual(before.call);
    expect((await outboxSize())).toBe(before.outbox);
  });
});

describe("WebhookIngest: room_finished", () => {
  it("ends a live call as room_finished, and a later report about it changes nothing", async () => {
    const callId = await startCall();
    const before = (await outboxSize());
    now = T0 + 30_000;
    expect(await ingest.ingest(webhook({ kind: "room_finished", room: roomOf(callId) }))).toBe("processed");
    expect((await stored(callId))).toMatchObject({ status: "ended", endReason: "room_finished", endedAt: T0 + 30_000, participants: [] });
    expect((await envelopes()).slice(before).map((e) => e.type)).toEqual([
      "swp.call.ring_stopped",
      "swp.call.missed",
      "swp.call.ring_stopped",
      "swp.call.missed",
      "swp.call.ended",
    ]);
    expect((await envelopes()).at(-1)?.data).toMatchObject({ end_reason: "room_finished" });

    const ended = { call: (await stored(callId)), outbox: (await outboxSize()) };
    now = T0 + 31_000;
    for (const notice of [
      { kind: "room_finished", room: roomOf(callId) },
      joined(callId, "bob", "PA_b1"),
      left(callId, "alice", "PA_a1"),
      { kind: "track_changed", room: roomOf(callId), identity: "alice", media: { audioOn: true } },
    ] satisfies LiveKitNotice[]) {
      expect(await ingest.ingest(webhook(notice)), notice.kind).toBe("processed");
    }
    expect((await stored(callId))).toEqual(ended.call);
    expect((await outboxSize())).toBe(ended.outbox);
  });
});

describe("WebhookIngest: a change that fails", () => {
  it("records nothing (not even the webhook id), so LiveKit's retry is processed", async () => {
    const callId = await startCall();
    const before = { call: (await stored(callId)), outbox: (await outboxSize()) };
    const join = webhook(joined(callId, "bob", "PA_b1"), { id: "EV_retry_me" });

    failOutboxWrites = true;
    await expect(ingest.ingest(join)).rejects.toThrow("disk I/O error (test)");
    expect(recordedWebhookIds()).toEqual([]);
    expect((await stored(callId))).toEqual(before.call);
    expect((await outboxSize())).toBe(before.outbox);

    failOutboxWrites = false;
    expect(await ingest.ingest(join)).toBe("processed");
    expect((await stored(callId)).status).toBe("active");
    expect(recordedWebhookIds()).toEqual(["EV_retry_me"]);
    expect(await ingest.ingest(join)).toBe("duplicate");
  });
});

describe("WebhookIngest: the request behind each event", () => {
  it("a webhook's events name the request that delivered it; a user's, theirs; reports and timers name none", async () => {
    const ticket = await useCases.initiate({ ...alice, requestId: "req-initiate" }, ROOM_ID, "audio");
    const callId = ticket.callId;
    let before = await outboxSize();
    expect(await ingest.ingest(webhook(joined(callId, "bob", "PA_b1")), "req-webhook")).toBe("processed");
    const byWebhook = (await envelopes()).slice(before);
    before = await outboxSize();
    // The reconciler applies LiveKit's state without a request; the ring timer runs without one.
    await useCases.applyReport(TENANT, callId, (c) => mediaChanged(c, "bob", { audioOn: true }));
    now = T0 + 60_000;
    await useCases.expireUnanswered();
    const byNoRequest = (await envelopes()).slice(before);

    const all = await envelopes();
    expect(all.filter((e) => e.request_id === "req-initiate").map((e) => e.type)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined",
      "swp.call.invite",
      "swp.call.invite",
    ]);
    expect(byWebhook.map((e) => [e.type, e.request_id])).toEqual([
      ["swp.call.participant_joined", "req-webhook"],
      ["swp.call.ring_stopped", "req-webhook"],
      ["swp.call.active", "req-webhook"],
    ]);
    expect(byNoRequest.map((e) => [e.type, e.request_id])).toEqual([
      ["swp.call.participant_updated", null],
      ["swp.call.ring_stopped", null],
      ["swp.call.missed", null],
      ["swp.call.invitee_updated", null],
    ]);
  });
});
