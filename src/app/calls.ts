import {
  completeEnd,
  isLive,
  isParticipant,
  isRinging,
  joinCall,
  leaveCall,
  mediaChanged,
  nextRingAt,
  rejectCall,
  requestEnd,
  ringAgain,
  startCall,
  timeOutCall,
  type Call,
  type CallType,
  type Transition,
  withdrawEndRequest,
} from "../domain/call.js";
import { CallError, CallErrorCode } from "../domain/errors.js";
import { liveKitRoomName, newCallId } from "../domain/ids.js";
import { mayEndCall, mayModerate, type Membership } from "../domain/permissions.js";
import type { CallEventFactory } from "./events.js";
import { requireMember } from "./membership.js";
import type { Caller, Clock, DirectoryReads, LiveKitRooms, LiveKitTokens, Logger, Store, StoreReads, StoreTransaction } from "./ports.js";

/** What a client needs to connect its media to LiveKit. */
export interface JoinTicket {
  readonly callId: string;
  readonly livekitUrl: string;
  readonly livekitToken: string;
  readonly livekitRoom: string;
}

/** Ring timeouts ended per transaction: bounded, so one sweep never holds many rows for long. */
const EXPIRY_BATCH = 64;

/** A change of a call: the next state from the current one (it may read in the transaction, e.g. a membership). */
export type CallChange = (call: Call, tx: StoreTransaction) => Transition | Promise<Transition>;

export interface CallsDeps {
  readonly store: Store;
  /** Builds the events of each transition (the use cases append them to the outbox with the change). */
  readonly events: CallEventFactory;
  readonly rooms: LiveKitRooms;
  readonly tokens: LiveKitTokens;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The client-facing LiveKit URL put in every ticket. */
  readonly livekitUrl: string;
  /** How long a call may ring unanswered before it ends as `no_answer`. */
  readonly ringTimeoutMs: number;
  /** Told about each new ring deadline, so the timer can fire on time. */
  readonly onRingDeadline?: (deadline: number) => void;
  /** Told when a call ended (its recording stops), with the request that ended it (undefined for timers and reports). */
  readonly onCallEnded?: (callId: string, requestId: string | undefined) => void;
}

/**
 * The call lifecycle use cases: who may do what (domain rules), in what
 * order the store and LiveKit are touched, and what the caller gets back.
 */
export class CallsUseCases {
  constructor(private readonly deps: CallsDeps) {}

  /** Starts a call in a room, or joins its live call (glare). */
  async initiate(caller: Caller, roomId: string, type: CallType): Promise<JoinTicket> {
    const { store, rooms, clock } = this.deps;
    await this.requireMember(caller, roomId);

    const live = await store.calls.findLiveCallInRoom(caller.tenantId, roomId);
    if (live) return this.join(caller, live.id);

    // The LiveKit room comes first so that no stored call ever points at a
    // room that does not exist; if LiveKit is down, nothing is stored.
    const callId = newCallId(clock.now());
    const roomName = liveKitRoomName(callId);
    await rooms.createRoom(roomName);

    const started = await store.transaction(async (tx) => {
      const memberIds = await tx.directory.listMemberIds(caller.tenantId, roomId);
      const transition = startCall({
        id: callId,
        tenantId: caller.tenantId,
        roomId,
        type,
        initiatorId: caller.userId,
        memberIds,
        now: clock.now(),
        ringTimeoutMs: this.deps.ringTimeoutMs,
        // Members talking in another call now are rung as call waiting.
        busyIds: await tx.calls.findBusy(caller.tenantId, memberIds.filter((id) => id !== caller.userId)),
      });
      if (!(await tx.calls.insertCall(transition.call))) return undefined;
      await tx.outbox.append(this.deps.events.fromTransition(transition, caller.requestId));
      return transition;
    });
    if (started) {
      this.announceRingDeadline(started.call);
      return this.ticket(caller, callId);
    }

    // Someone else started a call in this room while we created ours: join theirs.
    this.deleteRoomInBackground(roomName, "glare: a concurrent initiate won");
    const winner = await store.calls.findLiveCallInRoom(caller.tenantId, roomId);
    if (!winner) throw new CallError(CallErrorCode.Internal, "the room's live call vanished during initiate");
    return this.join(caller, winner.id);
  }

