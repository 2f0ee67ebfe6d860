import type { CallStatus, CallType, EndReason, InviteState } from "./call.js";

/**
 * A user's call history, free of I/O: which way each call went for them and
 * how it turned out, from what the store keeps of the call and of their part.
 */

export type Direction = "outgoing" | "incoming";

/**
 * The user's own outcome. Incoming: they `answered` (joined, on any device),
 * `declined`, were `busy` (rung as call waiting while in another call, from
 * the first ring on, and unless they answer or decline), the caller
 * `canceled` before anyone answered, or they `missed` it. Outgoing: someone
 * `answered`, everyone `declined`, nobody answered (`missed`), or the call
 * ended before anyone answered (`canceled`, whoever ended it). Null while it
 * is still undecided (ringing).
 */
export type HistoryOutcome = "answered" | "missed" | "declined" | "busy" | "canceled";

/** What the store keeps of one call, for one user who was in it or rung for it. */
export interface CallHistoryRecord {
  readonly callId: string;
  readonly roomId: string;
  readonly type: CallType;
  readonly status: CallStatus;
  readonly initiatorId: string;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: EndReason | null;
  /** Everyone who joined the call at some point, the initiator included. */
  readonly participantCount: number;
  /** The user's state as an invitee; null if they were never rung (the initiator, or joined unrung). */
  readonly inviteState: InviteState | null;
  /** Whether the user joined the call at some point. */
  readonly joined: boolean;
  /** Whether the user missed it and has not marked their history seen since. */
  readonly missedUnseen: boolean;
}

/** Where a page of history (or of a room's calls) starts: strictly older than this call. */
export interface HistoryPosition {
  readonly startedAt: number;
  readonly callId: string;
}

export interface HistoryPage {
  readonly limit: number;
  readonly before?: HistoryPosition;
}

export function directionOf(record: CallHistoryRecord, userId: string): Direction {
  return record.initiatorId === userId ? "outgoing" : "incoming";
}

export function outcomeOf(record: CallHistoryRecord, userId: string): HistoryOutcome | null {
  if (directionOf(record, userId) === "outgoing") {
    if (record.participantCount > 1) return "answered";
    switch (record.endReason) {
      case null:
        return null;
      case "rejected":
        return "declined";
      case "no_answer":
        return "missed";
      default:
        return "canceled";
    }
  }
  if (record.joined) return "answered";
  switch (record.inviteState) {
    case "rejected":
      return "declined";
    case "busy":
      return "busy";
    case "missed":
      return "missed";
    case "canceled":
      return "canceled";
    default:
      // Still ringing (or answered, which `joined` covers).
      return null;
  }
}
