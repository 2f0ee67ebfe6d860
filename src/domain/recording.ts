/**
 * A recording of a call, free of I/O: `starting` (egress requested) →
 * `recording` (egress confirmed) → `stopping` (stop requested) → `ready`
 * (file stored and registered as a media entry) or `failed`.
 * Transitions return the next state, or the same object when nothing changes
 * (a replayed or late webhook).
 */

export type RecordingStatus = "starting" | "recording" | "stopping" | "ready" | "failed";

/** A stored media file (the recording's media entry). */
export interface MediaEntry {
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
  readonly durationMs: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface Recording {
  readonly id: string;
  readonly callId: string;
  readonly tenantId: string;
  readonly roomId: string;
  readonly status: RecordingStatus;
  readonly audio: boolean;
  readonly video: boolean;
  readonly transcript: boolean;
  /** LiveKit's egress id, once LiveKit accepted the request. */
  readonly egressId: string | null;
  /** Where the egress uploads the file. */
  readonly fileKey: string;
  readonly requestedBy: string;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly error: string | null;
  /** After this (Unix ms) the recording is stopped automatically. */
  readonly stopDeadline: number;
  readonly media: MediaEntry | null;
}

export type RecordingEventType = "recording_started" | "recording_stopped" | "recording_ready" | "recording_failed";

export interface RecordingTransition {
  readonly recording: Recording;
  /** The event to publish, when the change is one the room should hear about. */
  readonly event: RecordingEventType | null;
}

const same = (recording: Recording): RecordingTransition => ({ recording, event: null });

/** The egress is running (egress_started / egress_updated ACTIVE). */
export function egressActive(r: Recording): RecordingTransition {
  if (r.status !== "starting") return same(r);
  return { recording: { ...r, status: "recording" }, event: "recording_started" };
}

/** Someone stopped it, the call ended, or it reached its maximum duration. */
export function stopRequested(r: Recording): RecordingTransition {
  if (!isActiveRecording(r)) return same(r);
  return { recording: { ...r, status: "stopping" }, event: "recording_stopped" };
}

/** The file is stored: the recording becomes a media entry. */
export function recordingCompleted(r: Recording, media: MediaEntry, now: number): RecordingTransition {
  if (r.status === "ready" || r.status === "failed") return same(r);
  return { recording: { ...r, status: "ready", media, endedAt: now, error: null }, event: "recording_ready" };
}

export function recordingFailed(r: Recording, error: string, now: number): RecordingTransition {
  if (r.status === "ready" || r.status === "failed") return same(r);
  return { recording: { ...r, status: "failed", endedAt: now, error }, event: "recording_failed" };
}

export function isActiveRecording(r: Recording): boolean {
  return r.status === "starting" || r.status === "recording";
}

/** `recordings/<call_id>/<timestamp>.mp4`, the timestamp sortable and safe in object keys. */
export function recordingKey(callId: string, now: number): string {
  return `recordings/${callId}/${new Date(now).toISOString().replace(/[:.]/g, "-")}.mp4`;
}
