import type { Pool } from "pg";
import { translated } from "../adapters/postgres/failures.js";
import { deleteEndedWindows, sharedWindowLimiter } from "../adapters/postgres/rate-limits.js";
import type { Logger } from "../app/ports.js";
import { memoryRateLimiter, rateWindows, WindowRateLimiter, type RateClass, type RateLimit, type RateLimiter } from "../transport/rate-limiter.js";

/** How often, at most, an instance deletes ended windows from PostgreSQL. */
const SWEEP_INTERVAL_MS = 5 * 60_000;

/**
 * The service's rate limiter: with PostgreSQL, one budget per user and class
 * for the whole cluster (rows in `rate_limits`, counted by every instance);
 * with SQLite (one instance), budgets in memory. Same windows either way.
 */
export function createRateLimiter(
  limits: Readonly<Record<RateClass, RateLimit>>,
  postgresPool: Pool | undefined,
  logger: Logger,
): RateLimiter {
  if (!postgresPool) return memoryRateLimiter(limits);
  const byClass = Object.fromEntries(
    Object.entries(rateWindows(limits)).map(([rateClass, window]) => [rateClass, sharedWindowLimiter(postgresPool, { keyPrefix: rateClass, ...window })]),
  );
  // Fail closed: a database that does not answer here answers SW_CALL_STORE_UNAVAILABLE (503), as the
  // request's own queries would right after; letting it through unlimited would protect nothing.
  const limiter = new WindowRateLimiter(byClass, translated);

  // Ended windows are dead rows: a request, at most once per interval, deletes them (no timer to stop).
  let lastSweep = Date.now();
  const sweep = () => {
    const now = Date.now();
    if (now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    // The library stamps windows with Date.now(), so this compares like with like.
    deleteEndedWindows(postgresPool, now).catch((err: unknown) => logger.warn({ err }, "could not delete ended rate-limit windows"));
  };
  return {
    take(key, rateClass) {
      sweep();
      return limiter.take(key, rateClass);
    },
  };
}
