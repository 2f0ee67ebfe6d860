/**
 * Rate-limit windows shared by every instance (rate-limiter-flexible's
 * RateLimiterPostgres, see rate-limits.ts): one row per user, class and
 * window. The library's own schema, in its column order (it inserts
 * `VALUES ($1, $2, $3)`), except that `key` is TEXT where the library says
 * varchar(255): a key is the class, the tenant and the user id, up to
 * 10 + 128 + 1 + 128 characters. `expire` is the window's end, Unix ms.
 * No index on `expire`: updates stay HOT, and the sweep that reads it runs
 * once every few minutes.
 *
 * UNLOGGED: its writes skip the WAL, so the upsert every limited request
 * makes never waits for a disk flush (docs/benchmarks.md: a logged table cost
 * a read-only RPC 34 % of its throughput, this one 27 %; one user's hot row
 * 55 % and 38 %). The price suits counters: a crash of PostgreSQL
 * empties the table (every window starts anew, as when a lone instance
 * restarts) and standbys do not carry it (after a failover, likewise).
 */
export const sql = /* sql */ `
CREATE UNLOGGED TABLE rate_limits (
  key TEXT PRIMARY KEY,
  points INTEGER NOT NULL DEFAULT 0,
  expire BIGINT
);
`;
