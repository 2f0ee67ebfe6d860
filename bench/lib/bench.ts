import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { CallsService } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { createPostgresPool } from "../../src/adapters/postgres/pool.js";
import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { copySqliteToPostgres } from "../../src/tools/copy-sqlite-to-postgres.js";
import type { LiveKitServer } from "../../test/support/livekit-server.js";
import type { NatsServer } from "../../test/support/nats-server.js";
import { createDatabase, type PostgresEndpoint } from "../../test/support/postgres-server.js";
import { spawnService, type ServiceProcess } from "../../test/support/service-process.js";
import { liveKitEnv } from "../../test/support/service.js";
import { runGrpc, runWrk, writeWrkRequests, type LoadResult, type PreparedRequest } from "./load-generators.js";
import type { ProfileSummary } from "./cpu-profile.js";
import { meterProcess, type ProcessUsage } from "./process-meter.js";
import type { ScenarioResult } from "./report.js";
import { userBearer } from "./signing.js";

/** How big each scenario is. */
export interface BenchSize {
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Joins prepared per measured run, and per warm-up. */
  readonly joinPool: number;
  readonly joinWarmPool: number;
  readonly webhookPairs: number;
  readonly cycleRooms: number;
  readonly inviteRates: readonly number[];
  readonly inviteSeconds: number;
  readonly liveCalls: number;
  readonly getCallSmall: number;
  readonly getCallLarge: number;
  /** Calls stored in the call history scenario's small and large store, and how many of them are the reader's. */
  readonly historySmall: number;
  readonly historyLarge: number;
  readonly historyOfReader: number;
  /** Relay takeovers (SIGKILL of the lease holder) measured by the cluster scenarios. */
  readonly takeovers: number;
}

export const FULL_SIZE: BenchSize = {
  seconds: 10,
  warmupSeconds: 3,
  joinPool: 100_000,
  joinWarmPool: 30_000,
  webhookPairs: 60_000,
  cycleRooms: 512,
  // 250/s first: the calls of the saturated 1,000/s run ring out 30 s later, and their burst of timeouts (and
  // its events, ahead in the one ordered outbox) would land in the middle of the 250/s run.
  inviteRates: [250, 1_000],
  inviteSeconds: 10,
  liveCalls: 10_000,
  getCallSmall: 1_000,
  getCallLarge: 1_000_000,
  historySmall: 1_000,
  historyLarge: 1_000_000,
  historyOfReader: 200,
  takeovers: 5,
};

/** Only proves the harness works: the test command runs it. */
export const SMOKE_SIZE: BenchSize = {
  seconds: 1,
  warmupSeconds: 1,
  joinPool: 4_000,
  joinWarmPool: 2_000,
  webhookPairs: 4_000,
  cycleRooms: 64,
  // The rate the invite aim is set at, so the smoke run judges it too (not a figure to quote).
  inviteRates: [250],
  inviteSeconds: 1,
  liveCalls: 200,
  getCallSmall: 1_000,
  getCallLarge: 20_000,
  historySmall: 1_000,
  historyLarge: 20_000,
  historyOfReader: 200,
  takeovers: 1,
};

export interface BenchOptions {
  readonly smoke: boolean;
  readonly size: BenchSize;
  /** Scratch directory: stores, request files, profiles. */
  readonly work: string;
  readonly nats: NatsServer;
  readonly livekit: LiveKitServer;
  /** Another checkout to run the service from (before/after comparisons). */
  readonly serviceRoot?: string | undefined;
  /** Profile every service started into this directory. */
  readonly cpuProfDir?: string | undefined;
  /** Only scenarios whose name contains one of these words (floors always run). */
  readonly only?: readonly string[] | undefined;
  /**
   * Run the service on this PostgreSQL server instead of SQLite: each store
   * the scenarios seed (a SQLite file) is copied into a fresh database of it
   * with the product's own copy command before the service starts.
   */
  readonly postgres?: PostgresEndpoint | undefined;
}

/**
 * A service the bench started; `databaseUrl` is its PostgreSQL database (with
 * `--store postgresql`), `copySeconds` how long copying the seeded store into it took.
 */
export interface BenchService extends ServiceProcess {
  readonly databaseUrl?: string | undefined;
  readonly copySeconds?: number | undefined;
}

/** A process wrk drives and the meter reads. */
export interface LoadTarget {
  readonly baseUrl: string;
  readonly pid: number;
}

