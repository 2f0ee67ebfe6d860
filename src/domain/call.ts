import { CallError, CallErrorCode } from "./errors.js";

/**
 * The call lifecycle, free of I/O: `ringing` → `active` → `ended`.
 *
 * Every transition takes the current state and returns the next state plus
 * the facts that happened ({@link CallEvent}); it never mutates its input.
 * The use cases persist the next state and the facts in one transaction.
 */

export type CallType = "audio" | "video";
export type CallStatus = "ringing" | "active" | "ended";
export type EndReason =
  | "ended" // someone allowed ended it for everyone
  | "all_left" // the last participant left an active call
  | "canceled" // the initiator left before anyone answered
  | "rejected" // everyone rung declined
  | "no_answer" // nobody answered within the ring timeout
  | "room_finished"; // LiveKit reported the room finished

/** An end asked for by `by` at `at` (Unix ms), not yet committed. */
export interface EndRequest {
  readonly by: string;
  readonly at: number;
}

/**
 * How long an end request speaks for its caller. It outlives the LiveKit
 * request (seconds) with room to spare; a request whose process died before
 * the room was deleted lapses, and the call goes on as if it was never asked.
 */
export const END_REQUEST_TTL_MS = 60_000;

/** Where a rung member stands: still ringing, answered, declined, or no longer rung because the call ended. */
export type InviteState = "ringing" | "joined" | "rejected" | "stopped";

export interface Participant {
  readonly userId: string;
  readonly joinedAt: number;
  readonly audioOn: boolean;
  readonly videoOn: boolean;
  /**
   * LiveKit's id of this participant's current media session, once LiveKit
   * reported it connected. Each reconnect gets a new one, which tells a stale
   * `participant_left` from a current one.
   */
  readonly livekitSid: string | null;
}

export interface Invitee {
  readonly userId: string;
  readonly state: InviteState;
}

export interface Call {
  readonly id: string;
  readonly tenantId: string;
  readonly roomId: string;
  readonly type: CallType;
  readonly status: CallStatus;
  readonly initiatorId: string;
  /** Unix milliseconds. */
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: EndReason | null;
  /** Who ended the call for everyone (`endReason` "ended"); null otherwise. */
  readonly endedBy: string | null;
  /**
   * An end someone asked for while its LiveKit side (deleting the room) is in
   * flight. Deleting the room makes LiveKit report the room finished and its
   * participants gone, and those reports can commit before the end does: while
   * the request is fresh, whatever ends the call ends it as the asked-for end.
   */
  readonly endRequest: EndRequest | null;
  /** Unix ms after which a call still ringing (nobody answered) ends with `no_answer`. */
  readonly ringDeadline: number;
  /** Who is in the call now (empty once it ended). */
  readonly participants: readonly Participant[];
  /** Every member rung when the call started, and where they stand. */
  readonly invitees: readonly Invitee[];
  /**
   * LiveKit sessions (`sid`) known to have ended: a `participant_joined` of one
   * of them that arrives late must not bring its participant back.
   */
  readonly endedSessions: readonly string[];
}

/** Why a member's ringing stopped: they answered or declined, the call ended, or nobody answered in time. */
export type RingStopReason = "answered" | "rejected" | "ended" | "timeout";

export type CallEvent =
  | { readonly type: "started" }
  | { readonly type: "invited"; readonly userId: string }
  | { readonly type: "participant_joined"; readonly userId: string }
  | { readonly type: "active" }
  | { readonly type: "participant_left"; readonly userId: string }
  | { readonly type: "participant_updated"; readonly userId: string }
  | { readonly type: "rejected"; readonly userId: string }
  | { readonly type: "ring_stopped"; readonly userId: string; readonly reason: RingStopReason }
  | { readonly type: "ended"; readonly reason: EndReason };

export interface Transition {
  readonly call: Call;
  readonly events: readonly CallEvent[];
}

export function isLive(call: Call): boolean {
  return call.status !== "ended";
}

export function isParticipant(call: Call, userId: string): boolean {
  return call.participants.some((p) => p.userId === userId);
}

function assertLive(call: Call): void {
  if (!isLive(call)) throw new CallError(CallErrorCode.Ended, `call ${call.id} has ended`);
}

function joined(userId: string, now: number): Participant {
  // Media state is what LiveKit reports (webhooks); nothing is published yet at join.
  return { userId, joinedAt: now, audioOn: false, videoOn: false, livekitSid: null };
}

export interface StartCallInput {
  readonly id: string;
  readonly tenantId: string;
  readonly roomId: string;
  readonly type: CallType;
  readonly initiatorId: string;
  /** Every member of the room; all but the initiator are rung. */
  readonly memberIds: readonly string[];
  readonly now: number;
  /** How long the call may ring unanswered. */
  readonly ringTimeoutMs: number;
}

