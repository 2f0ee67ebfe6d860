import type { ServiceProcess } from "../../test/support/service-process.js";
import { target, type Bench } from "../lib/bench.js";
import { histogramBuckets, quantileBetween } from "../lib/prometheus.js";
import { runLoadgen } from "../lib/programs.js";
import { withFloor, type ScenarioResult } from "../lib/report.js";
import type { JoinSeed } from "./join-seed.js";

const CYCLE_CONCURRENCY = 16;

/** Initiate → end cycles in many rooms, and the initiate → invite latency at fixed offered rates. */
export async function initiates(b: Bench, service: ServiceProcess, seed: JoinSeed): Promise<void> {
  const pid = service.child.pid!;
  await b.scenario("REST initiate + end cycles", async () => {
    const job = { mode: "cycles" as const, baseUrl: service.baseUrl, rooms: seed.cycleRooms, concurrency: CYCLE_CONCURRENCY, seconds: b.size.warmupSeconds };
    await runLoadgen(job, b.work, "cycles-warm");
    const { load, usage } = await b.measured(pid, () => runLoadgen({ ...job, seconds: b.size.seconds }, b.work, "cycles"));
    const r: Omit<ScenarioResult, "floor" | "ratio"> = {
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
    };
    b.results.push(withFloor(r, b.byId("floor-a"), 2));
    await b.afterScenario(service, "cycles");
  });
  // At the 1k/s, and at a rate the service sustains (latency without a queue).
  let roomsUsed = 0;
  for (const rate of b.size.inviteRates) {
    const rooms = seed.inviteRooms.slice(roomsUsed, (roomsUsed += rate * b.size.inviteSeconds));
    await b.scenario(`invite latency at ${rate}/s`, async () => {
      const job = { mode: "invites" as const, baseUrl: service.baseUrl, natsUrl: b.options.nats.url, rooms, rate, seconds: b.size.inviteSeconds };
      const createRoom = async () =>
        histogramBuckets(await (await fetch(`${service.baseUrl}/metrics`)).text(), "scaiwave_calls_livekit_request_duration_seconds", { operation: "room.createRoom" });
      const before = await createRoom();
      const { load, usage } = await b.measured(pid, () => runLoadgen(job, b.work, `invites-${rate}`));
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
      b.results.push(target(r, "p99 ≤10 ms", r.p99Ms <= 10 && r.errors === 0));
      await b.afterScenario(service, r.id);
    });
  }
}
