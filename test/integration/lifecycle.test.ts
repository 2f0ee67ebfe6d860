import { RoomServiceClient } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectBinaryHttp2,
  connectJsonHttp1,
  grpcJsApi,
  grpcWebHttp1,
  restApi,
  type CallsApi,
} from "../support/clients.js";
import { expectWireError } from "../support/wire-errors.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { bearer, userToken } from "../support/tokens.js";

/**
 * The call lifecycle against the real livekit-server, driven identically
 * through every protocol the service speaks on its one port.
 */

const livekit = sharedLiveKit();
let service: RunningService;
let lkRooms: RoomServiceClient;
let directory: ReturnType<typeof directoryClient>;
const grpcClients: { close(): void }[] = [];

beforeAll(async () => {
  service = await startService(livekit);
  lkRooms = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);
  directory = directoryClient(service.baseUrl);
});

afterAll(async () => {
  for (const c of grpcClients) c.close();
  await service?.stop();
});

const protocols: { kind: "rest" | "connect" | "grpc"; make: (baseUrl: string) => CallsApi }[] = [
  { kind: "rest", make: restApi },
  { kind: "connect", make: connectJsonHttp1 },
  { kind: "connect", make: connectBinaryHttp2 },
  { kind: "connect", make: grpcWebHttp1 },
  {
    kind: "grpc",
    make: (baseUrl) => {
      const api = grpcJsApi(baseUrl.replace("http://", ""));
      grpcClients.push(api);
      return api;
    },
  },
];

async function liveKitRoomExists(name: string): Promise<boolean> {
  return (await lkRooms.listRooms([name])).some((r) => r.name === name);
}

