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

/**
 * Where a rung member stands. `ringing`: their phone rings. `busy`: it rings
 * as call waiting, because they are in another live call (and stays `busy`
 * if that ring ends unanswered). `answered`: they joined. `rejected`: they
 * declined. `missed`: the ring ended without their answer (it timed out, or
 * the call ended while it rang). `canceled`: the caller gave up before anyone
 * answered.
 */
export type InviteState = "ringing" | "answered" | "rejected" | "missed" | "busy" | "canceled";

/** Why a member's ring ended without their answer (`swp.call.missed`). */
export type MissedReason = "timeout" | "canceled" | "ended";

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
  /** When `state` last changed (Unix ms). */
  readonly changedAt: number;
  /** While their phone rings (`ringing`, or `busy` as call waiting): when it stops unanswered. Null once it stopped. */
  readonly ringDeadline: number | null;
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
  /**
   * Unix ms after which a call nobody answered ends with `no_answer`: the
   * latest ring deadline given while it was ringing (a call with nobody to
   * ring ends then too).
   */
  readonly ringDeadline: number;
  /** Who is in the call now (empty once it ended). */
  readonly participants: readonly Participant[];
  /** Every member rung (when the call started, or rung again since), and where they stand. */
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
  | { readonly type: "invited"; readonly userId: string; readonly busy: boolean }
  | { readonly type: "missed"; readonly userId: string; readonly reason: MissedReason }
  | { readonly type: "invitee_updated"; readonly userId: string }
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

/** Whether the member's phone rings for this call now (as a ring, or as call waiting). */
export function isRinging(invitee: Invitee): boolean {
  return invitee.ringDeadline !== null;
}

/**
 * The earliest moment something of this call rings out: a member's ring
 * deadline, or the call's own while nobody answered. Null when nothing
 * rings. The store keeps it beside the call, for the ring timer.
 */
export function nextRingAt(call: Call): number | null {
  if (!isLive(call)) return null;
  let next = call.status === "ringing" ? call.ringDeadline : Number.POSITIVE_INFINITY;
  for (const i of call.invitees) if (i.ringDeadline !== null && i.ringDeadline < next) next = i.ringDeadline;
  return Number.isFinite(next) ? next : null;
}

function ringing(userId: string, busy: boolean, now: number, ringTimeoutMs: number): Invitee {
  return { userId, state: busy ? "busy" : "ringing", changedAt: now, ringDeadline: now + ringTimeoutMs };
}

/** The ring ends: `busy` stays busy (the caller learned why), anyone else takes `state`. */
function ringEnded(invitee: Invitee, state: "missed" | "canceled", now: number): Invitee {
  return { userId: invitee.userId, state: invitee.state === "busy" ? "busy" : state, changedAt: now, ringDeadline: null };
}

/** A missed call for the member, unless they were busy: they saw it as call waiting and the caller saw them busy. */
function missedEvents(invitee: Invitee, reason: MissedReason): CallEvent[] {
  return invitee.state === "busy" ? [] : [{ type: "missed", userId: invitee.userId, reason }];
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
  /** Members who are in another live call now: rung as call waiting (`busy`). */
  readonly busyIds?: ReadonlySet<string>;
}

export function startCall(input: StartCallInput): Transition {
  const invitees = [...new Set(input.memberIds)]
    .filter((id) => id !== input.initiatorId)
    .map((userId) => ringing(userId, input.busyIds?.has(userId) ?? false, input.now, input.ringTimeoutMs));
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
      ...invitees.map((i): CallEvent => ({ type: "invited", userId: i.userId, busy: i.state === "busy" })),
    ],
  };
}

function withInvitee(call: Call, invitee: Invitee): readonly Invitee[] {
  return call.invitees.map((i) => (i.userId === invitee.userId ? invitee : i));
}

