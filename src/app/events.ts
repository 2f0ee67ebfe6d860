import type { Call, CallEvent, Transition } from "../domain/call.js";
import { timeSortableId } from "../domain/ids.js";
import type { Recording, RecordingEventType } from "../domain/recording.js";
import { truncate, type Transcript } from "../domain/transcript.js";

/**
 * The events the WebSocket tier of ScaiWave consumes from NATS: the subjects,
 * the envelope and the event types are a public contract (docs/events.md).
 */

/** One message for the outbox: relayed to `subject` with `Nats-Msg-Id: id`. */
export interface OutboundEvent {
  readonly id: string;
  readonly subject: string;
  /** The JSON envelope. */
  readonly payload: string;
  readonly createdAt: number;
}

export interface Envelope {
  readonly id: string;
  readonly type: string;
  /** RFC 3339. */
  readonly ts: string;
  readonly tenant_id: string;
  readonly room_id: string;
  readonly call_id: string;
  readonly data: Record<string, unknown>;
  /** The HTTP request that caused the event (its X-Request-Id, also for webhooks); null for timers and the worker. */
  readonly request_id: string | null;
}

const userSubject = (userId: string) => `swp.user.${userId}.call`;
const roomSubject = (roomId: string) => `swp.room.${roomId}.call`;
/** What a stream must capture to hold every event. */
export const EVENT_SUBJECTS = ["swp.user.*.call", "swp.room.*.call"] as const;

export const newEventId = (now: number) => `evt-${timeSortableId(now)}`;

/** Work-queue subject of transcription jobs (a stream of its own, not seen by the WebSocket tier). */
export const TRANSCRIBE_JOB_SUBJECT = "swp.jobs.transcribe";
export const JOB_SUBJECTS = ["swp.jobs.>"] as const;

/** A transcription job: one per recording (its id is the Nats-Msg-Id, so it is never queued twice). */
export function transcribeJob(recording: Recording, now: number): OutboundEvent {
  return {
    id: `job-transcribe-${recording.id}`,
    subject: TRANSCRIBE_JOB_SUBJECT,
    payload: JSON.stringify({ recording_id: recording.id, call_id: recording.callId, tenant_id: recording.tenantId }),
    createdAt: now,
  };
}

/**
 * Turns a transition's domain facts into envelopes, each naming the request
 * that caused it (`requestId`, passed by the use case; undefined for timers
 * and workers). Every room event carries
 * the call state after the change (`call`, the same JSON as GetCall on the
 * REST paths), so a consumer never has to call back.
 */
export class CallEventFactory {
  constructor(
    /** A call's JSON exactly as GET /v1/calls/{id} shows it (injected: the REST dialect is the transport's). */
    private readonly renderCall: (call: Call) => string,
    private readonly now: () => number,
    /** Renders a recording as ListRecordings does, without a download URL (events outlive URLs). */
    private readonly renderRecording: (recording: Recording) => unknown = () => null,
  ) {}

  /**
   * `swp.call.transcript` (the transcript posted back to the room: text cut at
   * `maxChars`, and where the full WebVTT and text files are) or
   * `swp.call.transcript_failed`.
   */
  fromTranscript(transcript: Transcript, bucket: string, maxChars: number, requestId: string | undefined): OutboundEvent {
    const ready = transcript.status === "ready";
    const { text, truncated } = truncate(transcript.text ?? "", maxChars);
    const data = ready
      ? {
          recording_id: transcript.recordingId,
          engine: transcript.engine,
          language: transcript.language,
          text,
          truncated,
          vtt: { bucket, key: transcript.vttKey },
          txt: { bucket, key: transcript.txtKey },
        }
      : { recording_id: transcript.recordingId, error: transcript.error, attempts: transcript.attempts };
    const type = ready ? "swp.call.transcript" : "swp.call.transcript_failed";
    return envelope(this.now(), roomSubject(transcript.roomId), type, transcript, JSON.stringify(data), requestId);
  }

  /** `swp.call.recording_started|stopped|ready|failed` on the room subject, carrying the recording. */
  fromRecording(type: RecordingEventType, recording: Recording, requestId: string | undefined): OutboundEvent {
    return envelope(this.now(), roomSubject(recording.roomId), `swp.call.${type}`, recording, JSON.stringify({ recording: this.renderRecording(recording) }), requestId);
  }

