import type { RecordingView } from "../../app/recordings.js";
import type { Call, CallStatus, EndReason, InviteState, Invitee, Participant } from "../../domain/call.js";
import type { RecordingStatus } from "../../domain/recording.js";
import type { TranscriptStatus } from "../../domain/transcript.js";
import { timestampJson } from "./rest-json-writer.js";

/**
 * A call's REST JSON (as GET /v1/calls/{id} shows it), written directly.
 *
 * The generic path (callToProto → create → toJson → messageToRestJson →
 * JSON.stringify) costs tens of µs per call, and every call event renders
 * one. This writes the same bytes in a few µs. test/unit/call-json.test.ts
 * pins it byte for byte to the generic path over thousands of call states:
 * keys in the proto's field order, enums as their lower-case name without
 * prefix (the domain's own words; unset is null), unset messages null,
 * timestamps as protobuf JSON prints them, int64 as a number while exact.
 *
 * The gateway's generic writer (rest-json-writer.ts) writes a Call message
 * about as fast, but events start from the domain call: building the message
 * first (callToProto + create) makes that path about 3× slower than this one.
 */
export function renderCallJson(call: Call, recordings: readonly RecordingView[] = []): string {
  return (
    `{"id":${str(call.id)},"room_id":${str(call.roomId)},"type":${call.type === "audio" ? '"audio"' : '"video"'}` +
    `,"status":${CALL_STATUS[call.status]},"started_at":${timestamp(call.startedAt)}` +
    `,"ended_at":${call.endedAt === null ? "null" : timestamp(call.endedAt)},"initiator_id":${str(call.initiatorId)}` +
    `,"participants":[${call.participants.map(participant).join(",")}]` +
    `,"recordings":[${recordings.map(recording).join(",")}]` +
    `,"end_reason":${call.endReason === null ? "null" : END_REASON[call.endReason]}` +
    `,"livekit_room":${str(`scaiwave-${call.id}`)},"invitees":[${call.invitees.map(invitee).join(",")}]}`
  );
}

// Each enum value as JSON: the proto name without its prefix, lower case (the domain's own words).
const CALL_STATUS: Record<CallStatus, string> = { ringing: '"ringing"', active: '"active"', ended: '"ended"' };
const END_REASON: Record<EndReason, string> = {
  ended: '"ended"',
  all_left: '"all_left"',
  canceled: '"canceled"',
  rejected: '"rejected"',
  no_answer: '"no_answer"',
  room_finished: '"room_finished"',
};
const INVITEE_STATE: Record<InviteState, string> = {
  ringing: '"ringing"',
  answered: '"answered"',
  rejected: '"rejected"',
  missed: '"missed"',
  busy: '"busy"',
  canceled: '"canceled"',
};
const RECORDING_STATUS: Record<RecordingStatus, string> = {
  starting: '"starting"',
  recording: '"recording"',
  stopping: '"stopping"',
  ready: '"ready"',
  failed: '"failed"',
};
const TRANSCRIPT_STATUS: Record<TranscriptStatus, string> = { pending: '"pending"', ready: '"ready"', failed: '"failed"' };

function participant(p: Participant): string {
  // The proto declares video_on before audio_on.
  return `{"participant_id":${str(p.userId)},"joined_at":${timestamp(p.joinedAt)},"video_on":${p.videoOn},"audio_on":${p.audioOn}}`;
}

function invitee(i: Invitee): string {
  return (
    `{"user_id":${str(i.userId)},"state":${INVITEE_STATE[i.state]},"changed_at":${timestamp(i.changedAt)}` +
    `,"ring_deadline":${i.ringDeadline === null ? "null" : timestamp(i.ringDeadline)}}`
  );
}

function recording(view: RecordingView): string {
  const r = view.recording;
  const media = r.media
    ? `{"media_id":${str(r.media.id)},"bucket":${str(r.media.bucket)},"key":${str(r.media.key)},"mime_type":${str(r.media.mimeType)}` +
      `,"size_bytes":${int64(r.media.sizeBytes)},"duration_seconds":${double(r.media.durationMs / 1000)}` +
      `,"download_url":${str(view.downloadUrl ?? "")}` +
      `,"download_url_expires_at":${view.downloadUrlExpiresAt === null ? "null" : timestamp(view.downloadUrlExpiresAt)}}`
    : "null";
  return (
    `{"id":${str(r.id)},"call_id":${str(r.callId)},"status":${RECORDING_STATUS[r.status]},"audio":${r.audio},"video":${r.video}` +
    `,"transcript":${r.transcript},"started_at":${timestamp(r.startedAt)}` +
    `,"ended_at":${r.endedAt === null ? "null" : timestamp(r.endedAt)},"media":${media},"error":${str(r.error ?? "")}` +
    `,"transcription":${view.transcript ? transcript(view.transcript, r.media?.bucket ?? "") : "null"}}`
  );
}

function transcript(view: NonNullable<RecordingView["transcript"]>, bucket: string): string {
  const t = view.transcript;
  const file = (key: string | null, mimeType: string, url: string | null) =>
    key
      ? `{"media_id":"","bucket":${str(bucket)},"key":${str(key)},"mime_type":${str(mimeType)},"size_bytes":0,"duration_seconds":0` +
        `,"download_url":${str(url ?? "")},"download_url_expires_at":null}`
      : "null";
  return (
    `{"status":${TRANSCRIPT_STATUS[t.status]},"text":${str(t.text ?? "")},"engine":${str(t.engine ?? "")}` +
    `,"vtt":${file(t.vttKey, "text/vtt", view.vttUrl)},"txt":${file(t.txtKey, "text/plain", view.txtUrl)}` +
    `,"attempts":${JSON.stringify(t.attempts)},"error":${str(t.error ?? "")},"language":${str(t.language ?? "")}` +
    `,"progress":${double(t.progress)}}`
  );
}

const str = (value: string): string => JSON.stringify(value);

/** proto JSON doubles: NaN and the infinities are strings. */
function double(value: number): string {
  return Number.isFinite(value) ? String(value) : `"${value}"`;
}

/** int64 as the REST paths show it: a number while exact, else proto JSON's decimal string. */
function int64(value: number): string {
  const text = BigInt(value).toString();
  return Number.isSafeInteger(value) ? text : `"${text}"`;
}

/** A Unix-ms time as protobuf JSON prints the google.protobuf.Timestamp timestampFromMs makes of it. */
function timestamp(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return timestampJson(seconds, (ms - seconds * 1000) * 1_000_000);
}
