// `npm run bench`: the service's throughput and latency, each scenario set
// against a floor of its own runtime measured in the same run (see README,
// "Benchmarks"). `npm run bench -- --smoke` is the few-second run the test
// command makes so this harness cannot rot.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startLiveKitServer, type LiveKitServer } from "../test/support/livekit-server.js";
import { startNatsServer, type NatsServer } from "../test/support/nats-server.js";
import { freePort } from "../test/support/ports.js";
import { spawnService, type ServiceProcess } from "../test/support/service-process.js";
import { topSelfFrames, type ProfileFrame } from "./lib/cpu-profile.js";
import { create, type DescMethod, type Message } from "@bufbuild/protobuf";
import { CallsService, GetCallRequestSchema, JoinCallRequestSchema } from "../gen/scaiwave/calls/v1/calls_pb.js";
import { runGrpc, runWrk, writeWrkRequests, type LoadResult, type PreparedRequest } from "./lib/load-generators.js";
import { histogramBuckets, quantileBetween } from "./lib/prometheus.js";
import { meterProcess, residentMiB, type ProcessUsage } from "./lib/process-meter.js";
import { startFloor, runLoadgen } from "./lib/programs.js";
import { formatTable, withFloor, type ScenarioResult } from "./lib/report.js";
import { StoreSeeder } from "./lib/seed.js";
import { userBearer, webhookAuthorization } from "./lib/signing.js";
import type { LoadgenRoom } from "./loadgen/initiate.js";

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
  },
});
const smoke = flags.smoke ?? false;

/** How big each scenario is. The smoke sizes only prove the harness works. */
const SIZE = smoke
  ? { seconds: 1, warmupSeconds: 1, joinPool: 4_000, joinWarmPool: 2_000, webhookPairs: 4_000, cycleRooms: 64, inviteRates: [100], inviteSeconds: 1, liveCalls: 200, getCallSmall: 1_000, getCallLarge: 20_000 }
  : { seconds: 10, warmupSeconds: 3, joinPool: 100_000, joinWarmPool: 30_000, webhookPairs: 60_000, cycleRooms: 512, inviteRates: [1_000, 250], inviteSeconds: 10, liveCalls: 10_000, getCallSmall: 1_000, getCallLarge: 1_000_000 };
// Every invite run starts each call in a room of its own.
const INVITE_ROOMS = SIZE.inviteRates.reduce((sum, rate) => sum + rate * SIZE.inviteSeconds, 0);
const HTTP_CONNECTIONS = 32;
// As the issue's reference measurements: 16 connections × 8 streams.
const GRPC_CONNECTIONS = 16;
const GRPC_STREAMS_PER_CONNECTION = 8;
const CYCLE_CONCURRENCY = 16;
const TENANT = "bench";
const JWT_SECRET = "bench-secret-for-scaiwave-calls-0123456789abcdef";
const USERS = 2_000;

const work = mkdtempSync(join(tmpdir(), "scaiwave-bench-"));
const results: ScenarioResult[] = [];
const failures: string[] = [];
const user = (n: number) => `u${n % USERS}`;
const tokens = new Map<string, string>();
const bearerOf = (userId: string) => {
  let token = tokens.get(userId);
  if (!token) tokens.set(userId, (token = userBearer(userId, TENANT, JWT_SECRET)));
  return token;
};
const byId = (id: string) => results.find((r) => r.id === id);

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Runs one scenario; a failure is recorded and the rest still run. */
async function scenario(name: string, body: () => Promise<void>): Promise<void> {
  const only = flags.only?.split(",");
  if (only && !name.startsWith("floor") && !only.some((word) => name.includes(word))) return;
  progress(name);
  try {
    await body();
  } catch (err) {
    failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    progress(`FAILED ${name}: ${err instanceof Error ? err.stack : String(err)}`);
  }
}

/** Measures the process `pid` while `load` runs. */
async function measured<T>(pid: number, load: () => Promise<T>): Promise<{ load: T; usage: ProcessUsage }> {
  const meter = meterProcess(pid);
  const result = await load();
  return { load: result, usage: meter.stop() };
}

