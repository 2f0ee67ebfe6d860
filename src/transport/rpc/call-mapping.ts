import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CallSchema,
  CallStatus,
  CallType,
  EndReason,
  RecordingStatus,
  TranscriptStatus,
  type InitiateCallResponseSchema,
  type RecordingSchema,
} from "../../../gen/scaiwave/calls/v1/calls_pb.js";
import type { RecordingView } from "../../app/recordings.js";
import type * as rec from "../../domain/recording.js";
import type { JoinTicket } from "../../app/calls.js";
import type * as domain from "../../domain/call.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";

/** Domain values ⇄ generated protobuf messages, in one place. */

const STATUS: Record<domain.CallStatus, CallStatus> = {
  ringing: CallStatus.RINGING,
  active: CallStatus.ACTIVE,
  ended: CallStatus.ENDED,
};

const END_REASON: Record<domain.EndReason, EndReason> = {
  ended: EndReason.ENDED,
  all_left: EndReason.ALL_LEFT,
  canceled: EndReason.CANCELED,
  rejected: EndReason.REJECTED,
  no_answer: EndReason.NO_ANSWER,
  room_finished: EndReason.ROOM_FINISHED,
};

const RECORDING_STATUS: Record<rec.RecordingStatus, RecordingStatus> = {
  starting: RecordingStatus.STARTING,
  recording: RecordingStatus.RECORDING,
  stopping: RecordingStatus.STOPPING,
  ready: RecordingStatus.READY,
  failed: RecordingStatus.FAILED,
};

export function recordingToProto(view: RecordingView): MessageInitShape<typeof RecordingSchema> {
  const r = view.recording;
  return {
    id: r.id,
    callId: r.callId,
    status: RECORDING_STATUS[r.status],
    audio: r.audio,
    video: r.video,
    transcript: r.transcript,
    startedAt: timestampFromMs(r.startedAt),
    ...(r.endedAt !== null && { endedAt: timestampFromMs(r.endedAt) }),
    error: r.error ?? "",
    ...(r.media && {
      media: {
        mediaId: r.media.id,
        bucket: r.media.bucket,
        key: r.media.key,
        mimeType: r.media.mimeType,
        sizeBytes: BigInt(r.media.sizeBytes),
        durationSeconds: r.media.durationMs / 1000,
        downloadUrl: view.downloadUrl ?? "",
        ...(view.downloadUrlExpiresAt !== null && { downloadUrlExpiresAt: timestampFromMs(view.downloadUrlExpiresAt) }),
      },
    }),
    ...(view.transcript && { transcription: transcriptToProto(view.transcript, r.media?.bucket ?? "") }),
  };
}

const TRANSCRIPT_STATUS = { pending: TranscriptStatus.PENDING, ready: TranscriptStatus.READY, failed: TranscriptStatus.FAILED };

function transcriptToProto(view: NonNullable<RecordingView["transcript"]>, bucket: string) {
  const t = view.transcript;
  const file = (key: string | null, mimeType: string, url: string | null) =>
    key ? { bucket, key, mimeType, downloadUrl: url ?? "" } : undefined;
  return {
    status: TRANSCRIPT_STATUS[t.status],
    text: t.text ?? "",
    engine: t.engine ?? "",
    vtt: file(t.vttKey, "text/vtt", view.vttUrl),
    txt: file(t.txtKey, "text/plain", view.txtUrl),
    attempts: t.attempts,
    error: t.error ?? "",
    language: t.language ?? "",
    progress: t.progress,
  };
}

/** A call and, for GetCall, its recordings (events carry none: their download URLs would expire). */
export function callToProto(call: domain.Call, recordings: readonly RecordingView[] = []): MessageInitShape<typeof CallSchema> {
  return {
    id: call.id,
    roomId: call.roomId,
    type: call.type === "audio" ? CallType.AUDIO : CallType.VIDEO,
    status: STATUS[call.status],
    startedAt: timestampFromMs(call.startedAt),
    ...(call.endedAt !== null && { endedAt: timestampFromMs(call.endedAt) }),
    initiatorId: call.initiatorId,
    participants: call.participants.map((p) => ({
      participantId: p.userId,
      joinedAt: timestampFromMs(p.joinedAt),
      audioOn: p.audioOn,
      videoOn: p.videoOn,
    })),
    recordings: recordings.map(recordingToProto),
    endReason: call.endReason === null ? EndReason.UNSPECIFIED : END_REASON[call.endReason],
    livekitRoom: `scaiwave-${call.id}`,
  };
}

/** Initiate and Join answer with the same fields. */
export function ticketToProto(ticket: JoinTicket): Omit<MessageInitShape<typeof InitiateCallResponseSchema>, "$typeName"> {
  return {
    callId: ticket.callId,
    livekitUrl: ticket.livekitUrl,
    livekitToken: ticket.livekitToken,
    livekitRoom: ticket.livekitRoom,
  };
}

/** Requests with another type never get here (their buf.validate rules reject them); the throw keeps the mapping total. */
export function callTypeFromProto(type: CallType): domain.CallType {
  if (type === CallType.AUDIO) return "audio";
  if (type === CallType.VIDEO) return "video";
  throw new CallError(CallErrorCode.InvalidArgument, 'type must be "audio" or "video"');
}