  // Join, leave and reject check access on the call read inside their own
  // transaction: one read of the call per request, not one before and one in it.

  async join(caller: Caller, callId: string): Promise<JoinTicket> {
    await this.apply(caller, callId, async (current, tx) => {
      await this.requireMember(caller, current.roomId, tx);
      return joinCall(current, caller.userId, this.deps.clock.now());
    });
    return this.ticket(caller, callId);
  }

  leave(caller: Caller, callId: string): Promise<Call> {
    return this.apply(caller, callId, async (current, tx) => {
      if (!isParticipant(current, caller.userId)) await this.requireMember(caller, current.roomId, tx);
      return leaveCall(current, caller.userId, this.deps.clock.now());
    });
  }

  reject(caller: Caller, callId: string): Promise<Call> {
    return this.apply(caller, callId, async (current, tx) => {
      await this.requireMember(caller, current.roomId, tx);
      return rejectCall(current, caller.userId, this.deps.clock.now());
    });
  }

  /**
   * Ends the call for everyone. LiveKit's room is deleted first, which
   * disconnects everyone's media; if LiveKit cannot be reached the call stays
   * live and the caller can retry, rather than a call marked ended whose
   * media goes on.
   *
   * The end is recorded as requested before the room is deleted: LiveKit's
   * reports of that deletion (room finished, participants gone) may commit
   * before this request does, and they then end the call as this end.
   */
  async end(caller: Caller, callId: string): Promise<Call> {
    const { store, clock } = this.deps;
    await store.transaction((tx) =>
      this.changeIn(tx, caller.tenantId, callId, async (current) => {
        const member = await this.requireMember(caller, current.roomId, tx);
        if (!mayEndCall(current.initiatorId, member)) {
          throw new CallError(CallErrorCode.Forbidden, "only the initiator or a moderator (power level 50) may end the call");
        }
        return requestEnd(current, caller.userId, clock.now());
      }, caller.requestId),
    );
    try {
      await this.deps.rooms.deleteRoom(liveKitRoomName(callId));
    } catch (err) {
      await store.transaction((tx) =>
        this.changeIn(tx, caller.tenantId, callId, (current) => withdrawEndRequest(current, caller.userId), caller.requestId),
      );
      throw err;
    }
    const completed = await store.transaction((tx) =>
      this.changeIn(tx, caller.tenantId, callId, (current) => completeEnd(current, caller.userId, clock.now()), caller.requestId),
    );
    // A report that ended the call first already stopped its recording.
    if (completed.events.length > 0) this.deps.onCallEnded?.(callId, caller.requestId);
    return completed.call;
  }

  /**
   * A participant rings members of the room again: `userIds`, or (empty)
   * every member who is neither in the call nor ringing now. Each gets a
   * fresh ring deadline of their own; members in another live call ring as
   * call waiting (`busy`). A user who is not a member of the room is refused.
   */
  async ring(caller: Caller, callId: string, userIds: readonly string[]): Promise<Call> {
    const call = await this.apply(caller, callId, async (current, tx) => {
      await this.requireMember(caller, current.roomId, tx);
      const members = await tx.directory.listMemberIds(caller.tenantId, current.roomId);
      const ringingNow = new Set(current.invitees.filter(isRinging).map((i) => i.userId));
      const targets =
        userIds.length > 0 ? [...new Set(userIds)] : members.filter((id) => !isParticipant(current, id) && !ringingNow.has(id));
      const memberSet = new Set(members);
      const strangers = targets.filter((id) => !memberSet.has(id));
      if (strangers.length > 0) {
        throw new CallError(CallErrorCode.InvalidArgument, `not members of room ${current.roomId}: ${strangers.slice(0, 5).join(", ")}`);
      }
      const busy = await tx.calls.findBusy(caller.tenantId, targets);
      const now = this.deps.clock.now();
      return ringAgain(current, caller.userId, targets.map((userId) => ({ userId, busy: busy.has(userId) })), now, this.deps.ringTimeoutMs);
    });
    this.announceRingDeadline(call);
    return call;
  }

