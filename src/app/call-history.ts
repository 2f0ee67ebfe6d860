import type { Call } from "../domain/call.js";
import { directionOf, outcomeOf, type CallHistoryRecord, type Direction, type HistoryOutcome } from "../domain/history.js";
import { CallError, CallErrorCode } from "../domain/errors.js";
import { decodeCursor, encodeCursor } from "./history-cursor.js";
import type { Caller, Clock, Logger, Store } from "./ports.js";

export interface HistoryEntry {
  readonly record: CallHistoryRecord;
  readonly direction: Direction;
  /** Null while it is undecided (still ringing). */
  readonly outcome: HistoryOutcome | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Where the next (older) page starts; undefined on the last page. */
  readonly nextCursor: string | undefined;
}

export interface CallHistoryDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Ended calls older than this are deleted (0: kept forever). */
  readonly retentionMs: number;
}

/** A page holds at most this many entries; a request without a size gets the default. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;
/** Calls deleted per transaction by the retention sweep. */
const RETENTION_BATCH = 500;

/**
 * What calls leave behind: each user's call history (the calls they were in
 * or were rung for, with how each went for them, and their unseen missed
 * calls) and each room's call log. Both are paged with opaque cursors and
 * scoped to the caller's tenant.
 */
export class CallHistoryUseCases {
  constructor(private readonly deps: CallHistoryDeps) {}

  async history(caller: Caller, pageSize: number, cursor: string | undefined): Promise<Page<HistoryEntry> & { readonly unseenMissed: number }> {
    const { store } = this.deps;
    const limit = pageLimit(pageSize);
    const before = cursor ? decodeCursor(cursor) : undefined;
    // One more than asked tells whether another page follows.
    const [records, unseenMissed] = await Promise.all([
      store.calls.listHistory(caller.tenantId, caller.userId, { limit: limit + 1, ...(before && { before }) }),
      store.calls.countUnseenMissed(caller.tenantId, caller.userId),
    ]);
    const items = records.slice(0, limit).map((record) => ({
      record,
      direction: directionOf(record, caller.userId),
      outcome: outcomeOf(record, caller.userId),
    }));
    const last = items.at(-1)?.record;
    return {
      items,
      nextCursor: records.length > limit && last ? encodeCursor({ startedAt: last.startedAt, callId: last.callId }) : undefined,
      unseenMissed,
    };
  }

  /** The caller has seen their missed calls; returns how many were unseen. */
  markSeen(caller: Caller): Promise<number> {
    return this.deps.store.transaction((tx) => tx.calls.markHistorySeen(caller.tenantId, caller.userId));
  }

  /** A room's calls, live and ended, newest first; members only. */
  async roomCalls(caller: Caller, roomId: string, pageSize: number, cursor: string | undefined): Promise<Page<Call>> {
    const { store } = this.deps;
    if (!(await store.directory.findMember(caller.tenantId, roomId, caller.userId))) {
      throw new CallError(CallErrorCode.Forbidden, `you are not a member of room ${roomId}`);
    }
    const limit = pageLimit(pageSize);
    const before = cursor ? decodeCursor(cursor) : undefined;
    const calls = await store.calls.listRoomCalls(caller.tenantId, roomId, { limit: limit + 1, ...(before && { before }) });
    const items = calls.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: calls.length > limit && last ? encodeCursor({ startedAt: last.startedAt, callId: last.id }) : undefined };
  }

  /** Deletes ended calls past the retention (not those with recordings); returns how many. A claimed periodic job. */
  async deleteExpired(): Promise<number> {
    const { store, clock, logger, retentionMs } = this.deps;
    if (retentionMs <= 0) return 0;
    const before = clock.now() - retentionMs;
    let deleted = 0;
    for (;;) {
      const batch = await store.transaction((tx) => tx.calls.deleteEndedBefore(before, RETENTION_BATCH));
      deleted += batch;
      if (batch < RETENTION_BATCH) break;
    }
    if (deleted > 0) logger.info({ deleted }, "ended calls past CALL_HISTORY_RETENTION_DAYS deleted");
    return deleted;
  }
}

function pageLimit(pageSize: number): number {
  return pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}
