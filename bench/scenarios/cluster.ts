import { join } from "node:path";
import { connect } from "nats";
import { relayRole } from "../../test/support/service-cluster.js";
import { row, TENANT, type Bench, type BenchService } from "../lib/bench.js";
import type { LoadResult } from "../lib/load-generators.js";
import type { ProcessUsage } from "../lib/process-meter.js";
import { withFloor, type ScenarioResult } from "../lib/report.js";
import { StoreSeeder } from "../lib/seed.js";
import { percentile } from "../loadgen/percentile.js";
import type { JoinSeed } from "./join-seed.js";

// Two standbys race for the lease, as in a cluster of three.
const TAKEOVER_INSTANCES = 3;
// How often the bench asks the survivors' /readyz during a takeover: the resolution of the /readyz row.
const ROLE_POLL_MS = 10;
const WAIT_LIMIT_MS = 30_000;

/**
 * Many instances on one PostgreSQL database (`--store postgresql` only):
 * REST join throughput on one instance and on two, and how long the relay
 * lease takes to move when its holder is killed.
 */
export async function cluster(b: Bench, seed: JoinSeed): Promise<void> {
  await b.scenario("cluster: REST join on 1 and on 2 instances", () => clusterJoins(b, seed));
  await b.scenario("cluster: relay takeover after SIGKILL of the holder", () => relayTakeover(b));
}

/**
 * Run A: wrk against one instance. Run B: a second instance joins it on the
 * same database and two wrk processes drive one instance each, half the
 * connections each. Both runs make first joins on calls nobody joined yet.
 */
async function clusterJoins(b: Bench, seed: JoinSeed): Promise<void> {
  const [runA, runB] = seed.alternatingRuns();
  const first = await b.startService(seed.path);
  let second: BenchService | undefined;
  try {
    const a = await b.wrk(first.baseUrl, first.child.pid!, "cluster-join-1", runA.warm.map(seed.restJoin), runA.measure.map(seed.restJoin));
    const one = withFloor(row("cluster-join-1", "cluster: REST join, 1 instance", a.load, a.usage), b.byId("floor-a"));
    b.results.push(one);
    await b.afterScenario(first, one.id);

    second = await b.startService(seed.path, { DATABASE_URL: first.databaseUrl! });
    const instances = [first, second].map((s) => ({ baseUrl: s.baseUrl, pid: s.child.pid! }));
    const each = await b.wrkEach(instances, "cluster-join-2", runB.warm.map(seed.restJoin), runB.measure.map(seed.restJoin));
    const publisher = (await Promise.all(instances.map((i) => relayRole(i.baseUrl)))).indexOf("publishing");
    const load = together(each.map((e) => e.load));
    const usage: ProcessUsage = {
      cpuPercent: each.reduce((sum, e) => sum + e.usage.cpuPercent, 0),
      peakRssMiB: Math.max(...each.map((e) => e.usage.peakRssMiB)),
    };
    const r = withFloor(row("cluster-join-2", "cluster: REST join, 2 instances", load, usage), b.byId("floor-a"));
    const perInstance = each
      .map((e, i) => `instance ${i + 1} ${e.load.rps.toFixed(0)} req/s, p99 ${e.load.p99Ms.toFixed(1)} ms, CPU ${e.usage.cpuPercent.toFixed(0)} %`)
      .join("; ");
    const note = [
      `2 instances ÷ 1 instance: ${(r.rate / one.rate).toFixed(2)}× the rate, ${(r.p99Ms / one.p99Ms).toFixed(2)}× the p99`,
      "rate is the sum of two wrk processes (one per instance, half the connections each, disjoint halves of the requests); p50 and p99 are the larger of the two; CPU % is both service processes together, peak RSS the larger",
      perInstance,
      publisher < 0 ? "neither instance's /readyz said publishing after the run" : `instance ${publisher + 1} held the relay lease: it published both instances' events`,
    ];
    b.results.push({ ...r, note: [r.note, ...note].filter(Boolean).join("; ") });
    await b.afterScenario(first, r.id);
  } finally {
    await Promise.all([first, second].filter((s) => s !== undefined).map((s) => b.stopService(s)));
  }
}

/** Two load runs at once as one row: rates and counts add up, latencies are the worse of the two. */
function together(loads: readonly LoadResult[]): LoadResult {
  const firstError = loads.find((l) => l.firstError)?.firstError;
  return {
    requests: loads.reduce((sum, l) => sum + l.requests, 0),
    seconds: Math.max(...loads.map((l) => l.seconds)),
    rps: loads.reduce((sum, l) => sum + l.rps, 0),
    p50Ms: Math.max(...loads.map((l) => l.p50Ms)),
    p99Ms: Math.max(...loads.map((l) => l.p99Ms)),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
    wrapped: loads.some((l) => l.wrapped),
    ...(firstError !== undefined && { firstError }),
  };
}

/**
 * Instances on one database and the bench's NATS. Each round: find the lease
 * holder, SIGKILL it, at once initiate a call through a survivor, and time (a)
 * until a survivor's /readyz says `publishing` and (b) until that call's first
 * event is on NATS (a core subscription to `swp.>` made before). The killed
 * instance is started again, on the same database, before the next round.
 */
