import { nextRingAt, type Call, type Invitee, type Participant } from "../domain/call.js";

/** The rows of a call that a save must write: what differs from the stored state, nothing else. */
export interface CallRowChanges {
  /** The `calls` row itself: its status, end, end request or ring deadlines changed (or it is new). */
  readonly callRow: boolean;
  /** New participants, and those whose join time, media state or session changed. */
  readonly upsertParticipants: readonly Participant[];
  readonly deleteParticipants: readonly string[];
  readonly addEndedSessions: readonly string[];
  /** Invitees that are new, or whose state or ring deadline changed. */
  readonly upsertInvitees: readonly Invitee[];
  /** The users' rows of the call's history (call_parties) to insert or update. */
  readonly upsertParties: readonly PartyChange[];
}

/**
 * One user's part in a call, as history needs it: a row per initiator,
 * invitee and anyone who joined. Insert it if new (flags false unless given);
 * otherwise `joined` only ever turns true, and `missedUnseen` changes only
 * when given.
 */
export interface PartyChange {
  readonly userId: string;
  readonly joined: boolean;
  /** true: they just missed a ring; false: they joined (nothing missed to show); undefined: unchanged. */
  readonly missedUnseen: boolean | undefined;
}

/**
 * What saving `after` over `before` must write (every store uses it): a join
 * in a room of thousands touches two rows, not thousands, and a row whose
 * columns would not change is not written at all. Only the `call_parties`
 * rows depend on stored state the call does not carry (whether a user ever
 * joined, an unseen miss): the stores skip those that would not change.
 */
export function callRowChanges(before: Call | undefined, after: Call): CallRowChanges {
  const oldParticipants = new Map(before?.participants.map((p) => [p.userId, p]));
  const upsertParticipants: Participant[] = [];
  for (const p of after.participants) {
    const old = oldParticipants.get(p.userId);
    oldParticipants.delete(p.userId);
    const same =
      old &&
      old.joinedAt === p.joinedAt &&
      old.audioOn === p.audioOn &&
      old.videoOn === p.videoOn &&
      old.livekitSid === p.livekitSid;
    if (!same) upsertParticipants.push(p);
  }
  const known = new Set(before?.endedSessions);
  const oldInvitees = new Map(before?.invitees.map((i) => [i.userId, i]));
  const upsertInvitees = after.invitees.filter((i) => {
    const old = oldInvitees.get(i.userId);
    return !old || old.state !== i.state || old.ringDeadline !== i.ringDeadline || old.changedAt !== i.changedAt;
  });
  return {
    callRow: callRowDiffers(before, after),
    upsertParticipants,
    deleteParticipants: [...oldParticipants.keys()],
    addEndedSessions: after.endedSessions.filter((sid) => !known.has(sid)),
    upsertInvitees,
    upsertParties: partyChanges(before, after, oldInvitees, upsertInvitees),
  };
}

/** The columns of `calls` a change may write (the others are fixed when the call starts). */
function callRowDiffers(before: Call | undefined, after: Call): boolean {
  return (
    !before ||
    before.status !== after.status ||
    before.endedAt !== after.endedAt ||
    before.endReason !== after.endReason ||
    before.endedBy !== after.endedBy ||
    before.endRequest?.by !== after.endRequest?.by ||
    before.endRequest?.at !== after.endRequest?.at ||
    before.ringDeadline !== after.ringDeadline ||
    nextRingAt(before) !== nextRingAt(after)
  );
}

function partyChanges(before: Call | undefined, after: Call, oldInvitees: ReadonlyMap<string, Invitee>, changed: readonly Invitee[]): PartyChange[] {
  const parties = new Map<string, PartyChange>();
  const put = (userId: string, change: Partial<Omit<PartyChange, "userId">>) => {
    const current = parties.get(userId) ?? { userId, joined: false, missedUnseen: undefined };
    parties.set(userId, { userId, joined: current.joined || (change.joined ?? false), missedUnseen: change.missedUnseen ?? current.missedUnseen });
  };
  if (!before) put(after.initiatorId, { joined: true });
  for (const i of changed) {
    const old = oldInvitees.get(i.userId);
    // The ring ended without their answer: a missed call to show (busy members saw it as call waiting).
    const missedNow = old?.ringDeadline != null && i.ringDeadline === null && (i.state === "missed" || i.state === "canceled");
    // A new invitee needs their row; any other change of an invitee writes it only if it changes it.
    if (missedNow) put(i.userId, { missedUnseen: true });
    else if (!old) put(i.userId, {});
  }
  const wereIn = new Set(before?.participants.map((p) => p.userId));
  for (const p of after.participants) if (!wereIn.has(p.userId)) put(p.userId, { joined: true, missedUnseen: false });
  return [...parties.values()];
}
