/**
 * node-postgres (`pg`, with its Pool) against postgres.js on the join path:
 * the same join-like transaction, on the same schema, the same real server
 * (test/support/postgres-server.ts: fsync on) and in the same run.
 *
 *   BEGIN; SELECT the call FOR UPDATE; SELECT its participants;
 *   INSERT (upsert) a participant; INSERT an outbox row; COMMIT
 *
 * Each driver runs it two ways: "sequential" (each statement awaited: six
 * round trips) and "pipelined" (BEGIN and both reads in one round trip, both
 * writes in a second, COMMIT in a third), with prepared statements (pg: named
 * queries; postgres.js: its default). CONCURRENCY transactions are in flight at
 * once on a pool of as many connections, each on a random one of CALLS calls.
 * The variants take turns (ROUNDS rounds of SECONDS / ROUNDS each), so a load
 * change on the machine hits all of them alike.
 *
 * postgres.js is not a dependency (docs/decisions.md says why pg was kept):
 *
 *   npm install --no-save postgres@4.2.0 && npx tsx bench/postgres-driver.ts
 *
 * Options (environment): BENCH_SECONDS (10 per variant), BENCH_ROUNDS (2), BENCH_CONCURRENCY (16).
 */
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { migrate } from "../src/adapters/postgres/migrate.js";
import { createPostgresPool } from "../src/adapters/postgres/pool.js";
import { startPostgresServer } from "../test/support/postgres-server.js";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 10);
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 2);
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 16);
const WARMUP_MS = 1_000;
const CALLS = 1_000;
const SEED_PARTICIPANTS = 4;
// Joins pick one of these users, so a call never has more than SEED_PARTICIPANTS + USERS participants.
const USERS = 8;
const NOW = 1_764_000_000_000; // a Unix ms that does not fit in an int4

/** The rows the transaction reads, as both drivers must hand them back. */
interface CallRow {
  id: string;
  status: string;
  started_at: number;
}

const SELECT_CALL = "SELECT id, status, started_at FROM calls WHERE id = $1 FOR UPDATE";
const SELECT_PARTICIPANTS =
  "SELECT user_id, joined_at, audio_on, video_on, livekit_sid FROM call_participants WHERE call_id = $1 ORDER BY joined_at, user_id";
const UPSERT_PARTICIPANT = `INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (call_id, user_id) DO UPDATE SET joined_at = excluded.joined_at, audio_on = excluded.audio_on,
    video_on = excluded.video_on, livekit_sid = excluded.livekit_sid`;
const INSERT_OUTBOX = "INSERT INTO outbox (id, subject, payload, created_at) VALUES ($1, $2, $3, $4)";

/** What one transaction writes: a random call, a random user of it, an event about it. */
function joinArgs() {
  const call = `call-${Math.floor(Math.random() * CALLS)}`;
  const user = `user-${Math.floor(Math.random() * USERS)}`;
  const eventId = randomUUID();
  const payload = JSON.stringify({
    id: eventId,
    type: "participant_joined",
    call_id: call,
    tenant_id: "tenant-1",
    room_id: `room-${call}`,
    user_id: user,
    occurred_at: NOW,
    participants: [user],
  });
  return {
    participant: [call, user, NOW, true, false, `PA_${eventId.slice(0, 12)}`] as const,
    outbox: [eventId, `swp.call.${call}.participant_joined`, payload, NOW] as const,
    call,
  };
}

function checkCall(rows: readonly CallRow[]): void {
  const row = rows[0];
  if (!row) throw new Error("call not found");
  // Unix ms in BIGINT must come back as a number, not a string or a bigint.
  if (typeof row.started_at !== "number") throw new Error(`started_at came back as ${typeof row.started_at}`);
}

// ---- the drivers ---------------------------------------------------------------------------------------------

type Transaction = () => Promise<void>;

interface Variant {
  readonly driver: "pg" | "postgres.js";
  readonly shape: "sequential" | "pipelined";
  readonly run: Transaction;
  close(): Promise<void>;
}