  /**
   * Host control: mutes a participant's microphone (and camera if asked) in
   * LiveKit; only the participant can unmute. Moderators (power >= 50) only.
   */
  async muteParticipant(caller: Caller, callId: string, participantId: string, what: { audio: boolean; video: boolean }): Promise<Call> {
    await this.requireModeratedParticipant(caller, callId, participantId);
    await this.deps.rooms.muteParticipant(liveKitRoomName(callId), participantId, what);
    return this.apply(caller, callId, (current) =>
      mediaChanged(current, participantId, {
        ...(what.audio && { audioOn: false }),
        ...(what.video && { videoOn: false }),
      }),
    );
  }

  /** Host control: disconnects a participant and takes them out of the call. Moderators (power >= 50) only. */
  async removeParticipant(caller: Caller, callId: string, participantId: string): Promise<Call> {
    await this.requireModeratedParticipant(caller, callId, participantId);
    await this.deps.rooms.removeParticipant(liveKitRoomName(callId), participantId);
    // LiveKit's participant_left for this removal may have taken them out (or ended the call) first: done either way.
    return this.apply(caller, callId, (current) =>
      isLive(current) ? leaveCall(current, participantId, this.deps.clock.now()) : { call: current, events: [] },
    );
  }

  /** The live calls of every room the caller is a member of, newest first. */
  listLive(caller: Caller): Promise<Call[]> {
    return this.deps.store.calls.listLiveCallsForMember(caller.tenantId, caller.userId, 100);
  }

  /**
   * The call, for a member of its room, with what `alongside` reads about it
   * (GetCall: its recordings): one read of the store, one snapshot.
   */
  get<T>(caller: Caller, callId: string, alongside: (call: Call, reads: StoreReads) => Promise<T>): Promise<{ call: Call; alongside: T }> {
    return this.deps.store.read(async (reads) => {
      const call = await this.visibleCall(caller, callId, reads);
      await this.requireMember(caller, call.roomId, reads);
      return { call, alongside: await alongside(call, reads) };
    });
  }

  /**
   * Ends every call whose ring deadline has passed with nobody answering
   * (`no_answer`, a missed call). Returns how many ended.
   */
  async expireUnanswered(): Promise<number> {
    let ended = 0;
    for (;;) {
      const now = this.deps.clock.now();
      // Claimed and ended in one transaction: another instance sweeping at the same moment skips these calls.
      const transitions = await this.deps.store.transaction(async (tx) => {
        const done: { callId: string; transition: Transition }[] = [];
        for (const { tenantId, callId } of await tx.calls.claimRingingDue(now, EXPIRY_BATCH)) {
          // The ring timer's: no request caused it.
          done.push({ callId, transition: await this.changeIn(tx, tenantId, callId, (current) => timeOutCall(current, now), undefined) });
        }
        return done;
      });
      for (const { callId, transition } of transitions) {
        this.afterCommit(callId, transition, undefined);
        if (transition.call.endReason === "no_answer") ended++;
      }
      if (transitions.length < EXPIRY_BATCH) return ended;
    }
  }

  /**
   * Applies what LiveKit reported (webhook or reconciliation) to a call, with
   * the same consequences as a user's action (events; an ended call loses its
   * room). With `webhook`, the report is applied once per webhook id, in the
   * same transaction as the record of that id: a retry changes nothing; its
   * events name the webhook's request (`requestId`).
   */
  async applyReport(
    tenantId: string,
    callId: string,
    change: CallChange,
    webhook?: { readonly id: string; readonly receivedAt: number; readonly requestId?: string },
  ): Promise<{ readonly call: Call | undefined; readonly duplicate: boolean }> {
    const transition = await this.deps.store.transaction(async (tx) => {
      if (webhook && !(await tx.webhooks.record(webhook.id, webhook.receivedAt))) return undefined;
      return this.changeIn(tx, tenantId, callId, change, webhook?.requestId);
    });
    if (!transition) return { call: undefined, duplicate: true };
    this.afterCommit(callId, transition, webhook?.requestId);
    return { call: transition.call, duplicate: false };
  }

