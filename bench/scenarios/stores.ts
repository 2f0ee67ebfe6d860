import { join } from "node:path";
import type { ServiceProcess } from "../../test/support/service-process.js";
import type { LoadgenRoom } from "../loadgen/initiate.js";
import { floorRatio, row, sqliteAim, target, TENANT, withNotes, type Bench } from "../lib/bench.js";
import type { PreparedRequest } from "../lib/load-generators.js";
import { residentMiB } from "../lib/process-meter.js";
import { runLoadgen } from "../lib/programs.js";
import { withFloor, type ScenarioResult } from "../lib/report.js";
import { StoreSeeder } from "../lib/seed.js";
import { user } from "./join-seed.js";
import { profiledRun, summarize } from "./profile.js";

/**
 * GetCall with a small and a large store, seeded directly: the small row
 * carries the aim against floor (a) and a CPU profile, the large row the
 * comparison with the small one.
 */
export async function getCalls(b: Bench): Promise<void> {
  const small = await getCall(b, b.size.getCallSmall, "getcall-small", true);
  const large = await getCall(b, b.size.getCallLarge, "getcall-large", false);
  if (small && large) compareStores(b, small, large, b.size.getCallSmall);
}

/** Puts the comparison with the small store, and the target of staying flat, on the large store's row. */
export function compareStores(b: Bench, small: ScenarioResult, large: ScenarioResult, smallSize: number): void {
  const ratio = large.p50Ms / small.p50Ms;
  const comparison = `p50 ${ratio.toFixed(2)}× and throughput ${(small.rate / large.rate).toFixed(2)}× slower than with ${smallSize.toLocaleString("en")} calls`;
  const note = large.note ? `${comparison}; ${large.note}` : comparison;
  b.results.splice(b.results.indexOf(large), 1, target({ ...large, note }, "p50 ≤1.2× the small store", `p50 ${ratio.toFixed(2)}×`, ratio <= 1.2));
}

// GetCall on the small store: at least this share of floor (a), the token minting node:http server (on SQLite).
const GETCALL_AIM = 0.6;

async function getCall(b: Bench, size: number, id: string, aimAndProfile: boolean): Promise<ScenarioResult | undefined> {
  let result: ScenarioResult | undefined;
  await b.scenario(`GetCall with ${size} stored calls`, async () => {
    const path = join(b.work, `${id}.db`);
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
      headers: { authorization: b.bearerOf("reader") },
    }));
    const title = `GetCall, ${size.toLocaleString("en")} calls stored`;
    const service = await b.startService(path);
    try {
      const { load, usage } = await b.wrk(service.baseUrl, service.child.pid!, id, requests, requests);
      const { floor, note } = aimAndProfile ? await b.floorAround("floor-a", title) : { floor: b.byId("floor-a"), note: "" };
      const r = withFloor(row(id, title, { ...load, wrapped: false }, usage), floor);
      const { aim, achieved, met } = floorRatio(r, GETCALL_AIM);
      result = aimAndProfile ? sqliteAim(b, withNotes(r, note), aim, achieved, met) : r;
      b.results.push(result);
    } finally {
      await b.stopService(service);
    }
    if (aimAndProfile) summarize(b, await profiledRun(b, id, path, requests, requests), id, title);
  });
  return result;
}

/** Resident memory with 10k live calls, created through the API, then left live. */
export async function liveCallsMemory(b: Bench): Promise<void> {
  await b.scenario(`RSS with ${b.size.liveCalls} live calls`, async () => {
    const path = join(b.work, "live.db");
    const seeder = new StoreSeeder(path, TENANT);
    const rooms: LoadgenRoom[] = [];
    seeder.batch(() => {
      for (let i = 0; i < b.size.liveCalls; i++) {
        seeder.room(`lr${i}`, [user(i * 2), user(i * 2 + 1)]);
        rooms.push({ roomId: `lr${i}`, authorization: b.bearerOf(user(i * 2)) });
      }
    });
    seeder.close();
    // Calls must still be live (ringing) when memory is read.
    const service = await b.startService(path, { RING_TIMEOUT_SECONDS: "3600" });
    try {
      const pid = service.child.pid!;
      const idle = residentMiB(pid);
      const { load, usage } = await b.measured(pid, () => runLoadgen({ mode: "live", baseUrl: service.baseUrl, rooms, concurrency: 32 }, b.work, "live"));
      const justAfter = residentMiB(pid);
      // Then idle with the calls still live. V8's memory reducer gives back the heap room each isolate (the
      // request thread's and the relay thread's) grew under load only once it finds the isolate idle: its first
      // look is 8 s after the last full GC, and in practice it collected 12-30 s after this load. So the settled
      // figure is read after 60 s, and the one at 20 s is noted.
      const quietSeconds = b.options.smoke ? 1 : 60;
      const earlySeconds = b.options.smoke ? 1 : 20;
      await new Promise((resolve) => setTimeout(resolve, earlySeconds * 1000));
      const early = residentMiB(pid);
      await new Promise((resolve) => setTimeout(resolve, (quietSeconds - earlySeconds) * 1000));
      const settled = residentMiB(pid);
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
        settledRssMiB: settled,
        note: `RSS before ${idle.toFixed(1)} MiB; peak while creating the calls ${usage.peakRssMiB.toFixed(1)} MiB, ${justAfter.toFixed(1)} MiB right after, ${early.toFixed(1)} MiB after ${earlySeconds} s and ${settled.toFixed(1)} MiB after ${quietSeconds} s idle with them live; V8 heap then ${heap.used.toFixed(1)} MiB used of ${heap.total.toFixed(1)} MiB`,
      };
      // The target is the RSS with the calls live; the peak while creating them is load, and is noted.
      const settledMB = settled * 1.048576;
      b.results.push(target(r, "≤150 MB settled", `${settledMB.toFixed(0)} MB settled`, settledMB <= 150 && load.errors === 0));
    } finally {
      await b.stopService(service);
    }
  });
}

/** The service's own V8 heap figures (prom-client's default metrics), MiB. */
async function heapOf(service: ServiceProcess): Promise<{ used: number; total: number }> {
  const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^scaiwave_calls_${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { used: metric("nodejs_heap_size_used_bytes"), total: metric("nodejs_heap_size_total_bytes") };
}