function pgVariants(url: string): Variant[] {
  const named = (name: string, text: string, values: readonly unknown[]) => ({ name, text, values: [...values] });
  const sequential = createPostgresPool({ url, max: CONCURRENCY, onError: reportPoolError });
  const pipelined = createPostgresPool({ url, max: CONCURRENCY, onError: reportPoolError, pipeline: true });
  return [
    {
      driver: "pg",
      shape: "sequential",
      close: () => sequential.end(),
      run: async () => {
        const a = joinArgs();
        const client = await sequential.connect();
        try {
          await client.query("BEGIN");
          checkCall((await client.query<CallRow>(named("sel_call", SELECT_CALL, [a.call]))).rows);
          await client.query(named("sel_parts", SELECT_PARTICIPANTS, [a.call]));
          await client.query(named("ups_part", UPSERT_PARTICIPANT, a.participant));
          await client.query(named("ins_outbox", INSERT_OUTBOX, a.outbox));
          await client.query("COMMIT");
          client.release();
        } catch (err) {
          client.release(err as Error);
          throw err;
        }
      },
    },
    {
      driver: "pg",
      shape: "pipelined",
      close: () => pipelined.end(),
      run: async () => {
        const a = joinArgs();
        const client = await pipelined.connect();
        try {
          const [, call] = await Promise.all([
            client.query("BEGIN"),
            client.query<CallRow>(named("sel_call", SELECT_CALL, [a.call])),
            client.query(named("sel_parts", SELECT_PARTICIPANTS, [a.call])),
          ]);
          checkCall(call.rows);
          await Promise.all([
            client.query(named("ups_part", UPSERT_PARTICIPANT, a.participant)),
            client.query(named("ins_outbox", INSERT_OUTBOX, a.outbox)),
          ]);
          await client.query("COMMIT");
          client.release();
        } catch (err) {
          client.release(err as Error);
          throw err;
        }
      },
    },
  ];
}

