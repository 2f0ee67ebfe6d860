import { dispose } from "@livekit/rtc-node";
import { RoomServiceClient } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mediaStateOf } from "../../src/adapters/livekit/media-state.js";
import { restApi, type ApiCall, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { joinMedia } from "../support/rtc-participant.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { userToken } from "../support/tokens.js";
import { startWebhookRecorder } from "../support/webhook-recorder.js";
import { subscribeToWebhooks } from "../support/webhook-hub.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";

/**
 * Webhooks arrive duplicated, reordered, or not at all; one reconcile pass
 * against LiveKit must leave every call exactly as LiveKit sees it.
 */

const livekit = sharedLiveKit();
let recorder: Awaited<ReturnType<typeof startWebhookRecorder>>;
let recording: Awaited<ReturnType<typeof subscribeToWebhooks>>;
let service: RunningService;
let api: CallsApi;
let lkRooms: RoomServiceClient;

beforeAll(async () => {
  // LiveKit's webhooks (of every room on the shared server) are recorded, not delivered.
  recorder = await startWebhookRecorder();
  recording = await subscribeToWebhooks(livekit.webhookHubUrl, recorder.url);
  // Webhooks reach the service only as the test replays them; reconcile runs when the test says.
  service = await startService(livekit, { RECONCILE_INTERVAL_SECONDS: "0", RECONCILE_JOIN_GRACE_SECONDS: "0" });
  api = restApi(service.baseUrl);
  lkRooms = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);
});

afterAll(async () => {
  await service?.stop();
  await recording?.unsubscribe();
  await recorder?.close();
  await dispose();
});

/** A small deterministic PRNG (mulberry32), so a failing shuffle can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What LiveKit reports for a room, in the call state's terms. */
async function liveKitView(room: string) {
  return (await lkRooms.listParticipants(room))
    .map((p) => ({ participant_id: p.identity, ...mediaStateOf(p.tracks) }))
    .map(({ participant_id, audioOn, videoOn }) => ({ participant_id, audio_on: audioOn, video_on: videoOn }))
    .sort((a, b) => a.participant_id.localeCompare(b.participant_id));
}

/** Waits until LiveKit's view of the room matches: LiveKit applies a publish asynchronously. */
async function untilLiveKitShows(room: string, expected: unknown): Promise<void> {
  await expect.poll(() => liveKitView(room), { timeout: 20_000, interval: 25 }).toEqual(expected);
}

const ourView = (call: ApiCall) =>
  call.participants
    .map(({ participant_id, audio_on, video_on }) => ({ participant_id, audio_on, video_on }))
    .sort((a, b) => a.participant_id.localeCompare(b.participant_id));

