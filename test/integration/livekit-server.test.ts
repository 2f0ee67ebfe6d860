import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type RemoteTrack,
} from "@livekit/rtc-node";
import { AccessToken, RoomServiceClient, TrackSource as ServerTrackSource, TrackType } from "livekit-server-sdk";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLiveKitServer, type LiveKitServer } from "../support/livekit-server.js";
import { within } from "../support/wait.js";

// Proves the livekit-server fixture is a real, working server: Twirp API,
// signalling with token auth, and media over loopback ICE.

let livekit: LiveKitServer;
let rooms: RoomServiceClient;

beforeAll(async () => {
  livekit = await startLiveKitServer();
  rooms = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);
});

afterAll(async () => {
  await livekit?.stop();
  // rtc-node's native FFI runtime keeps a Node process alive after a Room was
  // used until disposed (vitest's forks pool hides that; plain node hangs).
  await dispose();
});

const roomName = () => `room-${randomUUID()}`;

async function token(room: string, identity: string, secret = livekit.apiSecret): Promise<string> {
  const at = new AccessToken(livekit.apiKey, secret, { identity, ttl: 60 });
  at.addGrant({ roomJoin: true, room });
  return at.toJwt();
}

/** Polls fn until it returns a value other than undefined, or fails after ms. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}


/** Feeds a 440 Hz sine into the source in 10 ms frames (paced by captureFrame) until stopped. */
function playSine(source: AudioSource): { stop: () => Promise<void> } {
  const samples = source.sampleRate / 100;
  let stopped = false;
  let t = 0;
  const loop = (async () => {
    while (!stopped) {
      const frame = AudioFrame.create(source.sampleRate, 1, samples);
      for (let i = 0; i < samples; i++, t++) {
        frame.data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * t) / source.sampleRate));
      }
      await source.captureFrame(frame);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

describe("livekit-server fixture", () => {
  it("serves the RoomService API: create, list, delete", async () => {
    const name = roomName();
    const created = await rooms.createRoom({ name, emptyTimeout: 60 });
    expect(created.name).toBe(name);
    expect((await rooms.listRooms()).map((r) => r.name)).toContain(name);

    await rooms.deleteRoom(name);
    expect((await rooms.listRooms()).map((r) => r.name)).not.toContain(name);
  });

  it("admits a participant with a valid token, carries its published audio, and sees it leave", async () => {
    const name = roomName();
    const alice = new Room();
    const aliceToken = await token(name, "alice");
    await within("alice connects", alice.connect(livekit.wsUrl, aliceToken, { autoSubscribe: false, dynacast: false }));

    const participants = await rooms.listParticipants(name);
    expect(participants.map((p) => p.identity)).toEqual(["alice"]);

    const source = new AudioSource(48_000, 1);
    const track = LocalAudioTrack.createAudioTrack("sine", source);
    const player = playSine(source);
    const bob = new Room();
    try {
      const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
      await within("alice publishes audio", alice.localParticipant!.publishTrack(track, options));
      const audio = await eventually("alice's audio track on the server", async () => {
        const [p] = await rooms.listParticipants(name);
        return p?.tracks.find((t) => t.type === TrackType.AUDIO);
      });
      expect(audio.source).toBe(ServerTrackSource.MICROPHONE);
      expect(audio.muted).toBe(false);

      // Media really flows over loopback ICE: a second participant receives audio frames.
      const subscribed = new Promise<RemoteTrack>((resolve) => bob.once(RoomEvent.TrackSubscribed, (t) => resolve(t)));
      const bobToken = await token(name, "bob");
      await within("bob connects", bob.connect(livekit.wsUrl, bobToken, { autoSubscribe: true, dynacast: false }));
      const stream = new AudioStream(await within("bob subscribes", subscribed), { sampleRate: 48_000, numChannels: 1 });
      const reader = stream.getReader();
      let heard = false;
      for (let i = 0; i < 100 && !heard; i++) {
        const { value } = await within("bob receives an audio frame", reader.read());
        heard = value !== undefined && value.data.some((s) => Math.abs(s) > 1000);
      }
      reader.releaseLock();
      await stream.cancel();
      expect(heard).toBe(true);
    } finally {
      await bob.disconnect();
      await player.stop();
      await track.close();
      await source.close();
      await alice.disconnect();
    }

    await eventually("alice to leave", async () =>
      (await rooms.listParticipants(name)).some((p) => p.identity === "alice") ? undefined : true,
    );
  });

  it("refuses a token signed with the wrong secret", async () => {
    const room = new Room();
    const forged = await token(roomName(), "mallory", "x".repeat(64));
    await expect(room.connect(livekit.wsUrl, forged, { autoSubscribe: false, dynacast: false })).rejects.toThrow(
      /401 Unauthorized.*signature is invalid/,
    );
    await room.disconnect().catch(() => {});
  });
});