/** The little of postgres.js's API this uses (it is not a dependency, so its own types are not there). */
type PendingQuery = PromiseLike<Record<string, unknown>[]>;
type Tag = (strings: TemplateStringsArray, ...values: unknown[]) => PendingQuery;
interface PostgresJs extends Tag {
  begin<T>(fn: (tx: Tag) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}
type PostgresJsFactory = (url: string, options: Record<string, unknown>) => PostgresJs;

async function loadPostgresJs(): Promise<PostgresJsFactory> {
  const moduleName = "postgres"; // not a literal in import(): the package is not there for tsc
  const mod = (await import(moduleName).catch((err: unknown) => {
    throw new Error("postgres.js is not installed: npm install --no-save postgres@4.2.0", { cause: err });
  })) as { default: PostgresJsFactory };
  return mod.default;
}

function postgresJsVariants(postgresJs: PostgresJsFactory, url: string): Variant[] {
  const options = {
    max: CONCURRENCY,
    onnotice: () => {},
    // int8 as a number, as pg is set up (see src/adapters/postgres/pool.ts).
    types: { int8: { to: 20, from: [20], parse: (x: string) => Number(x), serialize: (x: number) => String(x) } },
  };
  const sequential = postgresJs(url, options);
  const pipelined = postgresJs(url, options);
  return [
    {
      driver: "postgres.js",
      shape: "sequential",
      close: () => sequential.end(),
      run: () =>
        sequential.begin(async (tx) => {
          const a = joinArgs();
          checkCall((await tx`SELECT id, status, started_at FROM calls WHERE id = ${a.call} FOR UPDATE`) as unknown as CallRow[]);
          await tx`SELECT user_id, joined_at, audio_on, video_on, livekit_sid FROM call_participants
            WHERE call_id = ${a.call} ORDER BY joined_at, user_id`;
          const [c, u, at, audio, video, sid] = a.participant;
          await tx`INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
            VALUES (${c}, ${u}, ${at}, ${audio}, ${video}, ${sid})
            ON CONFLICT (call_id, user_id) DO UPDATE SET joined_at = excluded.joined_at, audio_on = excluded.audio_on,
              video_on = excluded.video_on, livekit_sid = excluded.livekit_sid`;
          const [id, subject, payload, createdAt] = a.outbox;
          await tx`INSERT INTO outbox (id, subject, payload, created_at) VALUES (${id}, ${subject}, ${payload}, ${createdAt})`;
        }),
    },
    {
      driver: "postgres.js",
      shape: "pipelined",
      close: () => pipelined.end(),
      run: () =>
        pipelined.begin(async (tx) => {
          const a = joinArgs();
          const [call] = await Promise.all([
            tx`SELECT id, status, started_at FROM calls WHERE id = ${a.call} FOR UPDATE`,
            tx`SELECT user_id, joined_at, audio_on, video_on, livekit_sid FROM call_participants
              WHERE call_id = ${a.call} ORDER BY joined_at, user_id`,
          ]);
          checkCall(call as unknown as CallRow[]);
          const [c, u, at, audio, video, sid] = a.participant;
          const [id, subject, payload, createdAt] = a.outbox;
          await Promise.all([
            tx`INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
              VALUES (${c}, ${u}, ${at}, ${audio}, ${video}, ${sid})
              ON CONFLICT (call_id, user_id) DO UPDATE SET joined_at = excluded.joined_at, audio_on = excluded.audio_on,
                video_on = excluded.video_on, livekit_sid = excluded.livekit_sid`,
            tx`INSERT INTO outbox (id, subject, payload, created_at) VALUES (${id}, ${subject}, ${payload}, ${createdAt})`,
          ]);
        }),
    },
  ];
}

function reportPoolError(err: Error): void {
  console.error(`pg pool error: ${err.message}`);
}

// ---- running -------------------------------------------------------------------------------------------------

interface Tally {
  readonly latenciesMs: number[];
  errors: number;
  firstError?: unknown;
  elapsedMs: number;
  /** This process's CPU time (user + system) while the variant ran: what the driver costs the service. */
  cpuMs: number;
}

/** CONCURRENCY loops of the transaction until `ms` have passed; latencies only when `tally` is given. */
async function drive(run: Transaction, ms: number, tally?: Tally): Promise<void> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const end = start + ms;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await run();
        tally?.latenciesMs.push(performance.now() - t);
      } catch (err) {
        if (tally) {
          tally.errors++;
          tally.firstError ??= err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  if (tally) {
    tally.elapsedMs += performance.now() - start;
    const used = process.cpuUsage(cpu);
    tally.cpuMs += (used.user + used.system) / 1_000;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function seed(url: string): Promise<void> {
  const pool = createPostgresPool({ url, max: 1, onError: reportPoolError });
  try {
    await migrate(pool);
    const calls = Array.from({ length: CALLS }, (_, i) => `call-${i}`);
    await pool.query(
      `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ring_deadline)
       SELECT id, 'tenant-1', 'room-' || id, 'video', 'active', 'user-0', $2, $2 FROM unnest($1::text[]) AS id`,
      [calls, NOW],
    );
    await pool.query(
      `INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid)
       SELECT c, 'seed-' || n, $2, true, true, NULL FROM unnest($1::text[]) AS c, generate_series(1, $3) AS n`,
      [calls, NOW, SEED_PARTICIPANTS],
    );
    await pool.query("VACUUM ANALYZE");
  } finally {
    await pool.end();
  }
}

const postgresJs = await loadPostgresJs();
const server = await startPostgresServer();
try {
  await seed(server.url);
  const variants = [...pgVariants(server.url), ...postgresJsVariants(postgresJs, server.url)];
  const tallies = new Map<Variant, Tally>(variants.map((v) => [v, { latenciesMs: [], errors: 0, elapsedMs: 0, cpuMs: 0 }]));
  try {
    for (const v of variants) await drive(v.run, WARMUP_MS); // connections open, statements prepared
    const roundMs = (SECONDS * 1_000) / ROUNDS;
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of variants) await drive(v.run, roundMs, tallies.get(v));
    }
  } finally {
    await Promise.all(variants.map((v) => v.close()));
  }

  const probe = new pg.Client({ connectionString: server.url });
  await probe.connect();
  const settings = await probe.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version')",
  );
  await probe.end();

  console.log(
    `join-like transaction, concurrency ${CONCURRENCY}, ${SECONDS} s per variant in ${ROUNDS} rounds; ` +
      settings.rows.map((r) => `${r.name}=${r.setting}`).join(", ") +
      `; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`,
  );
  const header = ["driver", "shape", "tx/s", "p50 ms", "p99 ms", "client CPU µs/tx", "transactions", "errors"];
  const rows = variants.map((v) => {
    const t = tallies.get(v)!;
    const sorted = [...t.latenciesMs].sort((a, b) => a - b);
    return [
      v.driver,
      v.shape,
      ((sorted.length * 1_000) / t.elapsedMs).toFixed(0),
      percentile(sorted, 50).toFixed(2),
      percentile(sorted, 99).toFixed(2),
      ((t.cpuMs * 1_000) / sorted.length).toFixed(0),
      String(sorted.length),
      String(t.errors),
    ];
  });
  console.log(`| ${header.join(" | ")} |\n|${header.map(() => "---").join("|")}|`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  for (const v of variants) {
    const t = tallies.get(v)!;
    if (t.errors > 0) console.error(`${v.driver} ${v.shape}: first error:`, t.firstError);
  }
  if ([...tallies.values()].some((t) => t.errors > 0)) process.exitCode = 1;
} finally {
  await server.stop();
}
