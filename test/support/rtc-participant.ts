import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  Room,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { within } from "./wait.js";


export interface RtcParticipant {
  readonly room: Room;
  /** Publishes a microphone track playing a 440 Hz sine until `leave()`. */
  publishAudio(): Promise<void>;
  leave(): Promise<void>;
}

/**
 * A real participant through @livekit/rtc-node, connected with a token this
 * service minted. Callers must `dispose()` rtc-node at the end of the file.
 */
export async function joinMedia(url: string, token: string, name = "participant"): Promise<RtcParticipant> {
  const room = new Room();
  await within(`${name} connects`, room.connect(url, token, { autoSubscribe: false, dynacast: false }));
  let source: AudioSource | undefined;
  let track: LocalAudioTrack | undefined;
  let playing = true;
  let loop: Promise<void> | undefined;
  return {
    room,
    async publishAudio() {
      source = new AudioSource(48_000, 1);
      track = LocalAudioTrack.createAudioTrack("microphone", source);
      const src = source;
      const samples = src.sampleRate / 100;
      loop = (async () => {
        for (let t = 0; playing; ) {
          const frame = AudioFrame.create(src.sampleRate, 1, samples);
          for (let i = 0; i < samples; i++, t++) frame.data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * t) / src.sampleRate));
          await src.captureFrame(frame);
        }
      })();
      const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
      await within(`${name} publishes audio`, room.localParticipant!.publishTrack(track, options));
    },
    async leave() {
      playing = false;
      await loop;
      await room.disconnect();
      await track?.close();
      await source?.close();
    },
  };
}
