import { parseArgs } from "node:util";
import type pg from "pg";
import { migrate } from "../adapters/postgres/migrate.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { openDatabase, type SqliteDatabase } from "../adapters/sqlite/database.js";

/**
 * Moves a single-instance deployment from SQLite to PostgreSQL:
 *
 *   npm run db:copy-to-postgres -- --from ./data/calls.db --to postgres://user:pw@host/db
 *
 * Copies every table (directory, policies, calls with participants, invitees,
 * ended sessions and their users' history rows, webhook ids, recordings, media, transcripts, and the
 * events still waiting in the outbox) into an empty, migrated PostgreSQL
 * database in one transaction, then compares the row counts. Stop the
 * service first: a change written during the copy would be left behind.
 */

/** Parents before children (foreign keys), each with the rows to copy. */
const TABLES: readonly { readonly name: string; readonly where?: string; readonly order: string }[] = [
  { name: "tenant_policies", order: "tenant_id" },
  { name: "rooms", order: "tenant_id, room_id" },
  { name: "room_members", order: "tenant_id, room_id, user_id" },
  { name: "calls", order: "started_at, id" },
  { name: "call_participants", order: "call_id, user_id" },
  { name: "call_invitees", order: "call_id, user_id" },
  { name: "call_ended_sessions", order: "call_id, sid" },
  { name: "call_parties", order: "call_id, user_id" },
  { name: "webhook_events", order: "id" },
  { name: "recordings", order: "started_at, id" },
  { name: "media", order: "id" },
  { name: "transcripts", order: "recording_id" },
  // Events not yet relayed, in commit order (new seq values keep it); sent ones are history the relay prunes.
  { name: "outbox", where: "sent_at IS NULL", order: "seq" },
];

const BATCH_ROWS = 500;

export interface CopyReport {
  readonly table: string;
  readonly sqlite: number;
  readonly postgres: number;
}

export async function copySqliteToPostgres(sqlite: SqliteDatabase, pool: pg.Pool): Promise<CopyReport[]> {
  await migrate(pool);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    for (const { name } of TABLES) {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`);
      if ((rows[0]?.n ?? 0) > 0) throw new Error(`the PostgreSQL database is not empty (table ${name} has rows); refusing to copy`);
    }
    for (const table of TABLES) await copyTable(sqlite, client, table);
    await client.query("COMMIT");
    // Statistics now, not when autovacuum gets to it: until then the planner
    // knows nothing of the bulk load, and a history read of a million-call
    // store took over 100 ms (a plan costed so high it was JIT-compiled on
    // every request) instead of about 1 ms.
    await client.query("ANALYZE");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  const report: CopyReport[] = [];
  for (const { name, where } of TABLES) {
    const filter = where ? ` WHERE ${where}` : "";
    const source = (sqlite.prepare(`SELECT count(*) AS n FROM ${name}${filter}`).get() as { n: number }).n;
    const target = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}${filter}`)).rows[0]?.n ?? 0;
    report.push({ table: name, sqlite: source, postgres: target });
  }
  return report;
}

/** Copies one table; SQLite's 0/1 flags become booleans, JSON text becomes JSONB, by the target's column types. */
async function copyTable(sqlite: SqliteDatabase, client: pg.PoolClient, table: (typeof TABLES)[number]): Promise<void> {
  const types = new Map(
    (
      await client.query<{ column_name: string; data_type: string; is_generated: string; identity_generation: string | null }>(
        "SELECT column_name, data_type, is_generated, identity_generation FROM information_schema.columns WHERE table_name = $1",
        [table.name],
      )
    ).rows
      // The outbox's seq is the target's own identity: new values, same order.
      .filter((c) => c.identity_generation === null && c.is_generated !== "ALWAYS")
      .map((c) => [c.column_name, c.data_type]),
  );
  const columns = (sqlite.prepare(`PRAGMA table_info(${table.name})`).all() as { name: string }[])
    .map((c) => c.name)
    .filter((c) => types.has(c));
  const rows = sqlite
    .prepare(`SELECT ${columns.join(", ")} FROM ${table.name}${table.where ? ` WHERE ${table.where}` : ""} ORDER BY ${table.order}`)
    .all() as Record<string, unknown>[];
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    const batch = rows.slice(start, start + BATCH_ROWS);
    const values: unknown[] = [];
    const tuples = batch.map((row) => {
      const placeholders = columns.map((column) => {
        values.push(convert(row[column], types.get(column) ?? "text"));
        return `$${values.length}`;
      });
      return `(${placeholders.join(", ")})`;
    });
    await client.query(`INSERT INTO ${table.name} (${columns.join(", ")}) VALUES ${tuples.join(", ")}`, values);
  }
}

function convert(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (type === "boolean") return value === 1 || value === true;
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
  const from = values.from;
  const to = values.to ?? process.env["DATABASE_URL"];
  if (!from || !to) {
    process.stderr.write("usage: copy-sqlite-to-postgres --from <calls.db> --to <postgres://…> (or DATABASE_URL)\n");
    process.exit(2);
  }
  const sqlite = openDatabase(from);
  const pool = createPostgresPool({ url: to, max: 2, onError: () => undefined });
  try {
    const report = await copySqliteToPostgres(sqlite, pool);
    const width = Math.max(...report.map((r) => r.table.length));
    process.stdout.write(`${"table".padEnd(width)}  sqlite  postgres\n`);
    for (const r of report) process.stdout.write(`${r.table.padEnd(width)}  ${String(r.sqlite).padStart(6)}  ${String(r.postgres).padStart(8)}\n`);
    const different = report.filter((r) => r.sqlite !== r.postgres);
    if (different.length > 0) {
      process.stderr.write(`counts differ: ${different.map((r) => r.table).join(", ")}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write("copied; every count matches\n");
    }
  } finally {
    sqlite.close();
    await pool.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`copy failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