async function relayTakeover(b: Bench): Promise<void> {
  const rounds = b.size.takeovers;
  const path = join(b.work, "takeover.db");
  const rooms = Array.from({ length: rounds }, (_, i) => ({ roomId: `tr${i}`, host: `takeover-host${i}`, guest: `takeover-guest${i}` }));
  const seeder = new StoreSeeder(path, TENANT);
  seeder.batch(() => rooms.forEach((r) => seeder.room(r.roomId, [r.host, r.guest])));
  seeder.close();

  const instances: BenchService[] = [await b.startService(path)];
  const databaseUrl = instances[0]!.databaseUrl!;
  const nats = await connect({ servers: b.options.nats.url });
  try {
    for (let i = 1; i < TAKEOVER_INSTANCES; i++) instances.push(await b.startService(path, { DATABASE_URL: databaseUrl }));
    // The first message about each call, and when it came.
    const arrivals = new Map<string, number>();
    nats.subscribe("swp.>", {
      callback: (err, msg) => {
        const at = performance.now();
        if (err) return;
        let callId: string | undefined;
        try {
          callId = msg.json<{ call_id?: string }>().call_id;
        } catch {
          return; // not an event envelope
        }
        if (callId !== undefined && !arrivals.has(callId)) arrivals.set(callId, at);
      },
    });
    await nats.flush(); // the server has the subscription before the first kill

    const readyzMs: number[] = [];
    const eventMs: number[] = [];
    const answeredMs: number[] = [];
    for (const room of rooms) {
      const holder = await settledHolder(instances);
      const victim = instances[holder]!;
      const survivors = instances.filter((_, i) => i !== holder);
      const killedAt = performance.now();
      victim.child.kill("SIGKILL");
      const [callId, publishingAt] = await Promise.all([
        initiate(b, survivors[0]!, room).then((id) => {
          answeredMs.push(performance.now() - killedAt);
          return id;
        }),
        waitFor("a survivor's /readyz to say publishing", async () => {
          const roles = await Promise.all(survivors.map((s) => relayRole(s.baseUrl)));
          return roles.includes("publishing") ? performance.now() : undefined;
        }),
      ]);
      const arrivedAt = await waitFor(`the event of call ${callId} on NATS`, () => Promise.resolve(arrivals.get(callId)));
      readyzMs.push(publishingAt - killedAt);
      eventMs.push(arrivedAt - killedAt);
      await victim.exited;
      instances[holder] = await b.startService(path, { DATABASE_URL: databaseUrl });
    }

    const setup = `${rounds} SIGKILL${rounds === 1 ? "" : "s"} of the lease holder among ${TAKEOVER_INSTANCES} instances (standbys try every 500 ms)`;
    b.results.push(
      durationRow("relay-takeover-readyz", "cluster: relay takeover, SIGKILL → /readyz publishing", readyzMs, `${setup}; survivors' /readyz polled every ${ROLE_POLL_MS} ms`),
      durationRow(
        "relay-takeover-event",
        "cluster: relay takeover, SIGKILL → next event on NATS",
        eventMs,
        `${setup}; an initiate through a survivor right after the kill (answered, so committed, p50 ${percentile(answeredMs.sort((x, y) => x - y), 50).toFixed(0)} ms after it), timed to its first message on swp.>`,
      ),
    );
  } finally {
    await nats.close();
    await Promise.all(instances.filter((s) => s.child.exitCode === null && s.child.signalCode === null).map((s) => b.stopService(s)));
  }
}

/** Waits until exactly one instance publishes and the others stand by; the publisher's index. */
function settledHolder(instances: readonly BenchService[]): Promise<number> {
  return waitFor("one instance publishing, the others on standby", async () => {
    const roles = await Promise.all(instances.map((s) => relayRole(s.baseUrl)));
    const holder = roles.indexOf("publishing");
    return holder >= 0 && roles.every((role, i) => i === holder || role === "standby") ? holder : undefined;
  });
}

async function initiate(b: Bench, via: BenchService, room: { roomId: string; host: string }): Promise<string> {
  const response = await fetch(`${via.baseUrl}/v1/calls/initiate`, {
    method: "POST",
    headers: { authorization: b.bearerOf(room.host), "content-type": "application/json" },
    body: JSON.stringify({ room_id: room.roomId, type: "audio" }),
  });
  const body = (await response.json()) as { data?: { call_id?: string } };
  const callId = body.data?.call_id;
  if (response.status !== 200 || callId === undefined) throw new Error(`initiate through a survivor failed: ${response.status} ${JSON.stringify(body)}`);
  return callId;
}

/** Polls `probe` every ROLE_POLL_MS until it gives a value; fails after WAIT_LIMIT_MS. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + WAIT_LIMIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`waited ${WAIT_LIMIT_MS / 1000} s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, ROLE_POLL_MS));
  }
}

/** A row of durations (no throughput): p50 and the longest of the repeats. */
function durationRow(id: string, title: string, samplesMs: readonly number[], note: string): ScenarioResult {
  const sorted = [...samplesMs].sort((x, y) => x - y);
  return {
    id,
    title,
    rate: NaN,
    unit: "ms",
    p50Ms: percentile(sorted, 50),
    p99Ms: NaN,
    maxMs: sorted.at(-1) ?? NaN,
    usage: { cpuPercent: NaN, peakRssMiB: NaN },
    requests: sorted.length,
    errors: 0,
    note,
  };
}
