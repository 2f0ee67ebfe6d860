import type pg from "pg";
import { RateLimiterPostgres } from "rate-limiter-flexible";

/** The table of rate-limiter-flexible's PostgreSQL store, created by migration 0004 (never by the library). */
export const RATE_LIMITS_TABLE = "rate_limits";

export interface SharedWindow {
  /** Starts every key of this limiter, so limiters sharing the table never share a row ("initiate", "other"…). */
  readonly keyPrefix: string;
  /** Requests per window. */
  readonly points: number;
  /** The window, in seconds. */
  readonly duration: number;
}

/**
 * A fixed window shared by every instance on the database: each request is
 * one upsert of the key's row (points + 1, or a new window once the row's
 * `expire` has passed), atomic in PostgreSQL, so N instances count together.
 *
 * - `tableCreated`: our migration made the table; the library creates nothing.
 * - `clearExpiredByTimeout` off: its timer cannot be stopped when the service
 *   closes; {@link deleteEndedWindows} does that job instead.
 * - `inMemoryBlockOnConsumed` = points: once a key's window is spent, this
 *   instance refuses it from memory until the window ends (what the database
 *   would answer anyway), so a client hammering past its budget costs one
 *   query per instance and window, not one per request.
 * - No insuranceLimiter: a failing query rejects, and the caller answers it
 *   as the store's failure (the request would have failed on the store next).
 */
export function sharedWindowLimiter(pool: pg.Pool, window: SharedWindow): RateLimiterPostgres {
  return new RateLimiterPostgres({
    storeClient: pool,
    storeType: "pool",
    tableName: RATE_LIMITS_TABLE,
    tableCreated: true,
    clearExpiredByTimeout: false,
    inMemoryBlockOnConsumed: window.points,
    ...window,
  });
}

/** Deletes the rows of windows that ended before `before` (Unix ms); a later request for such a key starts a new row anyway. */
export async function deleteEndedWindows(pool: pg.Pool, before: number): Promise<number> {
  const result = await pool.query(`DELETE FROM ${RATE_LIMITS_TABLE} WHERE expire < $1`, [before]);
  return result.rowCount ?? 0;
}
