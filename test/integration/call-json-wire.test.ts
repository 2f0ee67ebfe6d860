import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Call } from "../../src/domain/call.js";
import { renderCallJson } from "../../src/transport/rest/call-json.js";
import { restApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";

/**
 * renderCallJson against the real service: calls driven over REST through
 * their states (ringing, active with three participants and their media,
 * declined, busy, missed and rung-again members, every way a call ends), and
 * at each step the raw bytes GET /v1/calls/{id} answers must be exactly
 * `{"data":` + renderCallJson(the stored call) + `}`.
 *
 * The service's clock is the test's: it moves only when the test moves it,
 * to times with and without milliseconds (`…:03Z`, `…:03.120Z`), and past the
 * ring timeout when a ring should run out.
 */

const RING_TIMEOUT_MS = 60_000;
const TENANT = "acme";
const livekit = sharedLiveKit();
let now = Math.ceil(Date.now() / 1000) * 1000;
let service: RunningService;
let api: CallsApi;
let directory: ReturnType<typeof directoryClient>;

beforeAll(async () => {
  service = await startService(
    livekit,
    {
      RING_TIMEOUT_SECONDS: String(RING_TIMEOUT_MS / 1000),
      // Nobody connects media here: reconciliation would take the API's participants for ghosts.
      RECONCILE_INTERVAL_SECONDS: "0",
    },
    { clock: { now: () => now } },
  );
  api = restApi(service.baseUrl);
  directory = directoryClient(service.baseUrl);
});

afterAll(async () => {
  await service?.stop();
});

/** Moves the service's clock to the next whole second, plus `ms`. */
const atSecondPlus = (ms: number) => {
  now = Math.floor(now / 1000) * 1000 + 1000 + ms;
};

const as = (user: string) => userToken(user, TENANT);

async function storedCall(callId: string): Promise<Call> {
  const call = await service.app.store.calls.findCall(TENANT, callId);
  if (!call) throw new Error(`call ${callId} is not in the store`);
  return call;
}

async function rawRequest(user: string, method: string, path: string, body?: unknown): Promise<string> {
  const res = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${await as(user)}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return text;
}

/**
 * GET /v1/calls/{id}'s bytes are the envelope around renderCallJson of the
 * stored call; returns that call. No call here is recorded, so the expected
 * bytes say `"recordings":[]` (recordings are pinned by the unit test).
 */
async function expectGetCallBytes(callId: string, user = "alice"): Promise<Call> {
  const body = await rawRequest(user, "GET", `/v1/calls/${callId}`);
  const call = await storedCall(callId);
  expect(body).toBe(`{"data":${renderCallJson(call)}}`);
  return call;
}

const states = (call: Call) => Object.fromEntries(call.invitees.map((i) => [i.userId, i.state]));
const media = (call: Call) => Object.fromEntries(call.participants.map((p) => [p.userId, { audio: p.audioOn, video: p.videoOn }]));

async function postSignedWebhook(event: Record<string, unknown>): Promise<void> {
  const body = webhookBody(event);
  const { status, json } = await postWebhook(service.baseUrl, body, await signWebhook(body, livekit.apiKey, livekit.apiSecret));
  expect(status, JSON.stringify(json)).toBe(200);
}

const published = (room: string, identity: string, track: Record<string, unknown>) =>
  postSignedWebhook({ event: "track_published", room: { sid: "RM_1", name: room }, participant: { sid: `PA_${identity}`, identity }, track });

const MIC = { sid: "TR_mic", source: "MICROPHONE" };
const CAMERA = { sid: "TR_cam", type: "VIDEO", source: "CAMERA" };

describe("GET /v1/calls/{id} bytes are renderCallJson's", () => {
  it("through a group call: ringing, busy, answered, declined, media on and muted, missed, rung again, ended", async () => {
    // Dave is in another call when the group call starts: his phone rings as call waiting.
    const otherRoom = await directory.room({ frank: 0, dave: 0 });
    const other = await api.initiate(await as("frank"), otherRoom, "audio");
    await api.join(await as("dave"), other.call_id);

    atSecondPlus(0);
    const roomId = await directory.room({ alice: 100, bob: 0, carol: 0, dave: 0, erin: 0, gus: 0 });
    const { call_id: callId, livekit_room: room } = await api.initiate(await as("alice"), roomId, "video");
    const ringing = await expectGetCallBytes(callId);
    expect(ringing.status).toBe("ringing");
    expect(states(ringing)).toEqual({ bob: "ringing", carol: "ringing", dave: "busy", erin: "ringing", gus: "ringing" });
    expect(ringing.startedAt % 1000).toBe(0);

    atSecondPlus(120);
    await api.join(await as("bob"), callId);
    atSecondPlus(1);
    await api.reject(await as("carol"), callId);
    atSecondPlus(999);
    await api.join(await as("gus"), callId);
    const active = await expectGetCallBytes(callId, "bob");
    expect(active.status).toBe("active");
    expect(active.participants.map((p) => p.userId)).toEqual(["alice", "bob", "gus"]);
    expect(states(active)).toEqual({ bob: "answered", carol: "rejected", dave: "busy", erin: "ringing", gus: "answered" });

    // LiveKit reports media (signed webhooks); then a moderator mutes Bob's microphone.
    await published(room, "alice", MIC);
    await published(room, "bob", MIC);
    await published(room, "bob", CAMERA);
    await published(room, "gus", { ...MIC, muted: true });
    expect(media(await expectGetCallBytes(callId))).toEqual({
      alice: { audio: true, video: false },
      bob: { audio: true, video: true },
      gus: { audio: false, video: false },
    });
    const muteBody = await rawRequest("alice", "POST", `/v1/calls/${callId}/participants/bob/mute`, { audio: true });
    const muted = await expectGetCallBytes(callId);
    expect(media(muted)["bob"]).toEqual({ audio: false, video: true });
    // The mute answer shows the same call.
    expect(muteBody).toBe(`{"data":${renderCallJson(muted)}}`);

    // Erin lets it ring out; Dave's ring runs out too, and he stays busy.
    now += RING_TIMEOUT_MS;
    await expect.poll(async () => states(await storedCall(callId))["erin"]).toBe("missed");
    const rungOut = await expectGetCallBytes(callId);
    expect(states(rungOut)).toEqual({ bob: "answered", carol: "rejected", dave: "busy", erin: "missed", gus: "answered" });
    expect(rungOut.invitees.every((i) => i.ringDeadline === null)).toBe(true);

    atSecondPlus(250);
    await api.ring(await as("bob"), callId, ["erin"]);
    const rungAgain = await expectGetCallBytes(callId);
    expect(rungAgain.invitees.find((i) => i.userId === "erin")).toMatchObject({ state: "ringing", ringDeadline: now + RING_TIMEOUT_MS });

    // GET /v1/calls: every live call of Dave's rooms (this one and his own), newest first, each as renderCallJson writes it.
    const listBody = await rawRequest("dave", "GET", "/v1/calls");
    const live = await service.app.store.calls.listLiveCallsForMember(TENANT, "dave", 100);
    expect(live.map((c) => c.id)).toEqual([callId, other.call_id]);
    expect(listBody).toBe(`{"data":[${live.map((c) => renderCallJson(c)).join(",")}]}`);

    atSecondPlus(7);
    await api.end(await as("alice"), callId);
    const ended = await expectGetCallBytes(callId);
    expect(ended).toMatchObject({ status: "ended", endReason: "ended", endedBy: "alice", endedAt: now, participants: [] });
    expect(states(ended)["erin"]).toBe("missed");

    await api.end(await as("frank"), other.call_id);
    await expectGetCallBytes(other.call_id, "frank");
  });

  /** A 1:1 call between Alice and Bob, started at a fresh second plus `ms`. */
  async function oneToOne(ms: number, type: "audio" | "video" = "audio") {
    atSecondPlus(ms);
    const roomId = await directory.room({ alice: 0, bob: 0 });
    return api.initiate(await as("alice"), roomId, type);
  }

  it("ends as rejected: the only member rung declines", async () => {
    const { call_id: callId } = await oneToOne(5);
    atSecondPlus(50);
    await api.reject(await as("bob"), callId);
    const call = await expectGetCallBytes(callId, "bob");
    expect(call).toMatchObject({ status: "ended", endReason: "rejected", endedBy: null });
    expect(states(call)).toEqual({ bob: "rejected" });
  });

  it("ends as canceled: the caller hangs up while it rings", async () => {
    const { call_id: callId } = await oneToOne(10, "video");
    atSecondPlus(0);
    await api.leave(await as("alice"), callId);
    const call = await expectGetCallBytes(callId);
    expect(call).toMatchObject({ status: "ended", endReason: "canceled" });
    expect(states(call)).toEqual({ bob: "canceled" });
  });

  it("ends as no_answer: nobody answers in time", async () => {
    const { call_id: callId } = await oneToOne(333);
    expect((await expectGetCallBytes(callId)).invitees[0]?.ringDeadline).toBe(now + RING_TIMEOUT_MS);
    now += RING_TIMEOUT_MS;
    await expect.poll(async () => (await storedCall(callId)).endReason).toBe("no_answer");
    const call = await expectGetCallBytes(callId);
    expect(states(call)).toEqual({ bob: "missed" });
  });

  it("ends as all_left: everyone in the active call leaves", async () => {
    const { call_id: callId } = await oneToOne(40);
    atSecondPlus(400);
    await api.join(await as("bob"), callId);
    atSecondPlus(4);
    await api.leave(await as("alice"), callId);
    expect((await expectGetCallBytes(callId, "bob")).participants.map((p) => p.userId)).toEqual(["bob"]);
    atSecondPlus(0);
    await api.leave(await as("bob"), callId);
    expect(await expectGetCallBytes(callId)).toMatchObject({ status: "ended", endReason: "all_left" });
  });

  it("ends as room_finished: LiveKit reports the room gone", async () => {
    const { call_id: callId, livekit_room: room } = await oneToOne(2, "video");
    atSecondPlus(20);
    await api.join(await as("bob"), callId);
    atSecondPlus(0);
    await postSignedWebhook({ event: "room_finished", room: { sid: "RM_1", name: room } });
    expect(await expectGetCallBytes(callId)).toMatchObject({ status: "ended", endReason: "room_finished", participants: [] });
  });
});