export const TENANT = "bench";
const JWT_SECRET = "bench-secret-for-scaiwave-calls-0123456789abcdef";
const HTTP_CONNECTIONS = 32;
// As the issue's reference measurements: 16 connections × 8 streams.
const GRPC_CONNECTIONS = 16;
const GRPC_STREAMS_PER_CONNECTION = 8;

/** The floors (bench/scenarios/floors.ts). */
export type FloorId = "floor-a" | "floor-d" | "floor-b" | "floor-c";

/**
 * What every scenario shares: the fixtures, the results so far, running a
 * scenario, starting the service as production does, and driving it with
 * wrk or the gRPC generator while its process is metered.
 */
export class Bench {
  readonly results: ScenarioResult[] = [];
  /** Runs floor `id` once more (set by the floors scenario). */
  measureFloorAgain: ((id: FloorId) => Promise<ScenarioResult>) | undefined;
  readonly failures: string[] = [];
  /** Top self-time frames of the profiled runs, by the id of the row they profile. */
  readonly profiles: ProfileSummary[] = [];
  private readonly tokens = new Map<string, string>();

  constructor(readonly options: BenchOptions) {}

  get size(): BenchSize {
    return this.options.size;
  }

  get work(): string {
    return this.options.work;
  }

  progress(message: string): void {
    process.stderr.write(`bench: ${message}\n`);
  }

