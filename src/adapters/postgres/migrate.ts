import type pg from "pg";
import { migrations as known, type PostgresMigration } from "./migrations/index.js";

/**
 * The pg_advisory_lock key that serializes schema migrations across every
 * process using the database ("SWCALL" in ASCII; nothing else takes it).
 */
export const MIGRATION_LOCK_KEY = 0x5357_4341_4c4cn;

export interface MigrationOutcome {
  /** The schema version found, and the one left. */
  readonly from: number;
  readonly to: number;
  /** The versions this call applied (none when another process had already). */
  readonly applied: readonly number[];
}

/**
 * Brings the schema up to date: each pending migration in its own
 * transaction, with its version recorded in schema_migrations. Everything
 * runs on one connection holding a session advisory lock, so instances that
 * start together take turns: the first applies, the others find nothing to do.
 * A database whose version is newer than this build knows is refused before
 * anything is changed.
 */
export async function migrate(pool: pg.Pool, list: readonly PostgresMigration[] = known): Promise<MigrationOutcome> {
  const latest = list.at(-1)?.version ?? 0;
  const client = await pool.connect();
  try {
    // Waits as long as another instance migrates (no statement_timeout of the pool's applies to this session).
    await client.query("SET statement_timeout = 0");
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    const from = await currentVersion(client);
    if (from > latest) {
      throw new Error(`database schema version ${from} is newer than this build knows (${latest}); refusing to start`);
    }
    const applied: number[] = [];
    for (const migration of list) {
      if (migration.version <= from) continue;
      await apply(client, migration);
      applied.push(migration.version);
    }
    return { from, to: Math.max(from, latest), applied };
  } finally {
    // Never back into the pool: the connection carries the lock and a changed setting. Closing it releases both.
    client.release(true);
  }
}

async function currentVersion(client: pg.PoolClient): Promise<number> {
  const exists = await client.query<{ found: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS found");
  if (!exists.rows[0]?.found) return 0;
  const result = await client.query<{ version: number | null }>("SELECT max(version) AS version FROM schema_migrations");
  return result.rows[0]?.version ?? 0;
}

async function apply(client: pg.PoolClient, migration: PostgresMigration): Promise<void> {
  try {
    await client.query("BEGIN");
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    // No parameters: the simple protocol, which runs a script of several statements.
    await client.query(migration.sql);
    await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`schema migration ${migration.version} (${migration.name}) failed: ${why}`, { cause: err });
  }
}
