import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CallDirection,
  CallOutcome,
  CallSchema,
  CallStatus,
  CallType,
  EndReason,
  InviteeState,
  RecordingStatus,
  TranscriptStatus,
  type CallHistoryEntrySchema,
  type InitiateCallResponseSchema,
  type InviteeSchema,
  type RecordingSchema,
} from "../../../gen/scaiwave/calls/v1/calls_pb.js";
import type { HistoryEntry } from "../../app/call-history.js";
import type { RecordingView } from "../../app/recordings.js";
import type * as history from "../../domain/history.js";
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

const INVITEE_STATE: Record<domain.InviteState, InviteeState> = {
  ringing: InviteeState.RINGING,
  answered: InviteeState.ANSWERED,
  rejected: InviteeState.REJECTED,
  missed: InviteeState.MISSED,
  busy: InviteeState.BUSY,
  canceled: InviteeState.CANCELED,
};

const DIRECTION: Record<history.Direction, CallDirection> = {
  outgoing: CallDirection.OUTGOING,
  incoming: CallDirection.INCOMING,
};

const OUTCOME: Record<history.HistoryOutcome, CallOutcome> = {
  answered: CallOutcome.ANSWERED,
  missed: CallOutcome.MISSED,
  declined: CallOutcome.DECLINED,
  busy: CallOutcome.BUSY,
  canceled: CallOutcome.CANCELED,
};

const callTypeToProto = (type: domain.CallType): CallType => (type === "audio" ? CallType.AUDIO : CallType.VIDEO);

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
    type: callTypeToProto(call.type),
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
    invitees: call.invitees.map(inviteeToProto),
  };
}

function inviteeToProto(invitee: domain.Invitee): MessageInitShape<typeof InviteeSchema> {
  return {
    userId: invitee.userId,
    state: INVITEE_STATE[invitee.state],
    changedAt: timestampFromMs(invitee.changedAt),
    ...(invitee.ringDeadline !== null && { ringDeadline: timestampFromMs(invitee.ringDeadline) }),
  };
}

/** One call of the caller's history, as they saw it. */
export function historyEntryToProto({ record, direction, outcome }: HistoryEntry): MessageInitShape<typeof CallHistoryEntrySchema> {
  return {
    callId: record.callId,
    roomId: record.roomId,
    type: callTypeToProto(record.type),
    status: STATUS[record.status],
    direction: DIRECTION[direction],
    outcome: outcome === null ? CallOutcome.UNSPECIFIED : OUTCOME[outcome],
    initiatorId: record.initiatorId,
    startedAt: timestampFromMs(record.startedAt),
    ...(record.endedAt !== null && {
      endedAt: timestampFromMs(record.endedAt),
      duration: durationFromMs(record.endedAt - record.startedAt),
    }),
    participantCount: record.participantCount,
    missedUnseen: record.missedUnseen,
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
