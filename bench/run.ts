// `npm run bench`: the service's throughput and latency, each scenario set
// against a floor of its own runtime measured in the same run (see
// docs/benchmarks.md). `npm run bench -- --smoke` is the few-second run the test
// command makes so this harness cannot rot.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startLiveKitServer, type LiveKitServer } from "../test/support/livekit-server.js";
import { startNatsServer, type NatsServer } from "../test/support/nats-server.js";
import { freePort } from "../test/support/ports.js";
import { Bench, FULL_SIZE, SMOKE_SIZE } from "./lib/bench.js";
import { formatProfile } from "./lib/cpu-profile.js";
import { startLiveKitTimingProxy } from "./lib/livekit-timing-proxy.js";
import { formatTable } from "./lib/report.js";
import { cluster } from "./scenarios/cluster.js";
import { floors } from "./scenarios/floors.js";
import { initiates } from "./scenarios/initiates.js";
import { JoinSeed } from "./scenarios/join-seed.js";
import { joins } from "./scenarios/joins.js";
import { startPostgresServer, type PostgresServer } from "../test/support/postgres-server.js";
import { profileJoin } from "./scenarios/profile.js";
import { callHistory } from "./scenarios/history.js";
import { getCalls, liveCallsMemory } from "./scenarios/stores.js";
import { webhooks } from "./scenarios/webhooks.js";

const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    /** Run the service from another checkout (before/after comparisons). */
    "service-root": { type: "string" },
    /** Where the JSON goes; default bench/results/calls.json (smoke: a temp dir). */
    out: { type: "string" },
    /** Only scenarios whose name contains one of these comma-separated words (floors always run). */
    only: { type: "string" },
    /** Profile every service the bench starts (node --cpu-prof) into this directory. */
    "cpu-prof-dir": { type: "string" },
    /** The service's store: sqlite (default) or postgresql (a PostgreSQL server the bench starts; seeded stores are copied in). */
    store: { type: "string", default: "sqlite" },
  },
});
const store = flags.store ?? "sqlite";
if (store !== "sqlite" && store !== "postgresql") throw new Error(`--store ${store}: use sqlite or postgresql`);
const smoke = flags.smoke ?? false;
const work = mkdtempSync(join(tmpdir(), "scaiwave-bench-"));

function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    // wrk -v prints its version, then usage, and exits 1.
    wrk: spawnSync("wrk", ["-v"], { encoding: "utf8" }).stdout.split("\n")[0]?.trim() ?? "",
  };
}

async function main(nats: NatsServer, livekit: LiveKitServer, postgres: PostgresServer | undefined): Promise<void> {
  const startedAt = new Date().toISOString();
  const info = machine();
  const b = new Bench({
    smoke,
    size: smoke ? SMOKE_SIZE : FULL_SIZE,
    work,
    nats,
    livekit,
    serviceRoot: flags["service-root"],
    cpuProfDir: flags["cpu-prof-dir"],
    only: flags.only?.split(","),
    postgres,
  });

  b.progress("building the service (npm run build): it runs as production runs it");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: flags["service-root"] ?? join(import.meta.dirname, ".."), stdio: "inherit" });
  b.progress("seeding the join store");
  const joinDb = join(work, "join.db");
  const seed = new JoinSeed(b, joinDb);
  const grpcPort = await freePort();
  // The main service reaches LiveKit's API through a timing proxy, so each initiate can be paired with its CreateRoom.
  const liveKitProxy = await startLiveKitTimingProxy(livekit.httpUrl);
  try {
    const service = await b.startService(joinDb, { GRPC_PORT: String(grpcPort), LIVEKIT_API_URL: liveKitProxy.url });
    try {
      // The floors answer with a real join response of this service (same size and shape).
      const { callId, userId } = seed.sample;
      const response = await fetch(`${service.baseUrl}/v1/calls/${callId}/join`, { method: "POST", headers: { authorization: b.bearerOf(userId) } });
      if (response.status !== 200) throw new Error(`sample join failed: ${response.status} ${await response.text()}`);
      await floors(b, seed, await response.text());
      await joins(b, service, grpcPort, seed);
      await webhooks(b, service, seed);
      await initiates(b, service, seed, liveKitProxy);
    } finally {
      await b.stopService(service);
    }
  } finally {
    await liveKitProxy.stop();
  }
  // Several instances need one shared database: PostgreSQL only.
  if (postgres) await cluster(b, seed);
  await profileJoin(b, seed, joinDb);
  await getCalls(b);
  await callHistory(b);
  await liveCallsMemory(b);

  const storeName = postgres ? "PostgreSQL (seeded stores copied in)" : "SQLite";
  console.log(`\nScaiWave Calls benchmarks, ${startedAt}, ${info.cpus} × ${info.cpuModel}, Node ${info.node}, store ${storeName}${smoke ? " (smoke sizes: not figures to quote)" : ""}\n`);
  console.log(formatTable(b.results));
  for (const profile of b.profiles) console.log(`\n${formatProfile(profile)}`);
  const file = postgres ? "calls-postgresql.json" : "calls.json";
  const out = flags.out ?? (smoke ? join(work, file) : join(import.meta.dirname, "results", file));
  const { results, failures, size, profiles } = b;
  writeFileSync(out, JSON.stringify({ startedAt, smoke, store, machine: info, size, results, profiles, failures }, null, 2) + "\n");
  console.log(`\nwritten to ${out}`);
  if (failures.length) console.log(`\n${failures.length} scenario(s) failed:\n${failures.map((f) => `  ${f}`).join("\n")}`);
  // The smoke run is part of the tests: any failed scenario or failed request fails it.
  const broken = failures.length > 0 || (smoke && results.some((r) => r.errors > 0));
  process.exitCode = broken ? 1 : 0;
}

process.stderr.write(`bench: starting nats-server, livekit-server${store === "postgresql" ? " and PostgreSQL" : ""}; work dir ${work}\n`);
const [nats, livekit, postgres] = await Promise.all([
  startNatsServer(),
  startLiveKitServer(),
  store === "postgresql" ? startPostgresServer() : Promise.resolve(undefined),
]);
try {
  await main(nats, livekit, postgres);
} finally {
  await Promise.allSettled([nats.stop(), livekit.stop(), postgres?.stop()]);
  if (!process.exitCode) rmSync(work, { recursive: true, force: true });
}
