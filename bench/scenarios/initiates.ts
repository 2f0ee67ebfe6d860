import type { ServiceProcess } from "../../test/support/service-process.js";
import type { InviteTiming } from "../loadgen/initiate.js";
import { percentile } from "../loadgen/percentile.js";
import { sqliteAim, type Bench, type BenchSize } from "../lib/bench.js";
import { CREATE_ROOM_PATH, type LiveKitCall, type LiveKitTimingProxy } from "../lib/livekit-timing-proxy.js";
import type { ProcessUsage } from "../lib/process-meter.js";
import { histogramBuckets, quantileBetween } from "../lib/prometheus.js";
import { runLoadgen } from "../lib/programs.js";
import { withFloor, type ScenarioResult } from "../lib/report.js";
import type { JoinSeed } from "./join-seed.js";

const CYCLE_CONCURRENCY = 16;
// The aim: at this offered rate, the invite's p99 at most this far beyond the call's own CreateRoom (on SQLite).
const INVITE_AIM_RATE = 250;
const INVITE_AIM_BEYOND_MS = 10;

/** Rooms the invite runs initiate in: each rate's measured run, then the warm-up's (at the aimed rate). */
export function inviteRoomCounts(size: BenchSize): { measured: number; total: number } {
  const measured = size.inviteRates.reduce((sum, rate) => sum + rate * size.inviteSeconds, 0);
  return { measured, total: measured + INVITE_AIM_RATE * size.warmupSeconds };
}
// Rows of figures the bench derives (no process of their own is metered).
const NOT_METERED: ProcessUsage = { cpuPercent: NaN, peakRssMiB: NaN };

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const ms = (n: number) => `${n.toFixed(1)} ms`;

/**
 * Initiate → end cycles in many rooms, and the initiate → invite latency at
 * fixed offered rates, with each call's own CreateRoom taken out of it. The
 * service reaches LiveKit through `liveKit`, the bench's timing proxy.
 */
export async function initiates(b: Bench, service: ServiceProcess, seed: JoinSeed, liveKit: LiveKitTimingProxy): Promise<void> {
  const pid = service.child.pid!;
  await b.scenario("REST initiate + end cycles", async () => {
    const job = { mode: "cycles" as const, baseUrl: service.baseUrl, rooms: seed.cycleRooms, concurrency: CYCLE_CONCURRENCY, seconds: b.size.warmupSeconds };
    await runLoadgen(job, b.work, "cycles-warm");
    liveKit.take();
    const { load, usage } = await b.measured(pid, () => runLoadgen({ ...job, seconds: b.size.seconds }, b.work, "cycles"));
    const hop = sorted(liveKit.take().map((c) => c.proxyMs));
    const notes = [
      `CreateRoom and DeleteRoom went through the bench's timing proxy, its own time p50 ${ms(percentile(hop, 50))}, p99 ${ms(percentile(hop, 99))} per call`,
      load.firstError ? `first error: ${load.firstError}` : "",
    ].filter(Boolean);
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
      note: notes.join("; "),
    };
    b.results.push(withFloor(r, b.byId("floor-a"), 2));
    await b.afterScenario(service, "cycles");
  });
  // At the 1k/s, and at a rate the service sustains (latency without a queue).
  const measuredRooms = inviteRoomCounts(b.size).measured;
  let warmedUp = false;
  let roomsUsed = 0;
  for (const rate of b.size.inviteRates) {
    const rooms = seed.inviteRooms.slice(roomsUsed, (roomsUsed += rate * b.size.inviteSeconds));
    await b.scenario(`initiate → invite latency at ${rate}/s`, async () => {
      const job = { mode: "invites" as const, baseUrl: service.baseUrl, natsUrl: b.options.nats.url, rooms, rate, seconds: b.size.inviteSeconds };
      // Like every wrk run, the first one is warmed up (rooms of its own, not measured): from a cold start (a
      // run of `--only invite`) the first second's JIT compiling and first connections otherwise made its p99.
      if (!warmedUp) {
        warmedUp = true;
        const warmRooms = seed.inviteRooms.slice(measuredRooms);
        await runLoadgen({ ...job, rooms: warmRooms, rate: INVITE_AIM_RATE, seconds: b.size.warmupSeconds }, b.work, "invites-warm");
      }
      const metrics = async () => (await (await fetch(`${service.baseUrl}/metrics`)).text());
      const createRoomOf = (text: string) => histogramBuckets(text, "scaiwave_calls_livekit_request_duration_seconds", { operation: "room.createRoom" });
      const initiateOf = (text: string) => histogramBuckets(text, "scaiwave_calls_rpc_duration_seconds", { rpc: "InitiateCall" });
      const before = await metrics();
      liveKit.take();
      const { load, usage } = await b.measured(pid, () => runLoadgen(job, b.work, `invites-${rate}`));
      const calls = liveKit.take();
      const after = await metrics();
      const [handledBefore, handledAfter] = [initiateOf(before), initiateOf(after)];
      const notes = [
        // From the handler's start to its answer (CreateRoom included): what the rest of the latency is not.
        `the service's own handling of these initiates (its RPC histogram): p50 ≤${quantileBetween(handledBefore, handledAfter, 0.5)} ms, p99 ≤${quantileBetween(handledBefore, handledAfter, 0.99)} ms`,
        load.missing ? `${load.missing} invites never arrived` : "",
        load.firstError ? `first error: ${load.firstError}` : "",
      ].filter(Boolean);
      const invite: ScenarioResult = {
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
      // The service's histogram only has bucket bounds, and no pairing; it is a check on the proxy's figures.
      const [roomsBefore, roomsAfter] = [createRoomOf(before), createRoomOf(after)];
      const histogramNote = `the service's own histogram of it: p50 ≤${quantileBetween(roomsBefore, roomsAfter, 0.5)} ms, p99 ≤${quantileBetween(roomsBefore, roomsAfter, 0.99)} ms`;
      const { createRoom, beyond } = inviteBeyondCreateRoom(rate, load.invites ?? [], calls, invite.errors, histogramNote);
      const aimed = rate === INVITE_AIM_RATE ? sqliteAim(b, beyond, `p99 ≤${INVITE_AIM_BEYOND_MS} ms`, `p99 ${ms(beyond.p99Ms)}`, beyond.p99Ms <= INVITE_AIM_BEYOND_MS && beyond.errors === 0) : beyond;
      b.results.push(invite, createRoom, aimed);
      await b.afterScenario(service, invite.id);
    });
  }
}