  /** The transition's events; the call state they carry is rendered once, and spliced into each as it is. */
  fromTransition({ call, events }: Transition, requestId: string | undefined): OutboundEvent[] {
    if (events.length === 0) return [];
    const now = this.now();
    const state = this.renderCall(call);
    const where = { tenantId: call.tenantId, roomId: call.roomId, callId: call.id };
    return events.map((event) => {
      const { subject, type, data, withCall } = describe(event, call);
      return envelope(now, subject, type, where, withCall ? withCallState(data, state) : JSON.stringify(data), requestId);
    });
  }
}

/** `data` with the rendered call appended as its last key, `call`: the same bytes as JSON.stringify of the object with it. */
function withCallState(data: Record<string, unknown>, state: string): string {
  const json = JSON.stringify(data);
  return json === "{}" ? `{"call":${state}}` : `${json.slice(0, -1)},"call":${state}}`;
}

/**
 * One event for the outbox: the envelope every `swp.call.*` message shares, with the request that caused it.
 * Written as a string around `data` (already JSON), in the key order of {@link Envelope}.
 */
function envelope(
  now: number,
  subject: string,
  type: string,
  where: { readonly tenantId: string; readonly roomId: string; readonly callId: string },
  data: string,
  /** The request that caused the event; undefined for timers and workers. */
  requestId: string | undefined,
): OutboundEvent {
  const id = newEventId(now);
  const payload =
    `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"ts":"${new Date(now).toISOString()}"` +
    `,"tenant_id":${JSON.stringify(where.tenantId)},"room_id":${JSON.stringify(where.roomId)},"call_id":${JSON.stringify(where.callId)}` +
    `,"data":${data},"request_id":${requestId === undefined ? "null" : JSON.stringify(requestId)}}`;
  return { id, subject, payload, createdAt: now };
}

/** An event's subject, type and data; `withCall`: the data ends with the call state (`call`), added by the caller. */
function describe(event: CallEvent, call: Call): { subject: string; type: string; data: Record<string, unknown>; withCall: boolean } {
  const room = roomSubject(call.roomId);
  switch (event.type) {
    case "started":
      return { subject: room, type: "swp.call.started", data: {}, withCall: true };
    case "invited":
      return {
        subject: userSubject(event.userId),
        type: "swp.call.invite",
        // busy: the member is in another live call, so this rings as call waiting.
        data: { caller_id: call.initiatorId, type: call.type, busy: event.busy },
        withCall: true,
      };
    case "missed":
      // What a push service or the WebSocket tier turns into a missed-call notification (once per ring).
      return {
        subject: userSubject(event.userId),
        type: "swp.call.missed",
        data: { caller_id: call.initiatorId, type: call.type, reason: event.reason },
        withCall: true,
      };
    case "invitee_updated": {
      const invitee = call.invitees.find((i) => i.userId === event.userId);
      return {
        subject: room,
        type: "swp.call.invitee_updated",
        data: { user_id: event.userId, state: invitee?.state ?? null },
        withCall: true,
      };
    }
    case "participant_joined":
      return { subject: room, type: "swp.call.participant_joined", data: { participant_id: event.userId }, withCall: true };
    case "active":
      return { subject: room, type: "swp.call.active", data: {}, withCall: true };
    case "participant_left":
      return { subject: room, type: "swp.call.participant_left", data: { participant_id: event.userId }, withCall: true };
    case "participant_updated": {
      const p = call.participants.find((x) => x.userId === event.userId);
      return {
        subject: room,
        type: "swp.call.participant_updated",
        data: { participant_id: event.userId, audio_on: p?.audioOn ?? false, video_on: p?.videoOn ?? false },
        withCall: true,
      };
    }
    case "rejected":
      return { subject: room, type: "swp.call.rejected", data: { user_id: event.userId }, withCall: true };
    case "ring_stopped":
      return { subject: userSubject(event.userId), type: "swp.call.ring_stopped", data: { reason: event.reason }, withCall: false };
    case "ended":
      return { subject: room, type: "swp.call.ended", data: { end_reason: event.reason, ended_by: call.endedBy }, withCall: true };
  }
}