function row(id: string, title: string, load: LoadResult, usage: ProcessUsage, extra: Partial<ScenarioResult> = {}): Omit<ScenarioResult, "floor" | "ratio"> {
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

function target(result: ScenarioResult, text: string, met: boolean): ScenarioResult {
  return { ...result, target: text, met };
}

// ---------------------------------------------------------------- the service

let nats!: NatsServer;
let livekit!: LiveKitServer;

function serviceEnv(databasePath: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_PATH: databasePath,
    AUTH_JWT_SECRET: JWT_SECRET,
    LIVEKIT_URL: livekit.wsUrl,
    LIVEKIT_API_URL: livekit.httpUrl,
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
    NATS_URL: nats.url,
    // Load comes from a handful of users; rate limits would measure the limiter.
    RATE_LIMIT_INITIATE_PER_MINUTE: "0",
    RATE_LIMIT_RECORDING_PER_MINUTE: "0",
    RATE_LIMIT_OTHER_PER_MINUTE: "0",
    // Seeded calls have no LiveKit room: a reconcile pass would end them mid-run.
    RECONCILE_INTERVAL_SECONDS: "0",
    ...extra,
  };
}

/** The V8 flags `npm start` runs the service with (package.json config.nodeFlags). */
function productionNodeFlags(): string[] {
  const root = flags["service-root"] ?? join(import.meta.dirname, "..");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { config?: { nodeFlags?: string } };
  return (pkg.config?.nodeFlags ?? "").split(" ").filter(Boolean);
}

