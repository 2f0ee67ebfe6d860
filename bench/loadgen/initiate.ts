// A load generator for the scenarios wrk and ghz cannot express: requests that
// depend on the previous response (initiate, then end that call) and an
// open-loop fixed rate timed against a NATS subscriber. Runs in its own
// process; reads its job from the JSON file named by argv[2] and prints one
// line "LOADGEN_RESULT {json}".
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, type NatsConnection } from "nats";
import { percentile } from "./percentile.js";

export interface LoadgenRoom {
  readonly roomId: string;
  readonly authorization: string;
}

export type LoadgenJob =
  | { readonly mode: "cycles"; readonly baseUrl: string; readonly rooms: LoadgenRoom[]; readonly concurrency: number; readonly seconds: number }
  | { readonly mode: "invites"; readonly baseUrl: string; readonly natsUrl: string; readonly rooms: LoadgenRoom[]; readonly rate: number; readonly seconds: number }
  | { readonly mode: "live"; readonly baseUrl: string; readonly rooms: LoadgenRoom[]; readonly concurrency: number };

export interface LoadgenResult {
  readonly completed: number;
  readonly errors: number;
  readonly seconds: number;
  /** Milliseconds, sorted ascending: per cycle, or initiate→invite. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly firstError?: string;
  /** invites mode: initiates sent, and invites that never arrived. */
  readonly sent?: number;
  readonly missing?: number;
  /** invites mode: each call whose invite arrived, with its initiate → invite latency (for pairing with the call's CreateRoom). */
  readonly invites?: InviteTiming[];
}

export interface InviteTiming {
  readonly callId: string;
  readonly inviteMs: number;
}

const job = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as LoadgenJob;
const agent = new Agent({ keepAlive: true, maxSockets: "concurrency" in job ? job.concurrency : 64 });
let errors = 0;
let firstError: string | undefined;

function post(path: string, authorization: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  const url = new URL(path, job.baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { authorization, "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || "{}") as Record<string, unknown> }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function failed(what: string): void {
  errors++;
  firstError ??= what;
}

async function initiate(room: LoadgenRoom): Promise<string | undefined> {
  try {
    const { status, json } = await post("/v1/calls/initiate", room.authorization, { room_id: room.roomId, type: "audio" });
    // REST answers {"data": <the response message>}.
    const callId = (json["data"] as { call_id?: unknown } | undefined)?.call_id;
    if (status === 200 && typeof callId === "string") return callId;
    failed(`initiate ${status} ${JSON.stringify(json)}`);
  } catch (err) {
    failed(`initiate: ${String(err)}`);
  }
  return undefined;
}


/** Closed loop: each worker owns every concurrency-th room and initiates then ends a call in it, over and over. */
async function cycles(j: Extract<LoadgenJob, { mode: "cycles" }>): Promise<LoadgenResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + j.seconds * 1000;
  const worker = async (w: number) => {
    for (let i = w; performance.now() < deadline; i += j.concurrency) {
      const room = j.rooms[i % j.rooms.length]!;
      const t0 = performance.now();
      const callId = await initiate(room);
      if (!callId) continue;
      const { status, json } = await post(`/v1/calls/${callId}/end`, room.authorization, {}).catch((err: unknown) => ({ status: 0, json: { error: String(err) } }));
      if (status !== 200) {
        failed(`end ${status} ${JSON.stringify(json)}`);
        continue;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: j.concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { completed: latencies.length, errors, seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), firstError };
}

/**
 * Open loop at a fixed offered rate (a late response never delays the next
 * request), timing each initiate to the `swp.call.invite` a subscriber
 * receives for that room. Every room is used once, so the room names the call.
 */
async function invites(j: Extract<LoadgenJob, { mode: "invites" }>): Promise<LoadgenResult> {
  const nats: NatsConnection = await connect({ servers: j.natsUrl });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  // By room (each used once): the invite's latency, and the call the initiate answered with.
  const inviteMsOf = new Map<string, number>();
  const callIdOf = new Map<string, string>();
  const subscription = nats.subscribe("swp.user.*.call");
  void (async () => {
    for await (const message of subscription) {
      const envelope = message.json<{ type: string; room_id: string }>();
      const t0 = sentAt.get(envelope.room_id);
      if (envelope.type === "swp.call.invite" && t0 !== undefined) {
        const ms = performance.now() - t0;
        latencies.push(ms);
        inviteMsOf.set(envelope.room_id, ms);
        sentAt.delete(envelope.room_id);
      }
    }
  })();
  await nats.flush();
  const total = Math.min(j.rooms.length, Math.round(j.rate * j.seconds));
  const intervalMs = 1000 / j.rate;
  const started = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const room = j.rooms[i]!;
    sentAt.set(room.roomId, performance.now());
    inFlight.push(
      initiate(room).then((callId) => {
        if (callId) callIdOf.set(room.roomId, callId);
      }),
    );
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  // Invites still on their way: wait for the outbox to drain, at most 10 s.
  const settleBy = performance.now() + 10_000;
  while (latencies.length < total - errors && performance.now() < settleBy) await new Promise((r) => setTimeout(r, 20));
  await nats.drain();
  latencies.sort((a, b) => a - b);
  const timings = [...inviteMsOf].flatMap(([roomId, inviteMs]) => {
    const callId = callIdOf.get(roomId);
    return callId ? [{ callId, inviteMs }] : [];
  });
  return {
    completed: latencies.length,
    errors,
    seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    firstError,
    sent: total,
    missing: total - errors - latencies.length,
    invites: timings,
  };
}

/** Starts a call in every room (concurrency at a time) and leaves them live. */
async function live(j: Extract<LoadgenJob, { mode: "live" }>): Promise<LoadgenResult> {
  const latencies: number[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < j.rooms.length) {
      const room = j.rooms[next++]!;
      const t0 = performance.now();
      if (await initiate(room)) latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: j.concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return { completed: latencies.length, errors, seconds: (performance.now() - started) / 1000, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), firstError };
}

const result = job.mode === "cycles" ? await cycles(job) : job.mode === "invites" ? await invites(job) : await live(job);
agent.destroy();
console.log(`LOADGEN_RESULT ${JSON.stringify(result)}`);
