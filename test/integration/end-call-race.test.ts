import { dispose } from "@livekit/rtc-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { joinMedia } from "../support/rtc-participant.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * Ending a call deletes its LiveKit room, and the real livekit-server answers
 * that deletion with signed webhooks (room_finished, participant_left) that
 * reach the service while the end request is still in flight. Whichever
 * commits first, the end the caller asked for is what happened.
 */

let nats: NatsServer;
let service: RunningService;
let tap: EventTap;
let api: CallsApi;

beforeAll(async () => {
  nats = await startNatsServer();
  service = await startService(sharedLiveKit(), { NATS_URL: nats.url, RECONCILE_INTERVAL_SECONDS: "0" }, {}, { liveKitWebhooks: true });
  tap = await EventTap.start(nats.url);
  api = restApi(service.baseUrl);
});

afterAll(async () => {
  await tap?.close();
  await service?.stop();
  await nats?.stop();
  await dispose();
});

/** LiveKit's room_finished for the call's room reached the service (processed or found the call already ended). */
const roomFinishedSeen = (roomName: string) =>
  service.logs.some((line) => line.includes('"room_finished"') && line.includes(roomName));

describe("end call against the real livekit-server", () => {
  it("30 ends in a row all answer 200 with end_reason ended, and the ended event names who ended it", { timeout: 120_000 }, async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const ticket = await api.initiate(alice, roomId, "audio");
      await api.join(bob, ticket.call_id);
      const ended = await api.end(alice, ticket.call_id).then(
        (call) => `${call.status}/${call.end_reason}`,
        (err: unknown) => `error: ${String(err)}`,
      );
      outcomes.push(ended);
      const event = await tap.waitFor((e) => e.call_id === ticket.call_id && e.type === "swp.call.ended");
      expect(event.data).toMatchObject({ end_reason: "ended", ended_by: "alice" });
      expect(await api.get(alice, ticket.call_id)).toMatchObject({ status: "ended", end_reason: "ended" });
    }
    expect(outcomes).toEqual(Array.from({ length: 30 }, () => "ended/ended"));
    // Exactly one ended event per call: the webhook did not end any call a second time.
    const endedEvents = tap.received.filter((e) => e.type === "swp.call.ended" && e.room_id === roomId);
    expect(endedEvents).toHaveLength(30);
  });

  it("with everyone connected to LiveKit, the participant_left and room_finished reports of the deletion still end it as ended", { timeout: 120_000 }, async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    for (let i = 0; i < 3; i++) {
      const ticket = await api.initiate(alice, roomId, "audio");
      const bobTicket = await api.join(bob, ticket.call_id);
      const aliceMedia = await joinMedia(ticket.livekit_url, ticket.livekit_token, "alice");
      const bobMedia = await joinMedia(bobTicket.livekit_url, bobTicket.livekit_token, "bob");
      try {
        // Both connected as LiveKit sees it (their participant_joined webhooks applied).
        await expect.poll(async () => (await api.get(alice, ticket.call_id)).participants.length, { timeout: 15_000 }).toBe(2);
        const call = await api.end(alice, ticket.call_id);
        expect(call).toMatchObject({ status: "ended", end_reason: "ended", participants: [] });
        const event = await tap.waitFor((e) => e.call_id === ticket.call_id && e.type === "swp.call.ended");
        expect(event.data).toMatchObject({ end_reason: "ended", ended_by: "alice" });
        // LiveKit's report of the deletion arrived and changed nothing.
        await expect.poll(() => roomFinishedSeen(ticket.livekit_room), { timeout: 15_000 }).toBe(true);
        expect(await api.get(alice, ticket.call_id)).toMatchObject({ status: "ended", end_reason: "ended" });
      } finally {
        await Promise.all([aliceMedia.leave(), bobMedia.leave()]);
      }
    }
  });
});
