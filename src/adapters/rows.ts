import type { Call, CallStatus, CallType, EndReason, Invitee, InviteState, Participant } from "../domain/call.js";
import type { CallHistoryRecord } from "../domain/history.js";
import type { MediaEntry, Recording, RecordingStatus } from "../domain/recording.js";
import type { Segment, Transcript, TranscriptStatus } from "../domain/transcript.js";

/**
 * The stores' rows as the domain reads them. Both stores use the same column
 * names; SQLite answers a flag as 0/1 and PostgreSQL as a boolean, and each
 * adapter parses JSON columns itself (SQLite keeps text, PostgreSQL JSONB).
 */

type Flag = boolean | number;
const flag = (value: Flag): boolean => value === true || value === 1;

export interface CallColumns {
  id: string;
  tenant_id: string;
  room_id: string;
  type: CallType;
  status: CallStatus;
  initiator_id: string;
  started_at: number;
  ended_at: number | null;
  end_reason: EndReason | null;
  ended_by: string | null;
  end_requested_by: string | null;
  end_requested_at: number | null;
  ring_deadline: number;
}

export interface ParticipantColumns {
  user_id: string;
  joined_at: number;
  audio_on: Flag;
  video_on: Flag;
  livekit_sid: string | null;
}

export interface InviteeColumns {
  user_id: string;
  state: InviteState;
  changed_at: number;
  ring_deadline: number | null;
}

export function callFromColumns(
  row: CallColumns,
  children: { participants: readonly ParticipantColumns[]; invitees: readonly InviteeColumns[]; endedSessions: readonly string[] },
): Call {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    roomId: row.room_id,
    type: row.type,
    status: row.status,
    initiatorId: row.initiator_id,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    endedBy: row.ended_by,
    endRequest: row.end_requested_by === null || row.end_requested_at === null ? null : { by: row.end_requested_by, at: row.end_requested_at },
    ringDeadline: row.ring_deadline,
    participants: children.participants.map(
      (p): Participant => ({
        userId: p.user_id,
        joinedAt: p.joined_at,
        audioOn: flag(p.audio_on),
        videoOn: flag(p.video_on),
        livekitSid: p.livekit_sid,
      }),
    ),
    invitees: children.invitees.map((i): Invitee => ({ userId: i.user_id, state: i.state, changedAt: i.changed_at, ringDeadline: i.ring_deadline })),
    endedSessions: [...children.endedSessions],
  };
}

/** One row of a user's history: the call, and the user's own part in it (call_parties, call_invitees). */
export interface HistoryColumns
  extends Pick<CallColumns, "id" | "room_id" | "type" | "status" | "initiator_id" | "started_at" | "ended_at" | "end_reason"> {
  participant_count: number;
  invite_state: InviteState | null;
  joined: Flag;
  missed_unseen: Flag;
}

export function historyFromColumns(row: HistoryColumns): CallHistoryRecord {
  return {
    callId: row.id,
    roomId: row.room_id,
    type: row.type,
    status: row.status,
    initiatorId: row.initiator_id,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    participantCount: row.participant_count,
    inviteState: row.invite_state,
    joined: flag(row.joined),
    missedUnseen: flag(row.missed_unseen),
  };
}

export interface RecordingColumns {
  id: string;
  call_id: string;
  tenant_id: string;
  room_id: string;
  status: RecordingStatus;
  audio: Flag;
  video: Flag;
  transcript: Flag;
  egress_id: string | null;
  file_key: string;
  requested_by: string;
  started_at: number;
  ended_at: number | null;
  error: string | null;
  stop_deadline: number;
}

export interface MediaColumns {
  id: string;
  bucket: string;
  key: string;
  mime_type: string;
  size_bytes: number;
  duration_ms: number;
  started_at: number;
  ended_at: number;
}

export function recordingFromColumns(row: RecordingColumns, media: MediaColumns | null | undefined): Recording {
  return {
    id: row.id,
    callId: row.call_id,
    tenantId: row.tenant_id,
    roomId: row.room_id,
    status: row.status,
    audio: flag(row.audio),
    video: flag(row.video),
    transcript: flag(row.transcript),
    egressId: row.egress_id,
    fileKey: row.file_key,
    requestedBy: row.requested_by,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    error: row.error,
    stopDeadline: row.stop_deadline,
    media: media ? mediaFromColumns(media) : null,
  };
}

function mediaFromColumns(m: MediaColumns): MediaEntry {
  return {
    id: m.id,
    bucket: m.bucket,
    key: m.key,
    mimeType: m.mime_type,
    sizeBytes: m.size_bytes,
    durationMs: m.duration_ms,
    startedAt: m.started_at,
    endedAt: m.ended_at,
  };
}

export interface TranscriptColumns {
  recording_id: string;
  call_id: string;
  tenant_id: string;
  room_id: string;
  status: TranscriptStatus;
  engine: string | null;
  text: string | null;
  vtt_key: string | null;
  txt_key: string | null;
  attempts: number;
  error: string | null;
  language: string | null;
  progress: number;
}

export function transcriptFromColumns(row: TranscriptColumns, segments: readonly Segment[]): Transcript {
  return {
    recordingId: row.recording_id,
    callId: row.call_id,
    tenantId: row.tenant_id,
    roomId: row.room_id,
    status: row.status,
    engine: row.engine,
    text: row.text,
    segments,
    vttKey: row.vtt_key,
    txtKey: row.txt_key,
    attempts: row.attempts,
    error: row.error,
    language: row.language,
    progress: row.progress,
  };
}
