import type { Call } from "../domain/call.js";
import {
  directionOf,
  outcomeOf,
  type CallHistoryRecord,
  type Direction,
  type HistoryOutcome,
  type HistoryPage,
  type HistoryPosition,
} from "../domain/history.js";
import { decodeCursor, encodeCursor } from "./history-cursor.js";
import { requireMember } from "./membership.js";
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
    const request = pageRequest(pageSize, cursor);
    const [records, unseenMissed] = await Promise.all([
      store.calls.listHistory(caller.tenantId, caller.userId, request),
      store.calls.countUnseenMissed(caller.tenantId, caller.userId),
    ]);
    const page = cutPage(records, request.limit, (r) => ({ startedAt: r.startedAt, callId: r.callId }));
    return {
      items: page.items.map((record) => ({ record, direction: directionOf(record, caller.userId), outcome: outcomeOf(record, caller.userId) })),
      nextCursor: page.nextCursor,
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
    await requireMember(store, caller, roomId);
    const request = pageRequest(pageSize, cursor);
    const calls = await store.calls.listRoomCalls(caller.tenantId, roomId, request);
    return cutPage(calls, request.limit, (c) => ({ startedAt: c.startedAt, callId: c.id }));
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

/** What to ask the store for: one more than the page holds, which tells whether another page follows. */
function pageRequest(pageSize: number, cursor: string | undefined): HistoryPage & { readonly limit: number } {
  const size = pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
  return { limit: size + 1, ...(cursor && { before: decodeCursor(cursor) }) };
}

/** The page the client gets from what the store returned for `pageRequest`, and where the next one starts. */
function cutPage<T>(rows: readonly T[], askedFor: number, positionOf: (row: T) => HistoryPosition): Page<T> {
  const items = rows.slice(0, askedFor - 1);
  const last = items.at(-1);
  return { items, nextCursor: rows.length >= askedFor && last ? encodeCursor(positionOf(last)) : undefined };
}