  /** Runs one scenario; a failure is recorded and the rest still run. */
  async scenario(name: string, body: () => Promise<void>): Promise<void> {
    const only = this.options.only;
    if (only && !name.startsWith("floor") && !only.some((word) => name.includes(word))) return;
    this.progress(name);
    try {
      await body();
    } catch (err) {
      this.failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      this.progress(`FAILED ${name}: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }

  byId(id: string): ScenarioResult | undefined {
    return this.results.find((r) => r.id === id);
  }

  /**
   * The floor an aimed row measured just now is compared with: floor `id`'s
   * run at the start of the bench and another run right after the row, the
   * two averaged. The host's load drifts within a run: on this project's
   * machine the same build's ratio to a floor measured minutes before moved
   * by ±25 % from run to run. The second floor run is a row of its own.
   */
  async floorAround(id: FloorId, rowTitle: string): Promise<{ floor: ScenarioResult | undefined; note: string }> {
    const first = this.byId(id);
    if (!first || !this.measureFloorAgain) return { floor: first, note: "" };
    const again = await this.measureFloorAgain(id);
    this.results.push({ ...again, id: `${id}-after`, title: `floor (${id.slice(-1)}) again, for ${rowTitle}` });
    const note = `${id}: ${first.rate.toFixed(0)} req/s at the start, ${again.rate.toFixed(0)} right after this row; the ratio is to their mean`;
    return { floor: { ...first, rate: (first.rate + again.rate) / 2 }, note };
  }

  /** A user's bearer token (signed once, reused like a real client's). */
  bearerOf(userId: string): string {
    let token = this.tokens.get(userId);
    if (!token) this.tokens.set(userId, (token = userBearer(userId, TENANT, JWT_SECRET)));
    return token;
  }

  /** Measures the process `pid` while `load` runs. */
  async measured<T>(pid: number, load: () => Promise<T>): Promise<{ load: T; usage: ProcessUsage }> {
    const meter = meterProcess(pid);
    const result = await load();
    return { load: result, usage: meter.stop() };
  }

  /** wrk over prepared requests: a warm-up on one slice, then the measured run on another. */
  async wrk(baseUrl: string, pid: number, name: string, warm: PreparedRequest[], measure: PreparedRequest[]) {
    const [only] = await this.wrkEach([{ baseUrl, pid }], name, warm, measure);
    return only!;
  }

  /**
   * wrk against several processes at once (instances of one service): one wrk
   * process each, with an equal share of the connections and its own
   * contiguous share of `warm` and `measure` (no request goes to two of them).
   * All warm up together, then all are measured together, each one metered.
   */
  async wrkEach(targets: readonly LoadTarget[], name: string, warm: PreparedRequest[], measure: PreparedRequest[]): Promise<{ load: LoadResult; usage: ProcessUsage }[]> {
    const connections = Math.floor(HTTP_CONNECTIONS / targets.length);
    const share = (requests: PreparedRequest[], i: number) =>
      requests.slice(Math.floor((i * requests.length) / targets.length), Math.floor(((i + 1) * requests.length) / targets.length));
    const jobs = targets.map((target, i) => {
      const file = (part: string) => join(this.work, `${name}${targets.length > 1 ? `.${i}` : ""}${part}.tsv`);
      const job = { target, warm: share(warm, i), measure: share(measure, i), warmFile: file(".warm"), measureFile: file("") };
      writeWrkRequests(job.warmFile, job.warm);
      writeWrkRequests(job.measureFile, job.measure);
      return job;
    });
    await Promise.all(jobs.map((j) => runWrk(j.target.baseUrl, j.warmFile, j.warm.length, { connections, seconds: this.size.warmupSeconds })));
    const meters = jobs.map((j) => meterProcess(j.target.pid));
    const loads = await Promise.all(jobs.map((j) => runWrk(j.target.baseUrl, j.measureFile, j.measure.length, { connections, seconds: this.size.seconds })));
    return loads.map((load, i) => ({ load, usage: meters[i]!.stop() }));
  }

  /** gRPC over HTTP/2: a warm-up on one list of messages, then the measured run on another. */
  async grpc(address: string, pid: number, name: string, method: DescMethod, warm: Message[], measure: Message[], authorization?: string) {
    const load = (messages: Message[]) => ({ address, service: CallsService, method, messages, ...(authorization !== undefined && { authorization }) });
    const options = { sessions: GRPC_CONNECTIONS, streams: GRPC_STREAMS_PER_CONNECTION, workDir: this.work };
    await runGrpc(load(warm), { ...options, seconds: this.size.warmupSeconds, name: `${name}.warm` });
    return this.measured(pid, () => runGrpc(load(measure), { ...options, seconds: this.size.seconds, name }));
  }

  /**
   * The built service, started as `npm start` starts it, on `databasePath`
   * (with `--store postgresql`: on a fresh PostgreSQL copy of it, unless
   * `extra.DATABASE_URL` names the database to run on, e.g. another
   * instance's `databaseUrl`: then no copy is made).
   */
  async startService(databasePath: string, extra: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BenchService> {
    const { livekit, nats, cpuProfDir, serviceRoot } = this.options;
    const profiling = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
    const copy = this.options.postgres && extra["DATABASE_URL"] === undefined ? await this.postgresCopyOf(databasePath) : undefined;
    const databaseUrl = this.options.postgres ? (extra["DATABASE_URL"] ?? copy?.url) : undefined;
    const env = {
      DATABASE_PATH: databasePath,
      ...(databaseUrl !== undefined && { DATABASE_URL: databaseUrl }),
      AUTH_JWT_SECRET: JWT_SECRET,
      ...liveKitEnv(livekit),
      NATS_URL: nats.url,
      // Load comes from a handful of users; rate limits would measure the limiter.
      RATE_LIMIT_INITIATE_PER_MINUTE: "0",
      RATE_LIMIT_RECORDING_PER_MINUTE: "0",
      RATE_LIMIT_RING_PER_MINUTE: "0",
      RATE_LIMIT_OTHER_PER_MINUTE: "0",
      // Seeded calls have no LiveKit room: a reconcile pass would end them mid-run.
      RECONCILE_INTERVAL_SECONDS: "0",
      ...extra,
    };
    const service = await spawnService(env, "service", { nodeArgs: [...this.productionNodeFlags(), ...profiling, ...nodeArgs], root: serviceRoot, compiled: true });
    return { ...service, databaseUrl, copySeconds: copy?.seconds };
  }

  async stopService(service: ServiceProcess): Promise<void> {
    service.child.kill("SIGTERM");
    await service.exited;
  }

  /**
   * A fresh PostgreSQL database holding what the seeded SQLite file holds,
   * with planner statistics; its URL, and how long the copy took.
   */
  private async postgresCopyOf(databasePath: string): Promise<{ url: string; seconds: number }> {
    const url = await createDatabase(this.options.postgres!);
    this.progress(`copying ${basename(databasePath)} into PostgreSQL`);
    const started = performance.now();
    const sqlite = openDatabase(databasePath);
    const pool = createPostgresPool({ url, max: 2, onError: () => undefined });
    let seconds: number;
    try {
      const report = await copySqliteToPostgres(sqlite, pool);
      const different = report.filter((r) => r.sqlite !== r.postgres);
      if (different.length > 0) throw new Error(`copy into PostgreSQL lost rows: ${JSON.stringify(different)}`);
      // The copy ends with ANALYZE (the copy tool's own), so the runs see the planner's steady state.
      seconds = (performance.now() - started) / 1000;
    } finally {
      sqlite.close();
      await pool.end();
    }
    this.progress(`copied ${basename(databasePath)} into PostgreSQL (and analyzed it) in ${seconds.toFixed(1)} s`);
    return { url, seconds };
  }

  /** Drains the outbox after a scenario and notes any backlog on that scenario's row. */
  async afterScenario(service: ServiceProcess, id: string): Promise<void> {
    const { pending, seconds } = await drainOutbox(service);
    const index = this.results.findIndex((r) => r.id === id);
    if (index < 0 || pending === 0) return;
    const r = this.results[index]!;
    const note = `${pending} events were still in the outbox when the load stopped; relayed in ${seconds.toFixed(1)} s`;
    this.results[index] = { ...r, note: r.note ? `${r.note}; ${note}` : note };
  }

  /** The V8 flags `npm start` runs the service with (package.json config.nodeFlags). */
  private productionNodeFlags(): string[] {
    const root = this.options.serviceRoot ?? join(import.meta.dirname, "../..");
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { config?: { nodeFlags?: string } };
    return (pkg.config?.nodeFlags ?? "").split(" ").filter(Boolean);
  }
}

/**
 * Waits until the service's outbox is empty (every event of the last
 * scenario published), so one scenario's backlog never lands in the next
 * one's latencies. Returns how many events were waiting and how long they took.
 */
async function drainOutbox(service: ServiceProcess): Promise<{ pending: number; seconds: number }> {
  const pendingNow = async () => {
    const body = (await (await fetch(`${service.baseUrl}/readyz`)).json()) as { dependencies?: Record<string, { outbox_pending?: number }> };
    const nats = body.dependencies?.["nats"];
    if (nats?.outbox_pending === undefined) throw new Error(`/readyz has no outbox_pending: ${JSON.stringify(body)}`);
    return nats.outbox_pending;
  };
  const started = performance.now();
  const pending = await pendingNow();
  for (let left = pending; left > 0; left = await pendingNow()) {
    if (performance.now() - started > 300_000) throw new Error(`the outbox did not drain in 5 minutes (${left} events left)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { pending, seconds: (performance.now() - started) / 1000 };
}

/** A table row from a load result. */
export function row(id: string, title: string, load: LoadResult, usage: ProcessUsage, extra: Partial<ScenarioResult> = {}): Omit<ScenarioResult, "floor" | "ratio"> {
  const notes = [load.wrapped ? "ran past its prepared requests, so the rest were repeats" : "", load.firstError ? `first error: ${load.firstError}` : ""].filter(Boolean);
  return {
    id,
    title,
    rate: load.rps,
    unit: "req/s",
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    usage,
    requests: load.requests,
    errors: load.errors,
    ...(notes.length && { note: notes.join("; ") }),
    ...extra,
  };
}

/** An aim judged on every store: `aim` as text, this run's figure in its terms, and whether it was met. */
export function target(result: ScenarioResult, aim: string, achieved: string, met: boolean): ScenarioResult {
  return { ...result, target: aim, achieved, met };
}

/** `result` with `notes` (the empty ones left out) added to its own. */
export function withNotes(result: ScenarioResult, ...notes: string[]): ScenarioResult {
  const all = [result.note ?? "", ...notes].filter(Boolean);
  return all.length ? { ...result, note: all.join("; ") } : result;
}

/**
 * An aim set for SQLite: judged met or missed on SQLite; with `--store
 * postgresql` the row shows the same figure and says the aim is for SQLite.
 */
export function sqliteAim(b: Bench, result: ScenarioResult, aim: string, achieved: string, met: boolean): ScenarioResult {
  return { ...result, target: aim, achieved, aimFor: "SQLite", ...(b.options.postgres ? {} : { met }) };
}

/** The row's throughput against its floor (withFloor's ratio): at least `least` times the floor's. */
export function floorRatio(result: ScenarioResult, least: number): { aim: string; achieved: string; met: boolean } {
  const floor = result.floor ?? "its floor";
  const ratio = result.ratio;
  return {
    aim: `≥${least}× ${floor}`,
    achieved: ratio === undefined ? `no ${floor} in this run` : `${ratio.toFixed(2)}× ${floor}`,
    met: ratio !== undefined && ratio >= least,
  };
}
