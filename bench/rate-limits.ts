// `npx tsx bench/rate-limits.ts`: what the rate limiter costs on the hot path.
// REST ListCalls (the cheapest authenticated RPC: token, rate limit, one indexed
// read) on the built service, SQLite and PostgreSQL, with limits off and on
// (limits far above the load, so nothing is refused: the table shows the cost
// of counting). The PostgreSQL limiter is the shared one (one upsert per request);
// SQLite's is the in-memory one. `--seconds 10` per run (3 s warm-up first).
// Prints one table; see docs/benchmarks.md.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startPostgresServer } from "../test/support/postgres-server.js";
import { spawnService } from "../test/support/service-process.js";
import { runWrk, writeWrkRequests, type PreparedRequest } from "./lib/load-generators.js";
import { meterProcess } from "./lib/process-meter.js";
import { userBearer } from "./lib/signing.js";

const { values: flags } = parseArgs({ options: { seconds: { type: "string", default: "10" } } });
const SECONDS = Number(flags.seconds);
const WARMUP_SECONDS = 3;
const CONNECTIONS = 32;
const SECRET = "bench-secret-for-scaiwave-calls-0123456789abcdef";
const USERS = 2_000;
// Far above what the load reaches in a run (a window of 60 s and a million requests).
const ON = { RATE_LIMIT_OTHER_PER_MINUTE: "1000000", RATE_LIMIT_OTHER_BURST: "1000000" };
const OFF = { RATE_LIMIT_OTHER_PER_MINUTE: "0" };

const work = mkdtempSync(join(tmpdir(), "scaiwave-bench-rate-"));
const requests = (users: number): PreparedRequest[] =>
  Array.from({ length: 20_000 }, (_, i) => ({ method: "GET", path: "/v1/calls", headers: { authorization: userBearer(`u${i % users}`, "bench", SECRET) } }));

process.stderr.write("rate-limits bench: building the service, starting PostgreSQL\n");
execFileSync("npm", ["run", "--silent", "build"], { cwd: join(import.meta.dirname, ".."), stdio: "inherit" });
const postgres = await startPostgresServer();
const rows: string[] = [];
try {
  const runs: { store: "sqlite" | "postgresql"; limiter: string; env: Record<string, string>; users: number }[] = [
    { store: "sqlite", limiter: "off", env: OFF, users: USERS },
    { store: "sqlite", limiter: "memory", env: ON, users: USERS },
    { store: "postgresql", limiter: "off", env: OFF, users: USERS },
    { store: "postgresql", limiter: "shared (PostgreSQL)", env: ON, users: USERS },
    { store: "postgresql", limiter: "shared, all load from 1 user (one hot row)", env: ON, users: 1 },
  ];
  for (const [i, run] of runs.entries()) {
    const store: Record<string, string> =
      run.store === "postgresql" ? { DATABASE_URL: await postgres.createDatabase() } : { DATABASE_PATH: join(work, `run${i}.db`) };
    const service = await spawnService(
      {
        ...store,
        AUTH_JWT_SECRET: SECRET,
        LIVEKIT_URL: "ws://127.0.0.1:7880",
        LIVEKIT_API_KEY: "bench",
        LIVEKIT_API_SECRET: "bench-secret-0123456789abcdef0123456789",
        RECONCILE_INTERVAL_SECONDS: "0",
        RATE_LIMIT_INITIATE_PER_MINUTE: "0",
        RATE_LIMIT_RECORDING_PER_MINUTE: "0",
        ...run.env,
      },
      "service",
      { compiled: true },
    );
    try {
      process.stderr.write(`rate-limits bench: ${run.store}, limiter ${run.limiter}\n`);
      const warm = join(work, `run${i}.warm.tsv`);
      const measure = join(work, `run${i}.tsv`);
      writeWrkRequests(warm, requests(run.users));
      writeWrkRequests(measure, requests(run.users));
      await runWrk(service.baseUrl, warm, 20_000, { connections: CONNECTIONS, seconds: WARMUP_SECONDS });
      const meter = meterProcess(service.child.pid!);
      const load = await runWrk(service.baseUrl, measure, 20_000, { connections: CONNECTIONS, seconds: SECONDS });
      const usage = meter.stop();
      rows.push(
        `| ${run.store} | ${run.limiter} | ${Math.round(load.rps).toLocaleString("en")} req/s | ${load.p50Ms.toFixed(1)} / ${load.p99Ms.toFixed(1)} | ${Math.round(usage.cpuPercent)} % | ${load.errors} |`,
      );
    } finally {
      service.child.kill("SIGTERM");
      await service.exited;
    }
  }
} finally {
  await postgres.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`\nREST ListCalls, ${CONNECTIONS} connections, ${SECONDS} s each (after ${WARMUP_SECONDS} s warm-up)\n`);
console.log("| store | rate limiter | rate | p50 / p99 ms | service CPU | errors |\n|---|---|---|---|---|---|");
console.log(rows.join("\n"));
