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
import { afterAll, describe, expect, it } from "vitest";
import { sharedLiveKit } from "../support/shared-servers.js";
import { within } from "../support/wait.js";

// Proves the livekit-server the run shares (the fixture's, started by the global
// setup) is a real, working server: Twirp API, signalling with token auth, and
// media over loopback ICE.

const livekit = sharedLiveKit();
const rooms = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);

afterAll(async () => {
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
      // The server applies a publish asynchronously.
      const audioTrack = async () => (await rooms.listParticipants(name))[0]?.tracks.find((t) => t.type === TrackType.AUDIO);
      await expect.poll(audioTrack, { timeout: 20_000 }).toMatchObject({ source: ServerTrackSource.MICROPHONE, muted: false });

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

    const identities = async () => (await rooms.listParticipants(name)).map((p) => p.identity);
    await expect.poll(identities, { timeout: 20_000 }).not.toContain("alice");
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
