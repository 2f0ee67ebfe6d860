import { dispose, RoomEvent } from "@livekit/rtc-node";
import { RoomServiceClient, TrackType } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { joinMedia } from "../support/rtc-participant.js";
import { within } from "../support/wait.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * The real livekit-server sends its real, signed webhooks to the service; real
 * participants (@livekit/rtc-node) connect with tokens the service minted.
 */

const livekit = sharedLiveKit();
let nats: NatsServer;
let service: RunningService;
let tap: EventTap;
let api: CallsApi;
let lkRooms: RoomServiceClient;

beforeAll(async () => {
  nats = await startNatsServer();
  // Reconcile only when a test asks: these tests are about webhooks.
  service = await startService(livekit, { NATS_URL: nats.url, RECONCILE_INTERVAL_SECONDS: "0" }, {}, { liveKitWebhooks: true });
  tap = await EventTap.start(nats.url);
  api = restApi(service.baseUrl);
  lkRooms = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);
});

afterAll(async () => {
  await tap?.close();
  await service?.stop();
  await nats?.stop();
  await dispose();
});

const updatedFor = (callId: string, userId: string, audioOn: boolean) => (e: { call_id: string; type: string; data: Record<string, unknown> }) =>
  e.call_id === callId && e.type === "swp.call.participant_updated" && e.data["participant_id"] === userId && e.data["audio_on"] === audioOn;

describe("webhooks from the real livekit-server", () => {
  it("a real participant's audio shows as audio_on, and their leaving ends the call", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const ticket = await api.initiate(alice, roomId, "audio");

    const media = await joinMedia(ticket.livekit_url, ticket.livekit_token, "alice");
    try {
      await media.publishAudio();
      // LiveKit's track_published webhook turns audio on: await the event it produces.
      await tap.waitFor(updatedFor(ticket.call_id, "alice", true));
      const state = await api.get(alice, ticket.call_id);
      expect(state.participants).toEqual([
        expect.objectContaining({ participant_id: "alice", audio_on: true, video_on: false }),
      ]);
    } finally {
      await media.leave();
    }
    // participant_left from LiveKit: the only participant is gone, so the call ends.
    await tap.waitFor((e) => e.call_id === ticket.call_id && e.type === "swp.call.ended");
    expect(await api.get(alice, ticket.call_id)).toMatchObject({ status: "ended", end_reason: "canceled", participants: [] });
  });

  it("a member who connects with a token but never called join still shows up (LiveKit is the truth)", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    const ticket = await api.initiate(alice, roomId, "video");
    const bobTicket = await api.join(bob, ticket.call_id);
    // Bob leaves through the API but his device still connects with the token he got.
    await api.leave(bob, ticket.call_id);
    const media = await joinMedia(bobTicket.livekit_url, bobTicket.livekit_token, "bob");
    try {
      await tap.waitFor(
        (e) =>
          e.call_id === ticket.call_id &&
          e.type === "swp.call.participant_joined" &&
          e.data["participant_id"] === "bob" &&
          tap.forCall(ticket.call_id).filter((x) => x.type === "swp.call.participant_joined" && x.data["participant_id"] === "bob").length === 2,
      );
      const state = await api.get(alice, ticket.call_id);
      expect(state.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);
    } finally {
      await media.leave();
    }
    await api.end(alice, ticket.call_id);
  });

  it("host controls: a moderator mutes a participant in LiveKit, then removes them", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0, mod: 50 });
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    const mod = await userToken("mod");
    const ticket = await api.initiate(alice, roomId, "audio");
    const bobTicket = await api.join(bob, ticket.call_id);
    // Alice is really in the room too: a call whose only connected member is removed would
    // empty the LiveKit room, which LiveKit closes after its departure timeout (the call ends).
    const aliceMedia = await joinMedia(ticket.livekit_url, ticket.livekit_token, "alice");
    const media = await joinMedia(bobTicket.livekit_url, bobTicket.livekit_token, "bob");
    try {
      await media.publishAudio();
      await tap.waitFor(updatedFor(ticket.call_id, "bob", true));

      // Only moderators.
      const forbidden = await fetch(`${service.baseUrl}/v1/calls/${ticket.call_id}/participants/bob/mute`, {
        method: "POST",
        headers: { authorization: `Bearer ${alice}` },
      });
      expect(forbidden.status).toBe(403);

      const muted = await fetch(`${service.baseUrl}/v1/calls/${ticket.call_id}/participants/bob/mute`, {
        method: "POST",
        headers: { authorization: `Bearer ${mod}` },
      });
      expect(muted.status).toBe(200);
      const mutedCall = ((await muted.json()) as { data: { participants: { participant_id: string; audio_on: boolean }[] } }).data;
      expect(mutedCall.participants.find((p) => p.participant_id === "bob")?.audio_on).toBe(false);
      // LiveKit really muted the track.
      const [bobInLiveKit] = (await lkRooms.listParticipants(ticket.livekit_room)).filter((p) => p.identity === "bob");
      expect(bobInLiveKit?.tracks.find((t) => t.type === TrackType.AUDIO)?.muted).toBe(true);

      const disconnected = new Promise<void>((resolve) => media.room.once(RoomEvent.Disconnected, () => resolve()));
      const removed = await fetch(`${service.baseUrl}/v1/calls/${ticket.call_id}/participants/bob/remove`, {
        method: "POST",
        headers: { authorization: `Bearer ${mod}` },
      });
      expect(removed.status).toBe(200);
      const removedCall = ((await removed.json()) as { data: { participants: { participant_id: string }[] } }).data;
      expect(removedCall.participants.map((p) => p.participant_id)).toEqual(["alice"]);
      await within("LiveKit disconnects bob", disconnected);

      const gone = await fetch(`${service.baseUrl}/v1/calls/${ticket.call_id}/participants/bob/remove`, {
        method: "POST",
        headers: { authorization: `Bearer ${mod}` },
      });
      expect(gone.status).toBe(404);
      expect(((await gone.json()) as { error: { code: string } }).error.code).toBe("SW_CALL_PARTICIPANT_NOT_FOUND");
      expect(await api.end(alice, ticket.call_id)).toMatchObject({ status: "ended", end_reason: "ended" });
    } finally {
      await Promise.all([media.leave(), aliceMedia.leave()]);
    }
  });
});