describe("chaos: lost, duplicated and reordered webhooks, then one reconcile pass", () => {
  it("ends with exactly what LiveKit reports", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0, carol: 0 });
    const alice = await userToken("alice");
    const ticket = await api.initiate(alice, roomId, "audio");
    const bobTicket = await api.join(await userToken("bob"), ticket.call_id);
    const carolTicket = await api.join(await userToken("carol"), ticket.call_id);

    // Real media sessions produce real, signed webhooks (recorded, not delivered).
    const aliceMedia = await joinMedia(ticket.livekit_url, ticket.livekit_token, "alice");
    const bobMedia = await joinMedia(bobTicket.livekit_url, bobTicket.livekit_token, "bob");
    const carolMedia = await joinMedia(carolTicket.livekit_url, carolTicket.livekit_token, "carol");
    try {
      await aliceMedia.publishAudio();
      await carolMedia.publishAudio();
      await bobMedia.leave();
      const fromRoom = (event: string, identity: string) => (w: { body: string; event: string }) =>
        w.event === event && w.body.includes(ticket.livekit_room) && w.body.includes(`"identity":"${identity}"`);
      await recorder.waitFor(fromRoom("participant_left", "bob"));
      await recorder.waitFor(fromRoom("track_published", "alice"));
      await recorder.waitFor(fromRoom("track_published", "carol"));
      const recorded = recorder.recorded.filter((w) => w.body.includes(ticket.livekit_room));
      expect(recorded.length).toBeGreaterThanOrEqual(7);

      // 30% dropped, 30% of the rest sent twice, all shuffled.
      const random = prng(20261123);
      const delivered = recorded.filter(() => random() >= 0.3).flatMap((w) => (random() < 0.3 ? [w, w] : [w]));
      for (let i = delivered.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [delivered[i], delivered[j]] = [delivered[j]!, delivered[i]!];
      }
      for (const w of delivered) {
        const res = await postWebhook(service.baseUrl, w.body, w.authorization);
        expect(res.status, w.event).toBe(200);
      }

      await service.app.reconciler.runOnce();
      const state = await api.get(alice, ticket.call_id);
      expect(state.status).toBe("active");
      expect(ourView(state)).toEqual(await liveKitView(ticket.livekit_room));
      expect(ourView(state)).toEqual([
        { participant_id: "alice", audio_on: true, video_on: false },
        { participant_id: "carol", audio_on: true, video_on: false },
      ]);
    } finally {
      await aliceMedia.leave();
      await carolMedia.leave();
    }
  });

  it("reconcile removes ghosts, adds missed joins, and ends calls whose room is gone", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const ticket = await api.initiate(alice, roomId, "audio");
    // A ghost: LiveKit once said bob joined, but he is not there now.
    const ghost = webhookBody({
      event: "participant_joined",
      room: { name: ticket.livekit_room },
      participant: { sid: "PA_ghost", identity: "bob" },
    });
    await postWebhook(service.baseUrl, ghost, await signWebhook(ghost, livekit.apiKey, livekit.apiSecret));
    expect(ourView(await api.get(alice, ticket.call_id)).map((p) => p.participant_id)).toEqual(["alice", "bob"]);

    // Alice's media connects, but that webhook was lost (the service gets none here).
    const media = await joinMedia(ticket.livekit_url, ticket.livekit_token, "alice");
    try {
      await media.publishAudio();
      const expected = [{ participant_id: "alice", audio_on: true, video_on: false }];
      await untilLiveKitShows(ticket.livekit_room, expected);
      await service.app.reconciler.runOnce();
      expect(ourView(await api.get(alice, ticket.call_id))).toEqual(expected);
    } finally {
      await media.leave();
    }

    // The room disappears behind our back: the next pass ends the call.
    await lkRooms.deleteRoom(ticket.livekit_room);
    await service.app.reconciler.runOnce();
    expect(await api.get(alice, ticket.call_id)).toMatchObject({ status: "ended", end_reason: "room_finished" });
  });

  it("changes nothing when LiveKit cannot be asked", async () => {
    const proxy = await startTcpProxy(Number(new URL(livekit.httpUrl).port));
    const cutOff = await startService(
      { ...livekit, httpUrl: `http://127.0.0.1:${proxy.port}` },
      { RECONCILE_INTERVAL_SECONDS: "0", RECONCILE_JOIN_GRACE_SECONDS: "0" },
    );
    try {
      const roomId = await directoryClient(cutOff.baseUrl).room({ alice: 0, bob: 0 });
      const alice = await userToken("alice");
      const { call_id } = await restApi(cutOff.baseUrl).initiate(alice, roomId, "audio");
      const before = await restApi(cutOff.baseUrl).get(alice, call_id);
      // Reachable, alice (never connected, no grace) would be removed and the call canceled; unreachable, nothing moves.
      await proxy.cut();
      expect(await cutOff.app.reconciler.runOnce()).toBe(0);
      expect(await restApi(cutOff.baseUrl).get(alice, call_id)).toEqual(before);
      await proxy.restore();
      expect(await cutOff.app.reconciler.runOnce()).toBe(1);
      expect(await restApi(cutOff.baseUrl).get(alice, call_id)).toMatchObject({ status: "ended", end_reason: "canceled" });
    } finally {
      await cutOff.stop();
      await proxy.close();
    }
  });
});
