import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";
import { userToken } from "../support/tokens.js";

/** Webhooks we forge, replay and reorder ourselves: verified on the raw body, idempotent, order-safe. */

const livekit = sharedLiveKit();
let nats: NatsServer;
let service: RunningService;
let tap: EventTap;
let api: CallsApi;

beforeAll(async () => {
  nats = await startNatsServer();
  service = await startService(livekit, { NATS_URL: nats.url, RECONCILE_INTERVAL_SECONDS: "0" });
  tap = await EventTap.start(nats.url);
  api = restApi(service.baseUrl);
});

afterAll(async () => {
  await tap?.close();
  await service?.stop();
  await nats?.stop();
});

const sign = (body: string, opts?: { expiresInSeconds?: number }) => signWebhook(body, livekit.apiKey, livekit.apiSecret, opts);

async function newCall(): Promise<{ callId: string; room: string; roomId: string }> {
  const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
  const ticket = await api.initiate(await userToken("alice"), roomId, "audio");
  return { callId: ticket.call_id, room: ticket.livekit_room, roomId };
}

const joined = (room: string, identity: string, sid: string, createdAt?: number) =>
  webhookBody({
    event: "participant_joined",
    room: { sid: "RM_1", name: room },
    participant: { sid, identity, state: "ACTIVE" },
    ...(createdAt !== undefined && { createdAt: String(createdAt) }),
  });
const left = (room: string, identity: string, sid: string, createdAt?: number) =>
  webhookBody({
    event: "participant_left",
    room: { sid: "RM_1", name: room },
    participant: { sid, identity, state: "DISCONNECTED" },
    ...(createdAt !== undefined && { createdAt: String(createdAt) }),
  });

const eventCount = async (callId: string) => {
  await tap.settle(service);
  return tap.forCall(callId).length;
};