export function startCall(input: StartCallInput): Transition {
  const invitees = [...new Set(input.memberIds)]
    .filter((id) => id !== input.initiatorId)
    .map((userId): Invitee => ({ userId, state: "ringing" }));
  const call: Call = {
    id: input.id,
    tenantId: input.tenantId,
    roomId: input.roomId,
    type: input.type,
    status: "ringing",
    initiatorId: input.initiatorId,
    startedAt: input.now,
    endedAt: null,
    endReason: null,
    endedBy: null,
    endRequest: null,
    ringDeadline: input.now + input.ringTimeoutMs,
    participants: [joined(input.initiatorId, input.now)],
    invitees,
    endedSessions: [],
  };
  return {
    call,
    events: [
      { type: "started" },
      { type: "participant_joined", userId: input.initiatorId },
      ...invitees.map((i): CallEvent => ({ type: "invited", userId: i.userId })),
    ],
  };
}

function withInviteState(call: Call, userId: string, state: InviteState): readonly Invitee[] {
  return call.invitees.map((i) => (i.userId === userId ? { userId, state } : i));
}

/** Joining twice (another device) changes nothing; the caller just gets a fresh token. */
export function joinCall(call: Call, userId: string, now: number): Transition {
  assertLive(call);
  if (isParticipant(call, userId)) return noChange(call);

  const events: CallEvent[] = [{ type: "participant_joined", userId }];
  const invitee = call.invitees.find((i) => i.userId === userId);
  if (invitee?.state === "ringing") events.push({ type: "ring_stopped", userId, reason: "answered" });
  let status = call.status;
  if (status === "ringing" && userId !== call.initiatorId) {
    status = "active";
    events.push({ type: "active" });
  }
  const next: Call = {
    ...call,
    status,
    participants: [...call.participants, joined(userId, now)],
    invitees: invitee ? withInviteState(call, userId, "joined") : call.invitees,
  };
  return { call: next, events };
}

/** Leaving when not in the call is a no-op; the last one out ends the call. */
export function leaveCall(call: Call, userId: string, now: number): Transition {
  assertLive(call);
  if (!isParticipant(call, userId)) return noChange(call);

  const left: Call = { ...call, participants: call.participants.filter((p) => p.userId !== userId) };
  const events: CallEvent[] = [{ type: "participant_left", userId }];
  if (left.participants.length > 0) return { call: left, events };

  const ending = endCall(left, call.status === "ringing" ? "canceled" : "all_left", now);
  return { call: ending.call, events: [...events, ...ending.events] };
}

/**
 * A rung member declines. When everyone rung has declined and nobody answered
 * (every 1:1 reject), the call ends; otherwise only this member stops ringing.
 */
export function rejectCall(call: Call, userId: string, now: number): Transition {
  assertLive(call);
  const invitee = call.invitees.find((i) => i.userId === userId);
  if (invitee?.state === "rejected") return noChange(call);
  if (invitee?.state !== "ringing") {
    throw new CallError(CallErrorCode.NotRinging, `call ${call.id} is not ringing for you`);
  }

  const next: Call = { ...call, invitees: withInviteState(call, userId, "rejected") };
  const events: CallEvent[] = [
    { type: "rejected", userId },
    { type: "ring_stopped", userId, reason: "rejected" },
  ];
  const everyoneDeclined = next.invitees.every((i) => i.state === "rejected");
  if (next.status !== "ringing" || !everyoneDeclined) return { call: next, events };

  const ending = endCall(next, "rejected", now);
  return { call: ending.call, events: [...events, ...ending.events] };
}

/**
 * The ring timeout fired: a call nobody answered ends as `no_answer` (a missed
 * call). A call that was answered, or has ended meanwhile, is left alone.
 */
export function timeOutCall(call: Call, now: number): Transition {
  if (call.status !== "ringing" || now < call.ringDeadline) return noChange(call);
  return endCall(call, "no_answer", now);
}

/**
 * Ends the call for everyone; members still ringing stop ringing. While an
 * end request is pending, any end (the room finished, the last one left) is
 * that request's end: it is what made LiveKit report them.
 */
export function endCall(call: Call, reason: EndReason, now: number, endedBy: string | null = null): Transition {
  assertLive(call);
  const request = pendingEndRequest(call, now);
  const finalReason: EndReason = request ? "ended" : reason;
  const stillRinging = call.invitees.filter((i) => i.state === "ringing");
  const ringStop: RingStopReason = finalReason === "no_answer" ? "timeout" : "ended";
  const next: Call = {
    ...call,
    status: "ended",
    endedAt: now,
    endReason: finalReason,
    endedBy: request ? request.by : finalReason === "ended" ? endedBy : null,
    endRequest: null,
    participants: [],
    invitees: call.invitees.map((i) => (i.state === "ringing" ? { userId: i.userId, state: "stopped" } : i)),
  };
  return {
    call: next,
    events: [
      ...stillRinging.map((i): CallEvent => ({ type: "ring_stopped", userId: i.userId, reason: ringStop })),
      { type: "ended", reason: finalReason },
    ],
  };
}

