import { dispose, Room, RoomEvent } from "@livekit/rtc-node";
import { RoomServiceClient, TokenVerifier } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";
import { within } from "../support/wait.js";

/** The tokens this service mints are accepted by the real livekit-server, for exactly one room. */

const livekit = sharedLiveKit();
let service: RunningService;
let lkRooms: RoomServiceClient;

beforeAll(async () => {
  service = await startService(livekit, { LIVEKIT_TOKEN_TTL_SECONDS: "120" });
  lkRooms = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);
});

afterAll(async () => {
  await service?.stop();
  // rtc-node's native runtime keeps the process alive until disposed.
  await dispose();
});


describe("minted LiveKit tokens", () => {
  it("grant joining the call's room only, for the configured TTL", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0 });
    const ticket = await restApi(service.baseUrl).initiate(await userToken("alice"), roomId, "audio");
    const claims = await new TokenVerifier(livekit.apiKey, livekit.apiSecret).verify(ticket.livekit_token);
    expect(claims.sub).toBe("alice");
    expect(claims.video).toEqual({
      roomJoin: true,
      room: ticket.livekit_room,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(120);
  });

  it("let a real participant into the room, and ending the call disconnects them", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const api = restApi(service.baseUrl);
    const alice = await userToken("alice");
    const ticket = await api.initiate(alice, roomId, "audio");

    const room = new Room();
    await within("alice connects with the minted token", room.connect(ticket.livekit_url, ticket.livekit_token, { autoSubscribe: false, dynacast: false }));
    try {
      expect(room.name).toBe(ticket.livekit_room);
      const participants = await lkRooms.listParticipants(ticket.livekit_room);
      expect(participants.map((p) => p.identity)).toEqual(["alice"]);

      const disconnected = new Promise<void>((resolve) => room.once(RoomEvent.Disconnected, () => resolve()));
      await api.end(alice, ticket.call_id);
      await within("LiveKit disconnects alice when the call ends", disconnected);
      expect((await lkRooms.listRooms([ticket.livekit_room])).length).toBe(0);
    } finally {
      await room.disconnect();
    }
  });
});
