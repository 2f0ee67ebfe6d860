import type { Call, Invitee, Participant } from "../domain/call.js";

/** The child rows of a call that a save must write: what differs from the stored state, nothing else. */
export interface CallRowChanges {
  /** New participants, and those whose join time, media state or session changed. */
  readonly upsertParticipants: readonly Participant[];
  readonly deleteParticipants: readonly string[];
  readonly addEndedSessions: readonly string[];
  /** Invitees that are new or changed state. */
  readonly upsertInvitees: readonly Invitee[];
}

/**
 * What saving `after` over `before` must write (every store uses it): a join
 * in a room of thousands touches two rows, not thousands.
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
  const oldStates = new Map(before?.invitees.map((i) => [i.userId, i.state]));
  return {
    upsertParticipants,
    deleteParticipants: [...oldParticipants.keys()],
    addEndedSessions: after.endedSessions.filter((sid) => !known.has(sid)),
    upsertInvitees: after.invitees.filter((i) => oldStates.get(i.userId) !== i.state),
  };
}
