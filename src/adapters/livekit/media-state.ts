import { TrackSource, TrackType, type TrackInfo } from "livekit-server-sdk";

/**
 * What counts as "audio on" / "video on" in ScaiWave: an unmuted microphone
 * (or an audio track of unknown source), and an unmuted camera (or a video
 * track of unknown source). Screen shares are neither.
 */
export function isMicrophone(track: Pick<TrackInfo, "type" | "source">): boolean {
  return track.type === TrackType.AUDIO && (track.source === TrackSource.MICROPHONE || track.source === TrackSource.UNKNOWN);
}

export function isCamera(track: Pick<TrackInfo, "type" | "source">): boolean {
  return track.type === TrackType.VIDEO && (track.source === TrackSource.CAMERA || track.source === TrackSource.UNKNOWN);
}

export function mediaStateOf(tracks: readonly Pick<TrackInfo, "type" | "source" | "muted">[]): {
  audioOn: boolean;
  videoOn: boolean;
} {
  return {
    audioOn: tracks.some((t) => isMicrophone(t) && !t.muted),
    videoOn: tracks.some((t) => isCamera(t) && !t.muted),
  };
}