describe.each(protocols)("lifecycle over $make.name", ({ kind, make }) => {
  let api: CallsApi;
  beforeAll(() => {
    api = make(service.baseUrl);
  });

  const expectError = (promise: Promise<unknown>, code: string, message?: string | RegExp) => expectWireError(kind, promise, code, message);

  it("initiate creates the LiveKit room, join makes the call active, end deletes the room", async () => {
    const roomId = await directory.room({ alice: 100, bob: 0 });
    const alice = await userToken("alice");
    const bob = await userToken("bob");

    const started = await api.initiate(alice, roomId, "video");
    expect(started.call_id).toMatch(/^call-[0-9a-z]{26}$/);
    expect(started.livekit_room).toBe(`scaiwave-${started.call_id}`);
    expect(started.livekit_url).toBe(livekit.wsUrl);
    expect(started.livekit_token.split(".")).toHaveLength(3);
    expect(await liveKitRoomExists(started.livekit_room)).toBe(true);

    const ringing = await api.get(bob, started.call_id);
    expect(ringing).toMatchObject({
      id: started.call_id,
      room_id: roomId,
      type: "video",
      status: "ringing",
      ended_at: null,
      end_reason: null,
      initiator_id: "alice",
      recordings: [],
    });
    expect(ringing.participants.map((p) => p.participant_id)).toEqual(["alice"]);

    const joined = await api.join(bob, started.call_id);
    expect(joined.call_id).toBe(started.call_id);
    expect(joined.livekit_room).toBe(started.livekit_room);
    expect(joined.livekit_token).not.toBe(started.livekit_token);

    const active = await api.get(alice, started.call_id);
    expect(active.status).toBe("active");
    expect(active.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);

    const ended = await api.end(alice, started.call_id);
    expect(ended).toMatchObject({ status: "ended", end_reason: "ended", participants: [] });
    expect(ended.ended_at).not.toBeNull();
    expect(await liveKitRoomExists(started.livekit_room)).toBe(false);

    // The final state stays readable; every action on it is refused.
    expect(await api.get(bob, started.call_id)).toEqual(ended);
    await expectError(api.join(bob, started.call_id), "SW_CALL_ENDED");
    await expectError(api.leave(alice, started.call_id), "SW_CALL_ENDED");
    await expectError(api.reject(bob, started.call_id), "SW_CALL_ENDED");
    await expectError(api.end(alice, started.call_id), "SW_CALL_ENDED");
  });

  it("a second initiate in a room with a live call joins that call (glare)", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const first = await api.initiate(await userToken("alice"), roomId, "audio");
    const second = await api.initiate(await userToken("bob"), roomId, "video");
    expect(second.call_id).toBe(first.call_id);
    const call = await api.get(await userToken("alice"), first.call_id);
    expect(call).toMatchObject({ status: "active", type: "audio" });
    expect(call.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);
  });

  it("a 1:1 reject ends the call; in a group only the one member stops ringing", async () => {
    const oneToOne = await directory.room({ alice: 0, bob: 0 });
    const call = await api.initiate(await userToken("alice"), oneToOne, "audio");
    const rejected = await api.reject(await userToken("bob"), call.call_id);
    expect(rejected).toMatchObject({ status: "ended", end_reason: "rejected" });
    await expectError(api.get(await userToken("carol"), call.call_id), "SW_CALL_FORBIDDEN");

    const group = await directory.room({ alice: 0, bob: 0, carol: 0 });
    const groupCall = await api.initiate(await userToken("alice"), group, "video");
    expect(await api.reject(await userToken("bob"), groupCall.call_id)).toMatchObject({ status: "ringing" });
    // Rejecting twice is harmless; a member who answered cannot reject.
    expect(await api.reject(await userToken("bob"), groupCall.call_id)).toMatchObject({ status: "ringing" });
    await expectError(api.reject(await userToken("alice"), groupCall.call_id), "SW_CALL_NOT_RINGING");
    expect(await api.reject(await userToken("carol"), groupCall.call_id)).toMatchObject({
      status: "ended",
      end_reason: "rejected",
    });
  });

  it("the last participant to leave ends the call", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    const call = await api.initiate(alice, roomId, "audio");
    await api.join(bob, call.call_id);
    expect(await api.leave(alice, call.call_id)).toMatchObject({ status: "active" });
    const ended = await api.leave(bob, call.call_id);
    expect(ended).toMatchObject({ status: "ended", end_reason: "all_left", participants: [] });

    const unanswered = await api.initiate(alice, roomId, "audio");
    expect(unanswered.call_id).not.toBe(call.call_id);
    expect(await api.leave(alice, unanswered.call_id)).toMatchObject({ status: "ended", end_reason: "canceled" });
  });

  it("only the initiator or a moderator (power >= 50) may end a call", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0, mod: 50 });
    const call = await api.initiate(await userToken("alice"), roomId, "video");
    await api.join(await userToken("bob"), call.call_id);
    await expectError(api.end(await userToken("bob"), call.call_id), "SW_CALL_FORBIDDEN");
    expect(await api.end(await userToken("mod"), call.call_id)).toMatchObject({ status: "ended", end_reason: "ended" });
  });

  it("members only; another tenant's call does not exist", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    await expectError(api.initiate(await userToken("mallory"), roomId, "audio"), "SW_CALL_FORBIDDEN");
    const call = await api.initiate(await userToken("alice"), roomId, "audio");
    await expectError(api.join(await userToken("mallory"), call.call_id), "SW_CALL_FORBIDDEN");
    await expectError(api.get(await userToken("alice", "globex"), call.call_id), "SW_CALL_NOT_FOUND");
    await expectError(api.join(await userToken("alice", "globex"), call.call_id), "SW_CALL_NOT_FOUND");
    await expectError(api.get(await userToken("alice"), "call-doesnotexist"), "SW_CALL_NOT_FOUND");

    // A member removed from the room loses access to its calls.
    await directory.removeMember(roomId, "bob");
    await expectError(api.join(await userToken("bob"), call.call_id), "SW_CALL_FORBIDDEN");
  });

  it("rejects missing, expired, forged and tenant-less tokens", async () => {
    const roomId = await directory.room({ alice: 0 });
    await expectError(api.initiate("", roomId, "audio"), "SW_CALL_UNAUTHENTICATED");
    await expectError(api.initiate("not-a-jwt", roomId, "audio"), "SW_CALL_UNAUTHENTICATED");
    await expectError(
      api.initiate(await userToken("alice", "acme", { expiresInSeconds: -60 }), roomId, "audio"),
      "SW_CALL_UNAUTHENTICATED",
    );
    await expectError(
      api.initiate(await userToken("alice", "acme", { secret: "another-secret-another-secret-another" }), roomId, "audio"),
      "SW_CALL_UNAUTHENTICATED",
    );
    await expectError(api.initiate(await bearer("alice"), roomId, "audio"), "SW_CALL_UNAUTHENTICATED");
  });

  it("validates input and says what is wrong", async () => {
    await expectError(api.initiate(await userToken("alice"), "", "audio"), "SW_CALL_INVALID_ARGUMENT");
  });

  it("StartRecording says recordings are unavailable on a server without object storage", async () => {
    const roomId = await directory.room({ alice: 100 });
    const call = await api.initiate(await userToken("alice"), roomId, "audio");
    await expectError(api.startRecording(await userToken("alice"), call.call_id), "SW_CALL_RECORDING_DISABLED");
  });
});