  /**
   * The one write path of calls: reads the call for update in `tx`, applies
   * `change`, stores the result and appends the events it produced, naming
   * `requestId` (the request that asked for the change; undefined for timers and reports).
   */
  async changeIn(tx: StoreTransaction, tenantId: string, callId: string, change: CallChange, requestId: string | undefined): Promise<Transition> {
    const current = await tx.calls.findCallForUpdate(tenantId, callId);
    if (!current) throw new CallError(CallErrorCode.NotFound, `call ${callId} not found`);
    const next = await change(current, tx);
    if (next.call !== current) await tx.calls.saveCall(current, next.call);
    if (next.events.length > 0) await tx.outbox.append(this.deps.events.fromTransition(next, requestId));
    return next;
  }

  /** Applies the caller's change in a transaction of its own; a call it ends also loses its LiveKit room. */
  private async apply(caller: Caller, callId: string, change: CallChange): Promise<Call> {
    const transition = await this.deps.store.transaction((tx) => this.changeIn(tx, caller.tenantId, callId, change, caller.requestId));
    this.afterCommit(callId, transition, caller.requestId);
    return transition.call;
  }

  /** The ring timer arms for the call's next ring deadline (a poll would find it a little later anyway). */
  private announceRingDeadline(call: Call): void {
    const next = nextRingAt(call);
    if (next !== null) this.deps.onRingDeadline?.(next);
  }

  /** What follows a committed change outside the store: a call it ended loses its LiveKit room and its recording. */
  private afterCommit(callId: string, { call, events }: Transition, requestId: string | undefined): void {
    if (!events.some((e) => e.type === "ended")) return;
    this.deleteRoomInBackground(liveKitRoomName(callId), `call ended: ${call.endReason ?? "unknown"}`);
    this.deps.onCallEnded?.(callId, requestId);
  }

  /**
   * Calls that end on their own (last leave, all rejected) do not wait for
   * LiveKit: the room is empty or about to be, and LiveKit closes empty rooms
   * by itself after their empty timeout if this delete is lost.
   */
  private deleteRoomInBackground(roomName: string, why: string): void {
    this.deps.rooms.deleteRoom(roomName).catch((err: unknown) => {
      this.deps.logger.warn({ err, room: roomName, why }, "could not delete LiveKit room; LiveKit's empty timeout will close it");
    });
  }

  /** Another tenant's call is indistinguishable from a call that does not exist. */
  private async visibleCall(caller: Caller, callId: string, reads: StoreReads = this.deps.store): Promise<Call> {
    const call = await reads.calls.findCall(caller.tenantId, callId);
    if (!call) throw new CallError(CallErrorCode.NotFound, `call ${callId} not found`);
    return call;
  }

  private async requireModeratedParticipant(caller: Caller, callId: string, participantId: string): Promise<void> {
    const call = await this.visibleCall(caller, callId);
    if (!mayModerate(await this.requireMember(caller, call.roomId))) {
      throw new CallError(CallErrorCode.Forbidden, "only a moderator (power level 50) may mute or remove participants");
    }
    if (!isLive(call)) throw new CallError(CallErrorCode.Ended, `call ${call.id} has ended`);
    if (!isParticipant(call, participantId)) {
      throw new CallError(CallErrorCode.ParticipantNotFound, `${participantId} is not in call ${call.id}`);
    }
  }

  private requireMember(caller: Caller, roomId: string, reads: { readonly directory: DirectoryReads } = this.deps.store): Promise<Membership> {
    return requireMember(reads, caller, roomId);
  }

  private async ticket(caller: Caller, callId: string): Promise<JoinTicket> {
    const livekitRoom = liveKitRoomName(callId);
    return {
      callId,
      livekitUrl: this.deps.livekitUrl,
      livekitToken: await this.deps.tokens.mint(caller.userId, livekitRoom),
      livekitRoom,
    };
  }
}