/**
 * Pairs each call's invite latency with the CreateRoom of its LiveKit room
 * (`scaiwave-<call_id>`) seen by the timing proxy, and returns two duration
 * rows: CreateRoom itself, and the invite latency minus it, call by call.
 */
function inviteBeyondCreateRoom(rate: number, invites: readonly InviteTiming[], calls: readonly LiveKitCall[], inviteErrors: number, histogramNote: string) {
  const createRooms = calls.filter((c) => c.path === CREATE_ROOM_PATH);
  const byRoom = new Map(createRooms.flatMap((c) => (c.roomName === undefined ? [] : [[c.roomName, c] as const])));
  const beyondMs: number[] = [];
  const pairedCreateRoomMs: number[] = [];
  for (const { callId, inviteMs } of invites) {
    const createRoom = byRoom.get(`scaiwave-${callId}`);
    if (!createRoom) continue;
    beyondMs.push(inviteMs - createRoom.upstreamMs);
    pairedCreateRoomMs.push(createRoom.upstreamMs);
  }
  const unpaired = invites.length - beyondMs.length;
  const failed = createRooms.filter((c) => c.status < 200 || c.status >= 300).length;
  const roomMs = sorted(createRooms.map((c) => c.upstreamMs));
  const hop = sorted(createRooms.map((c) => c.proxyMs));
  const diff = sorted(beyondMs);
  const createRoom: ScenarioResult = {
    id: `createroom-${rate}`,
    title: `  LiveKit CreateRoom of those initiates`,
    rate: NaN,
    unit: "ms",
    p50Ms: percentile(roomMs, 50),
    p99Ms: percentile(roomMs, 99),
    usage: NOT_METERED,
    requests: createRooms.length,
    errors: failed,
    note: `timed by the bench's proxy in front of livekit-server's API (request sent → whole answer back); ${histogramNote}`,
  };
  const paired = sorted(pairedCreateRoomMs);
  const beyond: ScenarioResult = {
    id: `invite-beyond-createroom-${rate}`,
    title: `  invite latency minus its CreateRoom`,
    rate: NaN,
    unit: "ms",
    p50Ms: percentile(diff, 50),
    p99Ms: percentile(diff, 99),
    usage: NOT_METERED,
    requests: beyondMs.length,
    errors: inviteErrors + unpaired,
    note: [
      `per call: its initiate → invite latency less its own CreateRoom, over ${beyondMs.length} paired calls (whose CreateRoom alone: p50 ${ms(percentile(paired, 50))}, p99 ${ms(percentile(paired, 99))})`,
      `includes the timing proxy's own time, p50 ${ms(percentile(hop, 50))}, p99 ${ms(percentile(hop, 99))} per CreateRoom`,
      unpaired ? `${unpaired} invites had no CreateRoom at the proxy` : "",
    ]
      .filter(Boolean)
      .join("; "),
  };
  return { createRoom, beyond };
}