/** The built service, started as `npm start` starts it. */
async function startBenchService(databasePath: string, extra: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServiceProcess> {
  const profiling = flags["cpu-prof-dir"] ? ["--cpu-prof", `--cpu-prof-dir=${flags["cpu-prof-dir"]}`] : [];
  return spawnService(serviceEnv(databasePath, extra), "service", { nodeArgs: [...productionNodeFlags(), ...profiling, ...nodeArgs], root: flags["service-root"], compiled: true });
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

/** Drains the outbox after a scenario and notes the backlog on that scenario's row. */
async function afterScenario(service: ServiceProcess, id: string): Promise<void> {
  const { pending, seconds } = await drainOutbox(service);
  const index = results.findIndex((r) => r.id === id);
  if (index < 0 || pending === 0) return;
  const r = results[index]!;
  const note = `${pending} events were still in the outbox when the load stopped; relayed in ${seconds.toFixed(1)} s`;
  results[index] = { ...r, note: r.note ? `${r.note}; ${note}` : note };
}

async function stopService(service: ServiceProcess): Promise<void> {
  service.child.kill("SIGTERM");
  await service.exited;
}

// ------------------------------------------------------------------ the seeds

interface JoinSeed {
  /** Live calls; each join run has a joiner of its own who is a member of every call's room. */
  readonly calls: string[];
  readonly webhookCalls: { callId: string; members: string[] }[];
  readonly cycleRooms: LoadgenRoom[];
  readonly inviteRooms: LoadgenRoom[];
}

type JoinPair = { callId: string; userId: string };

// REST, Connect, gRPC (connect-node), gRPC (grpc-js), the floor's requests, the profiled REST run.
const JOIN_RUNS = 6;
const joiner = (run: number) => `joiner${run}`;

function seedJoinStore(path: string): JoinSeed {
  const seeder = new StoreSeeder(path, TENANT);
  const joiners = Array.from({ length: JOIN_RUNS }, (_, run) => joiner(run));
  const calls: string[] = [];
  const webhookCalls: JoinSeed["webhookCalls"] = [];
  const room = (prefix: string, i: number, n: number, extra: string[] = []) => {
    const members = [...Array.from({ length: n }, (_, j) => user(i * n + j)), ...extra];
    seeder.room(`${prefix}${i}`, members);
    return members;
  };
  seeder.batch(() => {
    for (let c = 0; c < SIZE.joinWarmPool + SIZE.joinPool + 1; c++) {
      const [owner] = room("jr", c, 1, joiners);
      calls.push(seeder.call(`jr${c}`, owner!, [owner!], true));
    }
    for (let c = 0; c < 10_000; c++) {
      const members = room("wr", c, 5);
      webhookCalls.push({ callId: seeder.call(`wr${c}`, members[0]!, [members[0]!], true), members });
    }
    for (let i = 0; i < SIZE.cycleRooms; i++) room("cr", i, 2);
    for (let i = 0; i < INVITE_ROOMS; i++) room("ir", i, 2);
  });
  seeder.close();
  const owned = (prefix: string, n: number): LoadgenRoom[] =>
    Array.from({ length: n }, (_, i) => ({ roomId: `${prefix}${i}`, authorization: bearerOf(user(i * 2)) }));
  return { calls, webhookCalls, cycleRooms: owned("cr", SIZE.cycleRooms), inviteRooms: owned("ir", INVITE_ROOMS) };
}

let nextJoinRun = 0;
/**
 * The joins of one run: its own joiner into every seeded call, so each
 * request is a first join (a store write and an event), never a repeat.
 */
function joinRun(seed: JoinSeed): { warm: JoinPair[]; measure: JoinPair[] } {
  const userId = joiner(nextJoinRun++);
  if (nextJoinRun > JOIN_RUNS) throw new Error("more join runs than seeded joiners");
  const pairs = seed.calls.map((callId) => ({ callId, userId }));
  return { warm: pairs.slice(0, SIZE.joinWarmPool), measure: pairs.slice(SIZE.joinWarmPool, SIZE.joinWarmPool + SIZE.joinPool) };
}

const restJoin = (p: JoinPair): PreparedRequest => ({
  method: "POST",
  path: `/v1/calls/${p.callId}/join`,
  headers: { authorization: bearerOf(p.userId) },
});
const connectJoin = (p: JoinPair): PreparedRequest => ({
  method: "POST",
  path: "/scaiwave.calls.v1.CallsService/JoinCall",
  headers: { authorization: bearerOf(p.userId), "content-type": "application/json" },
  body: JSON.stringify({ callId: p.callId }),
});

/** wrk over prepared requests: a warm-up on one slice, then the measured run on another. */
async function wrkScenario(baseUrl: string, pid: number, name: string, warm: PreparedRequest[], measure: PreparedRequest[]) {
  const warmFile = join(work, `${name}.warm.tsv`);
  const measureFile = join(work, `${name}.tsv`);
  writeWrkRequests(warmFile, warm);
  writeWrkRequests(measureFile, measure);
  await runWrk(baseUrl, warmFile, warm.length, { connections: HTTP_CONNECTIONS, seconds: SIZE.warmupSeconds });
  return measured(pid, () => runWrk(baseUrl, measureFile, measure.length, { connections: HTTP_CONNECTIONS, seconds: SIZE.seconds }));
}

/** gRPC over HTTP/2: a warm-up on one list of messages, then the measured run on another. */
async function grpcScenario(address: string, pid: number, name: string, method: DescMethod, warm: Message[], measure: Message[], authorization: string[]) {
  const load = (messages: Message[]) => ({ address, service: CallsService, method, messages, authorization });
  const options = { sessions: GRPC_CONNECTIONS, streams: GRPC_STREAMS_PER_CONNECTION, workDir: work };
  await runGrpc(load(warm), { ...options, seconds: SIZE.warmupSeconds, name: `${name}.warm` });
  return measured(pid, () => runGrpc(load(measure), { ...options, seconds: SIZE.seconds, name }));
}

// ----------------------------------------------------------------- scenarios

let joinResponseTemplate = "{}";

async function floors(joinSeed: JoinSeed): Promise<void> {
  const floorRun = joinRun(joinSeed);
  const warm = floorRun.warm.map(restJoin);
  const measure = floorRun.measure.map(restJoin);
  await scenario("floor (a): node:http minting the same AccessToken", async () => {
    const floor = await startFloor("rest-token", { LIVEKIT_API_KEY: livekit.apiKey, LIVEKIT_API_SECRET: livekit.apiSecret, FLOOR_JOIN_RESPONSE: joinResponseTemplate });
    try {
      const { load, usage } = await wrkScenario(`http://127.0.0.1:${floor.port}`, floor.child.pid!, "floor-rest", warm, measure);
      // The floor keeps no state: running past its prepared requests changes nothing.
      results.push(row("floor-a", "floor (a) node:http + AccessToken", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
  await scenario("floor (d): floor (a) plus one SQLite transaction per request", async () => {
    const floor = await startFloor("rest-token-sqlite", {
      LIVEKIT_API_KEY: livekit.apiKey,
      LIVEKIT_API_SECRET: livekit.apiSecret,
      FLOOR_JOIN_RESPONSE: joinResponseTemplate,
      FLOOR_DB: join(work, "floor-d.db"),
    });
    try {
      const { load, usage } = await wrkScenario(`http://127.0.0.1:${floor.port}`, floor.child.pid!, "floor-rest-sqlite", warm, measure);
      results.push(row("floor-d", "floor (d) = (a) + a SQLite write per request", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
  const echo = (i: number): PreparedRequest => ({
    method: "POST",
    path: "/scaiwave.calls.v1.CallsService/GetCall",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ callId: `call-${i}` }),
  });
  await scenario("floor (b): connect-node echo over Connect", async () => {
    const floor = await startFloor("connect-echo");
    try {
      const requests = Array.from({ length: 1000 }, (_, i) => echo(i));
      const { load, usage } = await wrkScenario(`http://127.0.0.1:${floor.port}`, floor.child.pid!, "floor-connect", requests, requests);
      results.push(row("floor-b", "floor (b) connect-node echo, Connect JSON h1", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
  await scenario("floor (c): grpc-js echo", async () => {
    const floor = await startFloor("grpc-js-echo");
    try {
      const messages = Array.from({ length: 1000 }, (_, i) => create(GetCallRequestSchema, { callId: `call-${i}` }));
      const { load, usage } = await grpcScenario(`127.0.0.1:${floor.port}`, floor.child.pid!, "floor-grpc", CallsService.method.getCall, messages, messages, []);
      results.push(row("floor-c", "floor (c) grpc-js echo, gRPC", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
}

async function joins(service: ServiceProcess, grpcPort: number, seed: JoinSeed): Promise<void> {
  const pid = service.child.pid!;
  await scenario("REST join", async () => {
    const run = joinRun(seed);
    const { load, usage } = await wrkScenario(service.baseUrl, pid, "rest-join", run.warm.map(restJoin), run.measure.map(restJoin));
    const r = withFloor(row("rest-join", "REST join", load, usage), byId("floor-a"));
    const durable = byId("floor-d");
    const vsDurable = durable ? `${(r.rate / durable.rate).toFixed(2)}× floor (d), the token plus a durable write` : "";
    results.push(target({ ...r, ...(vsDurable && { note: r.note ? `${r.note}; ${vsDurable}` : vsDurable }) }, "≥0.8× floor-a", (r.ratio ?? 0) >= 0.8));
    await afterScenario(service, "rest-join");
  });
  await scenario("Connect join", async () => {
    const run = joinRun(seed);
    const { load, usage } = await wrkScenario(service.baseUrl, pid, "connect-join", run.warm.map(connectJoin), run.measure.map(connectJoin));
    const r = withFloor(row("connect-join", "Connect join (JSON, h1)", load, usage), byId("floor-b"));
    results.push(target(r, "≥0.8× floor-b", (r.ratio ?? 0) >= 0.8));
    await afterScenario(service, "connect-join");
  });
  const grpcJoin = async (id: string, title: string, address: string) => {
    const { warm, measure } = joinRun(seed);
    const message = (p: JoinPair) => create(JoinCallRequestSchema, { callId: p.callId });
    const { load, usage } = await grpcScenario(address, pid, id, CallsService.method.joinCall, warm.map(message), measure.map(message), [bearerOf(measure[0]!.userId)]);
    const r = withFloor(row(id, title, load, usage), byId("floor-c"));
    results.push(target(r, "≥0.8× floor-c", (r.ratio ?? 0) >= 0.8));
    await afterScenario(service, id);
  };
  await scenario("gRPC join on the main port (connect-node)", () => grpcJoin("grpc-join-connect", "gRPC join, main port (connect-node)", service.baseUrl.replace("http://", "")));
  await scenario("gRPC join on GRPC_PORT (grpc-js)", () => grpcJoin("grpc-join-grpcjs", "gRPC join, GRPC_PORT (grpc-js)", `127.0.0.1:${grpcPort}`));
}

async function webhooks(service: ServiceProcess, seed: JoinSeed): Promise<void> {
  await scenario("signed webhook ingest", async () => {
    const createdAt = String(Math.floor(Date.now() / 1000));
    const requests: PreparedRequest[] = [];
    for (let k = 0; k < SIZE.webhookPairs; k++) {
      const call = seed.webhookCalls[k % seed.webhookCalls.length]!;
      const identity = call.members[1 + (Math.floor(k / seed.webhookCalls.length) % 4)]!;
      for (const event of ["participant_joined", "participant_left"]) {
        const body = JSON.stringify({
          event,
          room: { sid: `RM_${call.callId}`, name: `scaiwave-${call.callId}` },
          participant: { sid: `PA_bench${k}`, identity, state: event === "participant_joined" ? "ACTIVE" : "DISCONNECTED" },
          id: `EV_bench_${event}_${k}`,
          createdAt,
        });
        requests.push({
          method: "POST",
          path: "/v1/calls/webhook",
          headers: { authorization: webhookAuthorization(body, livekit.apiKey, livekit.apiSecret), "content-type": "application/webhook+json" },
          body,
        });
      }
    }
    const warmCount = Math.floor(requests.length / 5);
    const { load, usage } = await wrkScenario(service.baseUrl, service.child.pid!, "webhooks", requests.slice(0, warmCount), requests.slice(warmCount));
    const r = withFloor({ ...row("webhooks", "signed webhooks (joined/left)", load, usage), unit: "events/s" }, byId("floor-a"));
    results.push(target(r, "≥5000 events/s", r.rate >= 5000));
    await afterScenario(service, "webhooks");
  });
}

async function callCycles(service: ServiceProcess, seed: JoinSeed): Promise<void> {
  await scenario("REST initiate + end cycles", async () => {
    const job = { mode: "cycles" as const, baseUrl: service.baseUrl, rooms: seed.cycleRooms, concurrency: CYCLE_CONCURRENCY, seconds: SIZE.warmupSeconds };
    await runLoadgen(job, work, "cycles-warm");
    const { load, usage } = await measured(service.child.pid!, () => runLoadgen({ ...job, seconds: SIZE.seconds }, work, "cycles"));
    results.push(
      withFloor(
        {
          id: "cycles",
          title: `REST initiate+end cycles, ${seed.cycleRooms.length} rooms`,
          rate: load.completed / load.seconds,
          unit: "cycles/s",
          p50Ms: load.p50Ms,
          p99Ms: load.p99Ms,
          usage,
          requests: load.completed * 2,
          errors: load.errors,
          ...(load.firstError && { note: `first error: ${load.firstError}` }),
        },
        byId("floor-a"),
        2,
      ),
    );
    await afterScenario(service, "cycles");
  });
  // At the issue's 1k/s, and at a rate the service sustains (latency without a queue).
  let roomsUsed = 0;
  for (const rate of SIZE.inviteRates) {
    const rooms = seed.inviteRooms.slice(roomsUsed, (roomsUsed += rate * SIZE.inviteSeconds));
    await scenario(`invite latency at ${rate}/s`, async () => {
      const job = { mode: "invites" as const, baseUrl: service.baseUrl, natsUrl: nats.url, rooms, rate, seconds: SIZE.inviteSeconds };
      const createRoom = async () =>
        histogramBuckets(await (await fetch(`${service.baseUrl}/metrics`)).text(), "scaiwave_calls_livekit_request_duration_seconds", { operation: "room.createRoom" });
      const before = await createRoom();
      const { load, usage } = await measured(service.child.pid!, () => runLoadgen(job, work, `invites-${rate}`));
      const after = await createRoom();
      // What the initiate waits for before it can commit: LiveKit creating the room (bucket bounds).
      const liveKit = `LiveKit CreateRoom (service's histogram) p50 ≤${quantileBetween(before, after, 0.5)} ms, p99 ≤${quantileBetween(before, after, 0.99)} ms`;
      const notes = [liveKit, load.missing ? `${load.missing} invites never arrived` : "", load.firstError ? `first error: ${load.firstError}` : ""].filter(Boolean);
      const r: ScenarioResult = {
        id: `invite-latency-${rate}`,
        title: `initiate → swp.call.invite at ${rate}/s`,
        rate: (load.sent ?? 0) / load.seconds,
        unit: "initiates/s",
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        usage,
        requests: load.sent ?? 0,
        errors: load.errors + (load.missing ?? 0),
        ...(notes.length && { note: notes.join("; ") }),
      };
      results.push(target(r, "p99 ≤10 ms", r.p99Ms <= 10 && r.errors === 0));
      await afterScenario(service, r.id);
    });
  }
}

async function getCall(size: number, id: string): Promise<ScenarioResult | undefined> {
  let result: ScenarioResult | undefined;
  await scenario(`GetCall with ${size} stored calls`, async () => {
    const path = join(work, `${id}.db`);
    const seeder = new StoreSeeder(path, TENANT);
    const rooms = 1_000;
    const ids: string[] = [];
    seeder.batch(() => {
      for (let r = 0; r < rooms; r++) seeder.room(`gr${r}`, ["owner", "reader"]);
      for (let i = 0; i < size; i++) ids.push(seeder.call(`gr${i % rooms}`, "owner", ["owner", "reader"], false));
    });
    seeder.close();
    // Random reads across the whole store, the same count for both sizes.
    const requests = Array.from({ length: 50_000 }, (): PreparedRequest => ({
      method: "GET",
      path: `/v1/calls/${ids[Math.floor(Math.random() * ids.length)]}`,
      headers: { authorization: bearerOf("reader") },
    }));
    const service = await startBenchService(path);
    try {
      const { load, usage } = await wrkScenario(service.baseUrl, service.child.pid!, id, requests, requests);
      result = withFloor(row(id, `GetCall, ${size.toLocaleString("en")} calls stored`, { ...load, wrapped: false }, usage), byId("floor-a"));
      results.push(result);
    } finally {
      await stopService(service);
    }
  });
  return result;
}

async function liveCallsMemory(): Promise<void> {
  await scenario(`RSS with ${SIZE.liveCalls} live calls`, async () => {
    const path = join(work, "live.db");
    const seeder = new StoreSeeder(path, TENANT);
    const rooms: LoadgenRoom[] = [];
    seeder.batch(() => {
      for (let i = 0; i < SIZE.liveCalls; i++) {
        seeder.room(`lr${i}`, [user(i * 2), user(i * 2 + 1)]);
        rooms.push({ roomId: `lr${i}`, authorization: bearerOf(user(i * 2)) });
      }
    });
    seeder.close();
    // Calls must still be live (ringing) when memory is read.
    const service = await startBenchService(path, { RING_TIMEOUT_SECONDS: "3600" });
    try {
      const idle = residentMiB(service.child.pid!);
      const { load, usage } = await measured(service.child.pid!, () => runLoadgen({ mode: "live", baseUrl: service.baseUrl, rooms, concurrency: 32 }, work, "live"));
      const justAfter = residentMiB(service.child.pid!);
      // Then idle with the calls still live: V8's memory reducer collects and gives pages back after a quiet spell.
      await new Promise((resolve) => setTimeout(resolve, smoke ? 1_000 : 20_000));
      const settled = residentMiB(service.child.pid!);
      const heap = await heapOf(service);
      const r: ScenarioResult = {
        id: "live-calls-rss",
        title: `RSS with ${load.completed.toLocaleString("en")} live calls`,
        rate: load.completed / load.seconds,
        unit: "initiates/s",
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        usage,
        requests: load.completed,
        errors: load.errors,
        note: `RSS before ${idle.toFixed(1)} MiB; peak while creating the calls ${usage.peakRssMiB.toFixed(1)} MiB, ${justAfter.toFixed(1)} MiB right after, ${settled.toFixed(1)} MiB after ${smoke ? 1 : 20} s idle with them live; V8 heap then ${heap.used.toFixed(1)} MiB used of ${heap.total.toFixed(1)} MiB`,
      };
      // The target is the RSS with the calls live; the peak while creating them is load, and is noted.
      results.push(target({ ...r, settledRssMiB: settled }, "≤150 MB settled", settled * 1.048576 <= 150 && load.errors === 0));
    } finally {
      await stopService(service);
    }
  });
}

/** The service's own V8 heap figures (prom-client's default metrics), MiB. */
async function heapOf(service: ServiceProcess): Promise<{ used: number; total: number; external: number }> {
  const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^scaiwave_calls_${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { used: metric("nodejs_heap_size_used_bytes"), total: metric("nodejs_heap_size_total_bytes"), external: metric("nodejs_external_memory_bytes") };
}

/** The REST join again, in a service started with --cpu-prof: where the time goes. */
async function profileJoin(seed: JoinSeed, databasePath: string): Promise<ProfileFrame[]> {
  let frames: ProfileFrame[] = [];
  await scenario("CPU profile of REST join", async () => {
    const dir = join(work, "profile");
    mkdirSync(dir);
    const service = await startBenchService(databasePath, {}, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    try {
      const run = joinRun(seed);
      await wrkScenario(service.baseUrl, service.child.pid!, "profiled-join", run.warm.map(restJoin), run.measure.map(restJoin));
    } finally {
      await stopService(service);
    }
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("the service wrote no CPU profile");
    frames = topSelfFrames(join(dir, file));
    // Kept for Chrome DevTools / speedscope (not committed: .gitignore).
    if (!smoke) copyFileSync(join(dir, file), join(import.meta.dirname, "results", "rest-join.cpuprofile"));
  });
  return frames;
}

// --------------------------------------------------------------------- main

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

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const info = machine();
  progress(`starting nats-server and livekit-server; work dir ${work}`);
  [nats, livekit] = await Promise.all([startNatsServer(), startLiveKitServer()]);

  progress("building the service (npm run build): it runs as production runs it");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: flags["service-root"] ?? join(import.meta.dirname, ".."), stdio: "inherit" });
  progress("seeding the join store");
  const joinDb = join(work, "join.db");
  const joinSeed = seedJoinStore(joinDb);
  const grpcPort = await freePort();
  const service = await startBenchService(joinDb, { GRPC_PORT: String(grpcPort) });
  let profile: ProfileFrame[] = [];
  try {
    // The floor answers with a real join response of this service (same size and shape).
    const sample = { callId: joinSeed.calls.at(-1)!, userId: joiner(0) };
    const response = await fetch(`${service.baseUrl}/v1/calls/${sample.callId}/join`, { method: "POST", headers: { authorization: bearerOf(sample.userId) } });
    if (response.status !== 200) throw new Error(`sample join failed: ${response.status} ${await response.text()}`);
    joinResponseTemplate = await response.text();

    await floors(joinSeed);
    await joins(service, grpcPort, joinSeed);
    await webhooks(service, joinSeed);
    await callCycles(service, joinSeed);
  } finally {
    await stopService(service);
  }
  if (!smoke) profile = await profileJoin(joinSeed, joinDb);

  const small = await getCall(SIZE.getCallSmall, "getcall-small");
  const large = await getCall(SIZE.getCallLarge, "getcall-large");
  if (small && large) {
    const ratio = large.p50Ms / small.p50Ms;
    results.splice(results.indexOf(large), 1, target({ ...large, note: `p50 ${ratio.toFixed(2)}× and throughput ${(small.rate / large.rate).toFixed(2)}× slower than with ${SIZE.getCallSmall.toLocaleString("en")} calls` }, "p50 ≤1.2× the small store", ratio <= 1.2));
  }
  await liveCallsMemory();

  const table = formatTable(results);
  const profileText = profile.length ? `\nCPU profile of REST join (self time):\n${profile.map((f) => `  ${f.selfPercent.toFixed(1).padStart(5)} %  ${f.frame}`).join("\n")}` : "";
  console.log(`\nScaiWave Calls benchmarks, ${startedAt}, ${info.cpus} × ${info.cpuModel}, Node ${info.node}${smoke ? " (smoke sizes: not figures to quote)" : ""}\n`);
  console.log(table + profileText);
  const out = flags.out ?? (smoke ? join(work, "calls.json") : join(import.meta.dirname, "results", "calls.json"));
  writeFileSync(out, JSON.stringify({ startedAt, smoke, machine: info, size: SIZE, results, profile, failures }, null, 2) + "\n");
  console.log(`\nwritten to ${out}`);
  if (failures.length) {
    console.log(`\n${failures.length} scenario(s) failed:\n${failures.map((f) => `  ${f}`).join("\n")}`);
  }
  // The smoke run is part of the tests: any failed scenario or failed request fails it.
  const broken = failures.length > 0 || (smoke && results.some((r) => r.errors > 0));
  process.exitCode = broken ? 1 : 0;
}

try {
  await main();
} finally {
  await Promise.allSettled([nats?.stop(), livekit?.stop()]);
  if (!process.exitCode) rmSync(work, { recursive: true, force: true });
}