describe("POST /v1/calls/webhook", () => {
  it("a correctly signed participant_joined makes the member a participant and the call active", async () => {
    const { callId, room } = await newCall();
    const body = joined(room, "bob", "PA_bob1");
    const res = await postWebhook(service.baseUrl, body, await sign(body));
    expect(res).toEqual({ status: 200, json: { data: { outcome: "processed" } } });
    const call = await api.get(await userToken("alice"), callId);
    expect(call.status).toBe("active");
    expect(call.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);
  });

  it("the events a webhook causes, and its log line, name its request (X-Request-Id)", async () => {
    const { callId, room } = await newCall();
    const body = joined(room, "bob", "PA_bob_req");
    const res = await fetch(`${service.baseUrl}/v1/calls/webhook`, {
      method: "POST",
      headers: { "content-type": "application/webhook+json", authorization: await sign(body), "x-request-id": "livekit-delivery-9" },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("livekit-delivery-9");
    await tap.settle(service);
    const caused = tap.forCall(callId).filter((e) => e.request_id === "livekit-delivery-9").map((e) => e.type);
    expect(caused).toEqual(["swp.call.participant_joined", "swp.call.ring_stopped", "swp.call.active"]);
    const logged = service.logs
      .map((line) => JSON.parse(line) as { msg: string; requestId?: string; outcome?: string })
      .filter((entry) => entry.msg === "webhook" && entry.requestId === "livekit-delivery-9");
    expect(logged).toEqual([expect.objectContaining({ outcome: "processed" })]);
  });

  it("refuses unsigned, wrongly signed, tampered, expired and foreign-key webhooks with 401, changing nothing", async () => {
    const { callId, room } = await newCall();
    const body = joined(room, "bob", "PA_bob2");
    const before = await api.get(await userToken("alice"), callId);
    const eventsBefore = await eventCount(callId);
    const attempts: [string, string, string | undefined][] = [
      ["unsigned", body, undefined],
      ["garbage", body, "not-a-jwt"],
      ["wrong secret", body, await signWebhook(body, livekit.apiKey, "some-other-secret-some-other-secret")],
      ["unknown key", body, await signWebhook(body, "APIunknown", livekit.apiSecret)],
      ["tampered body", body.replace('"bob"', '"eve"'), await sign(body)],
      ["expired", body, await sign(body, { expiresInSeconds: -120 })],
      ["Bearer prefix is not LiveKit's scheme", body, `Bearer ${await sign(body)}`],
    ];
    for (const [what, sentBody, authorization] of attempts) {
      const res = await postWebhook(service.baseUrl, sentBody, authorization);
      expect(res.status, what).toBe(401);
      expect(res.json, what).toEqual({
        error: { code: "SW_CALL_UNAUTHENTICATED", message: "webhook signature is missing or invalid" },
      });
    }
    expect(await api.get(await userToken("alice"), callId)).toEqual(before);
    expect(await eventCount(callId)).toBe(eventsBefore);
    // Rejections are logged with their reason, never with the token or the secret.
    const rejections = service.logs.filter((l) => l.includes("webhook rejected"));
    expect(rejections.length).toBeGreaterThanOrEqual(attempts.length);
    // Each names its request (these deliveries sent no X-Request-Id: a generated one).
    for (const line of rejections) expect((JSON.parse(line) as { requestId?: string }).requestId).toMatch(/^req-/);
    for (const line of service.logs) {
      expect(line).not.toContain(livekit.apiSecret);
      expect(line).not.toContain((await sign(body)).split(".")[2]);
    }
  });

  it("a replayed webhook changes nothing and produces no event", async () => {
    const { callId, room } = await newCall();
    const body = joined(room, "bob", "PA_bob3");
    const auth = await sign(body);
    expect((await postWebhook(service.baseUrl, body, auth)).json).toEqual({ data: { outcome: "processed" } });
    const state = await api.get(await userToken("alice"), callId);
    const events = await eventCount(callId);
    for (let i = 0; i < 3; i++) {
      expect((await postWebhook(service.baseUrl, body, auth)).json).toEqual({ data: { outcome: "duplicate" } });
    }
    expect(await api.get(await userToken("alice"), callId)).toEqual(state);
    expect(await eventCount(callId)).toBe(events);
  });

  it("out of order: a left of an older session, or older than the latest join, is ignored; a left without a joined is fine", async () => {
    const { callId, room } = await newCall();
    const now = Math.floor(Date.now() / 1000);
    // Bob's second session joined; the left of his first session arrives late.
    for (const body of [joined(room, "bob", "PA_second", now), left(room, "bob", "PA_first", now - 5)]) {
      expect((await postWebhook(service.baseUrl, body, await sign(body))).status).toBe(200);
    }
    let call = await api.get(await userToken("alice"), callId);
    expect(call.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);

    // Alice's join through the API is newer than this left, whose joined we never saw: ignored.
    const stale = left(room, "alice", "PA_alice_old", now - 60);
    expect((await postWebhook(service.baseUrl, stale, await sign(stale))).json).toEqual({ data: { outcome: "processed" } });
    call = await api.get(await userToken("alice"), callId);
    expect(call.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);

    // A current left without ever a joined for alice: she is gone.
    const current = left(room, "alice", "PA_alice_now", now + 1);
    await postWebhook(service.baseUrl, current, await sign(current));
    call = await api.get(await userToken("alice"), callId);
    expect(call.participants.map((p) => p.participant_id)).toEqual(["bob"]);
  });

  it("tracks turn audio/video on and off (participant_updated); room_finished ends the call", async () => {
    const { callId, room } = await newCall();
    const track = (event: string, track: Record<string, unknown>) =>
      webhookBody({ event, room: { sid: "RM_1", name: room }, participant: { sid: "PA_a", identity: "alice" }, track });
    const steps: [string, boolean, boolean][] = [
      // AUDIO is the zero value of TrackType: LiveKit's JSON omits it.
      [track("track_published", { sid: "TR_mic", source: "MICROPHONE" }), true, false],
      [track("track_published", { sid: "TR_cam", type: "VIDEO", source: "CAMERA" }), true, true],
      [track("track_published", { sid: "TR_screen", type: "VIDEO", source: "SCREEN_SHARE" }), true, true],
      [track("track_unpublished", { sid: "TR_mic", source: "MICROPHONE" }), false, true],
    ];
    for (const [body, audioOn, videoOn] of steps) {
      await postWebhook(service.baseUrl, body, await sign(body));
      const alice = (await api.get(await userToken("alice"), callId)).participants[0];
      expect(alice).toMatchObject({ participant_id: "alice", audio_on: audioOn, video_on: videoOn });
    }
    await tap.settle(service);
    expect(tap.sequence(`swp.room.${(await api.get(await userToken("alice"), callId)).room_id}.call`, callId).filter((t) => t.startsWith("swp.call.participant_updated"))).toEqual([
      "swp.call.participant_updated(alice)",
      "swp.call.participant_updated(alice)",
      "swp.call.participant_updated(alice)",
    ]);

    const finished = webhookBody({ event: "room_finished", room: { sid: "RM_1", name: room } });
    await postWebhook(service.baseUrl, finished, await sign(finished));
    expect(await api.get(await userToken("alice"), callId)).toMatchObject({ status: "ended", end_reason: "room_finished" });
  });

  it("unknown events, other rooms and egress events: 200, ignored", async () => {
    for (const event of [
      webhookBody({ event: "ingress_started" }),
      webhookBody({ event: "participant_joined", room: { name: "not-ours" }, participant: { sid: "PA_x", identity: "x" } }),
      webhookBody({ event: "egress_started", egressInfo: { egressId: "EG_1", roomName: "scaiwave-call-x" } }),
      webhookBody({ event: "something_new_in_livekit_2" }),
    ]) {
      const res = await postWebhook(service.baseUrl, event, await sign(event));
      expect(res).toEqual({ status: 200, json: { data: { outcome: "ignored" } } });
    }
  });

  it("wrong method: 405; a body over 1 MiB: 413", async () => {
    const get = await fetch(`${service.baseUrl}/v1/calls/webhook`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const huge = webhookBody({ event: "room_started", pad: "x".repeat(1024 * 1024) });
    const res = await postWebhook(service.baseUrl, huge, await sign(huge));
    expect(res.status).toBe(413);
  });
});
