import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallsService, CallType } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { restApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, testStoreEnv, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * What the WebSocket tier sees on NATS: the exact event sequence per user
 * (`swp.user.<id>.call`) and per room (`swp.room.<id>.call`) for each way a
 * call can go, received by a core NATS subscriber.
 */

const livekit = sharedLiveKit();
let nats: NatsServer;
let service: RunningService;
let quickRing: RunningService;
let tap: EventTap;
let api: CallsApi;
let directory: ReturnType<typeof directoryClient>;

beforeAll(async () => {
  nats = await startNatsServer();
  service = await startService(livekit, { NATS_URL: nats.url });
  // A second instance with a 1 s ring timeout, on its own database.
  quickRing = await startService(livekit, { NATS_URL: nats.url, RING_TIMEOUT_SECONDS: "1" });
  tap = await EventTap.start(nats.url);
  api = restApi(service.baseUrl);
  directory = directoryClient(service.baseUrl);
});

afterAll(async () => {
  await tap?.close();
  await quickRing?.stop();
  await service?.stop();
  await nats?.stop();
});

const user = (id: string) => `swp.user.${id}.call`;
// A ring timeout fires at its deadline; the upper bounds below only rule out "much later"
// (a loaded machine may run the timer a moment late).
const LATE_MS = 5_000;
const room = (id: string) => `swp.room.${id}.call`;
const token = (id: string) => userToken(id);

describe("call events on NATS", () => {
  it("1:1 answered: the callee is rung, stops ringing on answer; the room sees every step", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "video");
    await api.join(await token("bob"), call_id);
    await api.end(await token("alice"), call_id);
    await tap.settle(service);

    expect(tap.sequence(user("bob"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(answered)"]);
    expect(tap.sequence(user("alice"), call_id)).toEqual([]);
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.participant_joined(bob)",
      "swp.call.active",
      "swp.call.ended(ended)",
    ]);
  });

  it("the envelope and the invite carry what the WebSocket tier needs", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "audio");
    await tap.settle(service);
    const invite = tap.forCall(call_id).find((e) => e.type === "swp.call.invite");
    expect(invite).toBeDefined();
    expect(Object.keys(invite ?? {})).toEqual(["id", "type", "ts", "tenant_id", "room_id", "call_id", "data", "request_id", "subject"]);
    expect(invite).toMatchObject({ tenant_id: "acme", room_id: roomId, call_id, subject: user("bob") });
    expect(invite?.id).toMatch(/^evt-[0-9a-z]{26}$/);
    expect(Date.parse(invite?.ts ?? "")).not.toBeNaN();
    // busy: false, bob is in no other call (a ring as call waiting says true).
    expect(invite?.data).toMatchObject({ caller_id: "alice", type: "audio", busy: false });
    // The call state, exactly as GetCall shows it.
    expect(invite?.data["call"]).toEqual(await api.get(await token("alice"), call_id));
    const ids = tap.forCall(call_id).map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("events name the request that caused them (X-Request-Id)", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const res = await fetch(`${service.baseUrl}/v1/calls/initiate`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token("alice")}`, "x-request-id": "req-from-the-client-42" },
      body: JSON.stringify({ room_id: roomId, type: "audio" }),
    });
    expect(res.headers.get("x-request-id")).toBe("req-from-the-client-42");
    const { data } = (await res.json()) as { data: { call_id: string } };
    await tap.settle(service);
    const caused = tap.forCall(data.call_id);
    expect(caused.map((e) => e.type)).toEqual(["swp.call.started", "swp.call.participant_joined", "swp.call.invite"]);
    expect(new Set(caused.map((e) => e.request_id))).toEqual(new Set(["req-from-the-client-42"]));

    // A generated id when the client sends none (or an unusable one).
    const anonymous = await fetch(`${service.baseUrl}/v1/calls/${data.call_id}`, {
      headers: { authorization: `Bearer ${await token("alice")}`, "x-request-id": "bad id with spaces" },
    });
    expect(anonymous.headers.get("x-request-id")).toMatch(/^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("over gRPC on the main port too: the events carry the id the answer names, the caller's or a fresh one", async () => {
    const client = createClient(CallsService, createGrpcTransport({ baseUrl: service.baseUrl }));
    for (const sent of ["grpc-main-req-7", "bad id with spaces"]) {
      const roomId = await directory.room({ alice: 0, bob: 0 });
      let answered: string | null = null;
      const { callId } = await client.initiateCall(
        { roomId, type: CallType.AUDIO },
        { headers: { authorization: `Bearer ${await token("alice")}`, "x-request-id": sent }, onHeader: (h) => (answered = h.get("x-request-id")) },
      );
      expect(answered, sent).toMatch(sent.includes(" ") ? /^req-/ : /^grpc-main-req-7$/);
      await tap.settle(service);
      expect(new Set(tap.forCall(callId).map((e) => e.request_id)), sent).toEqual(new Set([answered]));
    }
  });

  it("1:1 rejected: the callee's devices stop ringing and the call ends as rejected", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "audio");
    await api.reject(await token("bob"), call_id);
    await tap.settle(service);

    expect(tap.sequence(user("bob"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(rejected)"]);
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.rejected(bob)",
      "swp.call.ended(rejected)",
    ]);
  });

  it("group with one reject: the others keep ringing until they answer or the call ends", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0, carol: 0, dave: 0 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "video");
    await api.reject(await token("bob"), call_id);
    await api.join(await token("carol"), call_id);
    await api.end(await token("alice"), call_id);
    await tap.settle(service);

    expect(tap.sequence(user("bob"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(rejected)"]);
    expect(tap.sequence(user("carol"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(answered)"]);
    // Dave's phone still rang when the call ended: he missed it.
    expect(tap.sequence(user("dave"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(ended)", "swp.call.missed(ended)"]);
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.rejected(bob)",
      "swp.call.participant_joined(carol)",
      "swp.call.active",
      "swp.call.ended(ended)",
    ]);
  });

  it("glare: a second initiate joins the live call and rings nobody new", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0, carol: 0 });
    const first = await api.initiate(await token("alice"), roomId, "audio");
    const second = await api.initiate(await token("bob"), roomId, "audio");
    expect(second.call_id).toBe(first.call_id);
    await tap.settle(service);

    expect(tap.sequence(user("bob"), first.call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(answered)"]);
    expect(tap.sequence(user("carol"), first.call_id)).toEqual(["swp.call.invite"]);
    expect(tap.sequence(user("alice"), first.call_id)).toEqual([]);
    expect(tap.sequence(room(roomId), first.call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.participant_joined(bob)",
      "swp.call.active",
    ]);
    await api.end(await token("alice"), first.call_id);
  });

  it("ring timeout: nobody answers, each callee missed it, the call ends as no_answer and ringing stops everywhere", async () => {
    const roomId = await directoryClient(quickRing.baseUrl).room({ alice: 0, bob: 0, carol: 0 });
    const quick = restApi(quickRing.baseUrl);
    const { call_id } = await quick.initiate(await token("alice"), roomId, "audio");
    // The call ends on its own: await its ended event rather than sleeping.
    await tap.waitFor((e) => e.call_id === call_id && e.type === "swp.call.ended", 1000 + LATE_MS);
    const state = await quick.get(await token("alice"), call_id);
    expect(state).toMatchObject({ status: "ended", end_reason: "no_answer" });
    const ringMs = Date.parse(state.ended_at ?? "") - Date.parse(state.started_at);
    expect(ringMs).toBeGreaterThanOrEqual(1000);
    expect(ringMs).toBeLessThan(1000 + LATE_MS);
    await tap.settle(quickRing);

    for (const callee of ["bob", "carol"]) {
      expect(tap.sequence(user(callee), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(timeout)", "swp.call.missed(timeout)"]);
    }
    // No invitee_updated: the rings ran out with the call, and the end's call shows where everyone stands.
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.ended(no_answer)",
    ]);
    const ended = tap.forCall(call_id).find((e) => e.type === "swp.call.ended");
    expect((ended?.data["call"] as { invitees: { state: string }[] }).invitees.map((i) => i.state)).toEqual(["missed", "missed"]);
    const missed = tap.forCall(call_id).find((e) => e.type === "swp.call.missed" && e.subject === user("bob"));
    expect(missed?.data).toMatchObject({ caller_id: "alice", type: "audio", reason: "timeout" });
    // The initiate's events name its request; the ring timer's were caused by none.
    const byTimer = new Set(["swp.call.ring_stopped", "swp.call.missed", "swp.call.ended"]);
    const requestIds = (timer: boolean) => tap.forCall(call_id).filter((e) => byTimer.has(e.type) === timer).map((e) => e.request_id);
    expect(requestIds(false)).toEqual([expect.stringMatching(/^req-/), expect.stringMatching(/^req-/), expect.stringMatching(/^req-/), expect.stringMatching(/^req-/)]);
    expect(requestIds(true)).toEqual([null, null, null, null, null]);
  });

  it("end by a moderator who is not in the call", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0, carol: 0, mod: 50 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "video");
    await api.join(await token("bob"), call_id);
    await api.end(await token("mod"), call_id);
    await tap.settle(service);

    expect(tap.sequence(user("carol"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(ended)", "swp.call.missed(ended)"]);
    expect(tap.sequence(user("mod"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(ended)", "swp.call.missed(ended)"]);
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.participant_joined(bob)",
      "swp.call.active",
      "swp.call.ended(ended)",
    ]);
  });

  it("last leave ends the call", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "audio");
    await api.join(await token("bob"), call_id);
    await api.leave(await token("alice"), call_id);
    await api.leave(await token("bob"), call_id);
    await tap.settle(service);

    expect(tap.sequence(user("bob"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(answered)"]);
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.participant_joined(bob)",
      "swp.call.active",
      "swp.call.participant_left(alice)",
      "swp.call.participant_left(bob)",
      "swp.call.ended(all_left)",
    ]);
  });

  it("the caller gives up before anyone answers: each callee missed it, as canceled", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { call_id } = await api.initiate(await token("alice"), roomId, "video");
    const canceled = await api.leave(await token("alice"), call_id);
    expect(canceled).toMatchObject({ status: "ended", end_reason: "canceled" });
    expect(canceled.invitees).toEqual([expect.objectContaining({ user_id: "bob", state: "canceled", ring_deadline: null })]);
    await tap.settle(service);

    expect(tap.sequence(user("bob"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(ended)", "swp.call.missed(canceled)"]);
    expect(tap.sequence(room(roomId), call_id)).toEqual([
      "swp.call.started",
      "swp.call.participant_joined(alice)",
      "swp.call.participant_left(alice)",
      "swp.call.ended(canceled)",
    ]);
  });

  it("the ring deadline is durable: a restart during ringing still ends the call on time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-ring-"));
    // The same store for both lives of the service (a SQLite file, or one PostgreSQL database).
    const env = { NATS_URL: nats.url, RING_TIMEOUT_SECONDS: "2", DATABASE_PATH: join(dir, "calls.db"), ...(await testStoreEnv()) };
    try {
      const before = await startService(livekit, env);
      const roomId = await directoryClient(before.baseUrl).room({ alice: 0, bob: 0 });
      const { call_id } = await restApi(before.baseUrl).initiate(await token("alice"), roomId, "audio");
      await before.stop();

      const after = await startService(livekit, env);
      try {
        await tap.waitFor((e) => e.call_id === call_id && e.type === "swp.call.ended", 2000 + LATE_MS);
        const state = await restApi(after.baseUrl).get(await token("alice"), call_id);
        expect(state).toMatchObject({ status: "ended", end_reason: "no_answer" });
        const ringMs = Date.parse(state.ended_at ?? "") - Date.parse(state.started_at);
        expect(ringMs).toBeGreaterThanOrEqual(2000);
        expect(ringMs).toBeLessThan(2000 + LATE_MS);
        await tap.settle(after);
        expect(tap.sequence(user("bob"), call_id)).toEqual(["swp.call.invite", "swp.call.ring_stopped(timeout)", "swp.call.missed(timeout)"]);
      } finally {
        await after.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