/** Joining twice (another device) changes nothing; the caller just gets a fresh token. */
export function joinCall(call: Call, userId: string, now: number): Transition {
  assertLive(call);
  if (isParticipant(call, userId)) return noChange(call);

  const events: CallEvent[] = [{ type: "participant_joined", userId }];
  const invitee = call.invitees.find((i) => i.userId === userId);
  if (invitee && isRinging(invitee)) events.push({ type: "ring_stopped", userId, reason: "answered" });
  let status = call.status;
  if (status === "ringing" && userId !== call.initiatorId) {
    status = "active";
    events.push({ type: "active" });
  }
  const next: Call = {
    ...call,
    status,
    participants: [...call.participants, joined(userId, now)],
    invitees: invitee ? withInvitee(call, { userId, state: "answered", changedAt: now, ringDeadline: null }) : call.invitees,
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

  return chain({ call: left, events }, endCall(left, call.status === "ringing" ? "canceled" : "all_left", now));
}

/**
 * A rung member declines. When nobody rings any more and nobody answered
 * (every 1:1 reject), the call ends; otherwise only this member stops ringing.
 */
export function rejectCall(call: Call, userId: string, now: number): Transition {
  assertLive(call);
  const invitee = call.invitees.find((i) => i.userId === userId);
  if (invitee?.state === "rejected") return noChange(call);
  if (!invitee || !isRinging(invitee)) {
    throw new CallError(CallErrorCode.NotRinging, `call ${call.id} is not ringing for you`);
  }

  const next: Call = { ...call, invitees: withInvitee(call, { userId, state: "rejected", changedAt: now, ringDeadline: null }) };
  const events: CallEvent[] = [
    { type: "rejected", userId },
    { type: "ring_stopped", userId, reason: "rejected" },
  ];
  return endIfNobodyRings({ call: next, events }, now);
}

/**
 * Ring deadlines passed: each member whose ring is due stops ringing and has
 * missed the call (a busy one stays busy); a call nobody answered ends as
 * `no_answer` once nobody rings, or at its own deadline.
 */
export function timeOutCall(call: Call, now: number): Transition {
  if (!isLive(call)) return noChange(call);
  const due = call.invitees.filter((i) => i.ringDeadline !== null && i.ringDeadline <= now);
  const callDue = call.status === "ringing" && call.ringDeadline <= now;
  if (due.length === 0 && !callDue) return noChange(call);

  const stopped = new Map(due.map((i) => [i.userId, ringEnded(i, "missed", now)]));
  const next: Call = { ...call, invitees: call.invitees.map((i) => stopped.get(i.userId) ?? i) };
  const events: CallEvent[] = due.flatMap((i): CallEvent[] => [
    { type: "ring_stopped", userId: i.userId, reason: "timeout" },
    ...missedEvents(i, "timeout"),
    { type: "invitee_updated", userId: i.userId },
  ]);
  const ended = callDue && next.status === "ringing" ? chain({ call: next, events }, endCall(next, "no_answer", now)) : endIfNobodyRings({ call: next, events }, now);
  // When the call ends with these rings, the `ended` event's call shows every member's final state.
  return isLive(ended.call) ? ended : { call: ended.call, events: ended.events.filter((e) => e.type !== "invitee_updated") };
}

/** `second` applied after `first`: its call, both their events. */
function chain(first: Transition, second: Transition): Transition {
  return { call: second.call, events: [...first.events, ...second.events] };
}

/** A call nobody answered ends once nobody rings: `rejected` if everyone rung declined, else `no_answer`. */
function endIfNobodyRings(transition: Transition, now: number): Transition {
  const { call, events } = transition;
  if (call.status !== "ringing" || call.invitees.length === 0 || call.invitees.some(isRinging)) return transition;
  const reason: EndReason = call.invitees.every((i) => i.state === "rejected") ? "rejected" : "no_answer";
  return chain({ call, events }, endCall(call, reason, now));
}

/**
 * `byUserId`, in the live call, rings members again: each of `targets` gets a
 * fresh ring deadline of its own (`busy` ones ring as call waiting). Members
 * in the call already are skipped. The room hears each new ring.
 */
export function ringAgain(
  call: Call,
  byUserId: string,
  targets: readonly { readonly userId: string; readonly busy: boolean }[],
  now: number,
  ringTimeoutMs: number,
): Transition {
  assertLive(call);
  if (!isParticipant(call, byUserId)) {
    throw new CallError(CallErrorCode.Forbidden, `only a participant of call ${call.id} may ring members`);
  }
  const rung = targets.filter((t) => !isParticipant(call, t.userId) && t.userId !== byUserId);
  if (rung.length === 0) return noChange(call);
  const fresh = new Map(rung.map((t) => [t.userId, ringing(t.userId, t.busy, now, ringTimeoutMs)]));
  const known = new Set(call.invitees.map((i) => i.userId));
  const next: Call = {
    ...call,
    invitees: [...call.invitees.map((i) => fresh.get(i.userId) ?? i), ...[...fresh.values()].filter((i) => !known.has(i.userId))],
    ringDeadline: call.status === "ringing" ? Math.max(call.ringDeadline, now + ringTimeoutMs) : call.ringDeadline,
  };
  return {
    call: next,
    events: [...fresh.values()].flatMap((i): CallEvent[] => [
      { type: "invited", userId: i.userId, busy: i.state === "busy" },
      { type: "invitee_updated", userId: i.userId },
    ]),
  };
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
  const finalEndedBy = request ? request.by : finalReason === "ended" ? endedBy : null;
  // The caller giving up before anyone answered cancels the ring; any other end of a ringing phone misses it.
  const canceled = call.status === "ringing" && (finalReason === "canceled" || (finalReason === "ended" && finalEndedBy === call.initiatorId));
  const missed: MissedReason = canceled ? "canceled" : finalReason === "no_answer" ? "timeout" : "ended";
  const stillRinging = call.invitees.filter(isRinging);
  const ringStop: RingStopReason = finalReason === "no_answer" ? "timeout" : "ended";
  const next: Call = {
    ...call,
    status: "ended",
    endedAt: now,
    endReason: finalReason,
    endedBy: finalEndedBy,
    endRequest: null,
    participants: [],
    invitees: call.invitees.map((i) => (isRinging(i) ? ringEnded(i, canceled ? "canceled" : "missed", now) : i)),
  };
  // No invitee_updated here: the `ended` event's call shows every member's final state.
  return {
    call: next,
    events: [
      ...stillRinging.flatMap((i): CallEvent[] => [{ type: "ring_stopped", userId: i.userId, reason: ringStop }, ...missedEvents(i, missed)]),
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