function pendingEndRequest(call: Call, now: number): EndRequest | undefined {
  const request = call.endRequest;
  return request && now - request.at < END_REQUEST_TTL_MS ? request : undefined;
}

/**
 * `userId` asks to end the call: recorded before LiveKit's room is deleted, so
 * the reports that deletion causes end the call as this end. No event: nothing
 * happened yet that anyone should hear about.
 */
export function requestEnd(call: Call, userId: string, now: number): Transition {
  assertLive(call);
  return { call: { ...call, endRequest: { by: userId, at: now } }, events: [] };
}

/** LiveKit could not delete the room: the call goes on, as if the end was never asked. */
export function withdrawEndRequest(call: Call, userId: string): Transition {
  if (!isLive(call) || call.endRequest?.by !== userId) return noChange(call);
  return { call: { ...call, endRequest: null }, events: [] };
}

/**
 * The room is deleted: the asked-for end commits, unless a report of that
 * deletion (or a moderator ending it at the same moment) already ended the
 * call for everyone: then the end asked for has happened, nothing is left to do.
 */
export function completeEnd(call: Call, userId: string, now: number): Transition {
  if (!isLive(call) && call.endReason === "ended") return noChange(call);
  return endCall(call, "ended", now, userId);
}

// ---- What LiveKit reports (webhooks and reconciliation) ----------------------
// LiveKit delivers at least once and not always in order; these transitions
// are no-ops when the report is stale, duplicated, or about an ended call.

function noChange(call: Call): Transition {
  return { call, events: [] };
}

function withParticipant(call: Call, userId: string, change: (p: Participant) => Participant): Call {
  return { ...call, participants: call.participants.map((p) => (p.userId === userId ? change(p) : p)) };
}

/** LiveKit says `userId`'s media connected as session `sid`: a join we had not seen is a join. */
export function mediaJoined(call: Call, userId: string, sid: string, now: number): Transition {
  if (!isLive(call) || call.endedSessions.includes(sid)) return noChange(call);
  const present = call.participants.find((p) => p.userId === userId);
  if (present) {
    if (present.livekitSid === sid) return noChange(call);
    return { call: withParticipant(call, userId, (p) => ({ ...p, livekitSid: sid })), events: [] };
  }
  const joinedNow = joinCall(call, userId, now);
  return { call: withParticipant(joinedNow.call, userId, (p) => ({ ...p, livekitSid: sid })), events: joinedNow.events };
}

/**
 * LiveKit says session `sid` of `userId` left (`sid` null: reconciliation
 * found them gone). Ignored when it is about an older session than the one
 * we know, or older (`at`) than a join we saw through the API.
 */
export function mediaLeft(call: Call, userId: string, sid: string | null, at: number, now: number): Transition {
  if (!isLive(call)) return noChange(call);
  // Remember the session as over, whatever else happens: its join may still be on the way.
  const remembered: Call =
    sid === null || call.endedSessions.includes(sid) ? call : { ...call, endedSessions: [...call.endedSessions, sid] };
  const present = remembered.participants.find((p) => p.userId === userId);
  if (!present) return noChange(remembered);
  if (sid !== null && present.livekitSid !== null && present.livekitSid !== sid) return noChange(remembered);
  if (sid !== null && present.livekitSid === null && at < present.joinedAt) return noChange(remembered);
  return leaveCall(remembered, userId, now);
}

interface MediaState {
  readonly audioOn: boolean;
  readonly videoOn: boolean;
}

/** What `userId` publishes changed (track published, unpublished, muted). */
export function mediaChanged(call: Call, userId: string, media: Partial<MediaState>): Transition {
  if (!isLive(call)) return noChange(call);
  const present = call.participants.find((p) => p.userId === userId);
  if (!present) return noChange(call);
  const audioOn = media.audioOn ?? present.audioOn;
  const videoOn = media.videoOn ?? present.videoOn;
  if (audioOn === present.audioOn && videoOn === present.videoOn) return noChange(call);
  return {
    call: withParticipant(call, userId, (p) => ({ ...p, audioOn, videoOn })),
    events: [{ type: "participant_updated", userId }],
  };
}

/** LiveKit closed the room (everyone gone past the departure timeout, or deleted elsewhere). */
export function roomFinished(call: Call, now: number): Transition {
  if (!isLive(call)) return noChange(call);
  return endCall(call, "room_finished", now);
}
