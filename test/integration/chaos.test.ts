import { connect, type JetStreamManager, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { restApi } from "../support/clients.js";
import { startClusterLoad, type Ack, type LoadRecord } from "../support/cluster-load.js";
import { directoryClient } from "../support/directory.js";
import { committedEvents, expectExactlyOnceInOrder } from "../support/event-checks.js";
import { startNatsCluster, type NatsCluster } from "../support/nats-cluster.js";
import { relayRole, startServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { readStream } from "../support/stream-reader.js";
import { userToken } from "../support/tokens.js";

/**
 * Chaos on a cluster, with real everything: three instances of the service on
 * one PostgreSQL database and a 3-node NATS cluster (events stream on 3
 * replicas), under a mixed load spread over all three instances. Mid-load the
 * instance relaying the outbox is SIGKILLed, with calls ringing that it
 * started, and then the NATS node leading the events stream. Nothing
 * acknowledged is lost, nothing is done twice, another instance takes over the
 * relay, and the dead instance's ringing calls still end on time.
 */

// Long enough that the relay holder is surely killed before its ringing calls are due, even on a loaded machine.
const RING_TIMEOUT_SECONDS = 8;
/** How far from RING_TIMEOUT_SECONDS an unanswered call may end: the survivors look for due calls every second. */
const RING_TOLERANCE_MS = 2_000;
const CLIENTS = 6;
/** Changes acknowledged before the kills, and after the NATS node's: the load is a count, not a duration. */
const ACKS_BEFORE_KILLS = 80;
const ACKS_AFTER_KILLS = 80;
const RINGING_CALLS = 4;
const STREAM = "SWP_CALLS";
/** Hang bounds only: nothing here waits for them to pass. */
const HANG_MS = 120_000;
const POLL = { timeout: HANG_MS, interval: 20 } as const;

const livekit = sharedLiveKit();
let nats: NatsCluster;
let cluster: ServiceCluster;
let database: StoreEnv;
let operator: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  database = { DATABASE_PATH: "", DATABASE_URL: await sharedPostgres().createDatabase() };
  nats = await startNatsCluster({ nodes: 3 });
  cluster = await startServiceCluster({
    instances: 3,
    livekit,
    databaseUrl: database.DATABASE_URL!,
    natsUrl: nats.urls.join(","),
    env: {
      NATS_STREAM_REPLICAS: "3",
      RING_TIMEOUT_SECONDS: String(RING_TIMEOUT_SECONDS),
      // No reconciliation: nobody's media really connects here, and every change must come from a client or a timer.
      RECONCILE_INTERVAL_SECONDS: "0",
    },
  });
  operator = await connect({ servers: [...nats.urls], name: "test-operator", maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  // Short: stream info during a leader election answers late or not at all; the polls ask again.
  jsm = await operator.jetstreamManager({ timeout: 1_000 });
}, HANG_MS);

afterAll(async () => {
  await operator?.close();
  await cluster?.stop();
  await nats?.stop();
});

/** The events stream's last sequence and leader, or undefined while it does not answer (an election). */
async function streamState(): Promise<{ lastSeq: number; leader: string | undefined } | undefined> {
  const info = await jsm.streams.info(STREAM).catch(() => undefined);
  return info && { lastSeq: info.state.last_seq, leader: info.cluster?.leader };
}

/** The `n` a counting query selects. */
async function count(sql: string): Promise<number> {
  const [row] = await queryStore<{ n: number | string }>(database, sql);
  return Number(row?.n ?? -1);
}

/** Rooms with more than one live call, now (there must never be any). */
async function roomsWithTwoLiveCalls(): Promise<string[]> {
  const rows = await queryStore<{ room_id: string }>(
    database,
    "SELECT room_id FROM calls WHERE status <> 'ended' GROUP BY tenant_id, room_id HAVING count(*) > 1",
  );
  return rows.map((r) => r.room_id);
}

interface StoredCall {
  readonly id: string;
  readonly room_id: string;
  readonly status: string;
  readonly end_reason: string | null;
  readonly started_at: number;
  readonly ended_at: number | null;
}

async function storedCalls(): Promise<Map<string, StoredCall>> {
  const rows = await queryStore<{ id: string; room_id: string; status: string; end_reason: string | null; started_at: string; ended_at: string | null }>(
    database,
    "SELECT id, room_id, status, end_reason, started_at, ended_at FROM calls",
  );
  return new Map(
    rows.map((r) => [r.id, { ...r, started_at: Number(r.started_at), ended_at: r.ended_at === null ? null : Number(r.ended_at) }]),
  );
}

/** A committed event, as its outbox row carries it. */
interface CommittedEvent {
  readonly id: string;
  readonly type: string;
  readonly callId: string;
  /** participant_id, user_id or end_reason. */
  readonly detail: string | undefined;
}

async function committedPayloads(): Promise<Map<string, CommittedEvent>> {
  const rows = await queryStore<{ id: string; payload: string }>(database, "SELECT id, payload FROM outbox ORDER BY seq");
  return new Map(
    rows.map((r) => {
      const e = JSON.parse(r.payload) as { type: string; call_id: string; data: Record<string, unknown> };
      const detail = e.data["participant_id"] ?? e.data["user_id"] ?? e.data["end_reason"];
      return [r.id, { id: r.id, type: e.type, callId: e.call_id, detail: typeof detail === "string" ? detail : undefined }];
    }),
  );
}

const millis = (ms: number) => `${Math.round(ms)} ms`;

describe("chaos: a 3-instance cluster on PostgreSQL and a 3-node NATS cluster", () => {
  it("loses the relay holder and the stream leader mid-load: nothing acknowledged lost, nothing doubled, ring timeouts on time", async () => {
    const directory = directoryClient(cluster.instances[0]!.baseUrl);
    const hour = { expiresInSeconds: 3_600 };
    const tokens = {
      alice: await userToken("alice", "acme", hour),
      bob: await userToken("bob", "acme", hour),
      carol: await userToken("carol", "acme", hour),
    };
    // alice may end any call (moderator), also one bob won in a glare.
    const rooms = await Promise.all(Array.from({ length: CLIENTS }, () => directory.room({ alice: 50, bob: 0, carol: 0 })));
    const ringRooms = await Promise.all(Array.from({ length: RINGING_CALLS }, () => directory.room({ alice: 0, dave: 0 })));

    await expect.poll(async () => (await streamState())?.lastSeq, { ...POLL, message: "the services created the events stream" }).toBeDefined();
    const streamInfo = await jsm.streams.info(STREAM);
    expect(streamInfo.config.num_replicas).toBe(3);

    const load = startClusterLoad({ cluster, rooms, tokens, liveKit: livekit, requestTimeoutMs: HANG_MS });
    let loadStopped = false;
    try {
      // ---- Mid-load: events committed on every instance and relayed.
      await expect.poll(() => load.acknowledged(), { ...POLL, message: "changes acknowledged before the kills" }).toBeGreaterThanOrEqual(ACKS_BEFORE_KILLS);
      await expect.poll(async () => (await streamState())?.lastSeq ?? 0, POLL).toBeGreaterThan(0);
      const victim = await vi.waitFor(async () => {
        const holder = await cluster.relayHolder();
        if (holder === undefined) throw new Error("no instance publishes the outbox");
        return holder;
      }, POLL);

      // ---- Calls nobody answers, started on the instance about to die (its timer armed for them).
      const holderApi = restApi(cluster.instances[victim]!.baseUrl);
      const ringing = await Promise.all(ringRooms.map(async (roomId) => (await holderApi.initiate(tokens.alice, roomId, "audio")).call_id));

      // ---- SIGKILL the relay holder.
      const sigkillAt = Date.now();
      await cluster.kill(victim);
      const seqAtDeath = (await streamState())?.lastSeq ?? 0;
      const [publishingAfter, firstEventAfter] = await Promise.all([
        expect
          .poll(() => cluster.relayHolder(), { ...POLL, message: "another instance took over the relay" })
          .toSatisfy((i) => i !== undefined && i !== victim)
          .then(() => Date.now() - sigkillAt),
        expect
          .poll(async () => (await streamState())?.lastSeq ?? 0, { ...POLL, message: "a new event reached the stream" })
          .toBeGreaterThan(seqAtDeath)
          .then(() => Date.now() - sigkillAt),
      ]);
      const newHolder = (await cluster.relayHolder())!;
      expect(await roomsWithTwoLiveCalls(), "rooms with two live calls").toEqual([]);

      // ---- SIGKILL the NATS node leading the events stream.
      const before = await vi.waitFor(async () => {
        const state = await streamState();
        if (state?.leader === undefined) throw new Error("the events stream has no leader");
        return { ...state, leader: state.leader };
      }, POLL);
      const leader = before.leader;
      const acksAtNatsKill = load.acknowledged();
      const natsKilledAt = Date.now();
      await nats.kill(nats.indexOf(leader));
      const [newLeaderAfter, eventsResumedAfter] = await Promise.all([
        expect
          .poll(async () => (await streamState())?.leader, { ...POLL, message: "a new events stream leader" })
          .toSatisfy((name) => name !== undefined && name !== leader)
          .then(() => Date.now() - natsKilledAt),
        expect
          .poll(async () => (await streamState())?.lastSeq ?? 0, { ...POLL, message: "events reaching the stream again" })
          .toBeGreaterThan(before.lastSeq)
          .then(() => Date.now() - natsKilledAt),
      ]);
      expect(await roomsWithTwoLiveCalls(), "rooms with two live calls").toEqual([]);

      await expect
        .poll(() => load.acknowledged() - acksAtNatsKill, { ...POLL, message: "changes acknowledged after the kills" })
        .toBeGreaterThanOrEqual(ACKS_AFTER_KILLS);
      loadStopped = true;
      await load.stop();
      const record = load.record;

      // ---- Every answer was a success, or a refusal the scenarios allow; connections broke only on the dead instance.
      expect(record.unexpected, "answers no scenario allows").toEqual([]);
      expect(
        record.connectionFailures.filter((f) => f.instance !== victim),
        "connection errors from instances that were running",
      ).toEqual([]);

      // ---- The dead instance's ringing calls ended as no_answer, on time, by a survivor.
      await expect
        .poll(async () => count(`SELECT count(*) AS n FROM calls WHERE status <> 'ended'`), { ...POLL, message: "calls still live" })
        .toBe(0);
      const calls = await storedCalls();
      const ringErrors = ringing.map((id) => {
        const call = calls.get(id)!;
        expect(call, id).toMatchObject({ status: "ended", end_reason: "no_answer" });
        return call.ended_at! - call.started_at - RING_TIMEOUT_SECONDS * 1000;
      });
      // Meaningful only if the dead instance could not have ended them itself: it died before their deadline.
      expect(sigkillAt, "SIGKILL before the ringing calls' deadline").toBeLessThan(Math.min(...ringing.map((id) => calls.get(id)!.started_at)) + RING_TIMEOUT_SECONDS * 1000);
      for (const error of ringErrors) expect(Math.abs(error)).toBeLessThanOrEqual(RING_TOLERANCE_MS);

      // ---- The stream holds every committed event exactly once, per call in commit order.
      await expect.poll(() => count("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL"), { ...POLL, message: "unsent events" }).toBe(0);
      const liveNode = nats.urls.find((_, i) => nats.names[i] !== leader)!;
      const stream = await readStream(liveNode, STREAM);
      const committed = await committedEvents(database);
      expectExactlyOnceInOrder(committed, stream);

      // Every call ended exactly once: one swp.call.ended in the stream.
      const events = await committedPayloads();
      const streamed = stream.map((s) => events.get(s.msgId)!);
      const endedEvents = countBy(streamed.filter((e) => e.type === "swp.call.ended").map((e) => e.callId));
      for (const id of calls.keys()) expect(endedEvents.get(id) ?? 0, `swp.call.ended events of ${id}`).toBe(1);

      checkAcknowledged(record, calls, streamed);

      // ---- One publisher again: the new holder, the other survivor on standby.
      const roles = await Promise.all(cluster.live().map((i) => relayRole(i.baseUrl)));
      expect(roles.sort()).toEqual(["publishing", "standby"]);

      printFigures({
        record,
        victim,
        newHolder,
        events: stream.length,
        publishingAfter,
        firstEventAfter,
        leader,
        newLeaderAfter,
        eventsResumedAfter,
        ringErrors,
      });
    } finally {
      if (!loadStopped) await load.stop().catch(() => undefined);
    }
  }, 2 * HANG_MS + 120_000);
});

function countBy<T>(items: readonly T[]): Map<T, number> {
  const out = new Map<T, number>();
  for (const item of items) out.set(item, (out.get(item) ?? 0) + 1);
  return out;
}

/** Every acknowledged change is in the store and among the events, consistently. */
function checkAcknowledged(record: LoadRecord, calls: ReadonlyMap<string, StoredCall>, events: readonly { type: string; callId: string; detail: string | undefined }[]): void {
  const has = (callId: string, type: string, detail?: string) =>
    events.some((e) => e.callId === callId && e.type === type && (detail === undefined || e.detail === detail));
  const eventCount = (callId: string, type: string, detail: string) =>
    events.filter((e) => e.callId === callId && e.type === type && e.detail === detail).length;
  const byCall = new Map<string, Ack[]>();
  for (const ack of record.acks) byCall.set(ack.callId, [...(byCall.get(ack.callId) ?? []), ack]);

  for (const ack of record.acks) {
    const call = calls.get(ack.callId);
    const what = `${ack.kind} by ${ack.userId} of ${ack.callId}`;
    expect(call, `${what}: acknowledged, but the call is not stored`).toBeDefined();
    expect(call!.room_id, what).toBe(ack.roomId);
    switch (ack.kind) {
      case "initiate":
        expect(has(ack.callId, "swp.call.started"), `${what}: no swp.call.started`).toBe(true);
        break;
      case "join":
        expect(has(ack.callId, "swp.call.participant_joined", ack.userId), `${what}: no participant_joined`).toBe(true);
        break;
      case "leave":
        expect(has(ack.callId, "swp.call.participant_left", ack.userId), `${what}: no participant_left`).toBe(true);
        break;
      case "reject":
        expect(has(ack.callId, "swp.call.rejected", ack.userId), `${what}: no swp.call.rejected`).toBe(true);
        break;
      case "end":
        expect(call, `${what}: acknowledged end`).toMatchObject({ status: "ended", end_reason: "ended" });
        expect(has(ack.callId, "swp.call.ended", "ended"), `${what}: no swp.call.ended(ended)`).toBe(true);
        break;
      case "webhook":
        break;
    }
    // An answer that showed the call ended: the store says the same, forever after.
    if (ack.call?.status === "ended") expect(call, `${what}: answered ended (${ack.call.end_reason})`).toMatchObject({ status: "ended", end_reason: ack.call.end_reason });
  }

  // Every call in the clients' rooms ended because someone was answered so (an acknowledged end, or a leave or reject
  // whose answer showed it ended), nobody answered in time, or a request cut off by the dying instance may have ended it.
  const endedBy = new Map<string, Ack>();
  for (const ack of record.acks) {
    if ((ack.kind === "end" || ack.call?.status === "ended") && !endedBy.has(ack.callId)) endedBy.set(ack.callId, ack);
  }
  const cutOff = new Set(record.refusals.filter((r) => r.afterConnectionError).map((r) => r.callId));
  for (const id of byCall.keys()) {
    const call = calls.get(id)!;
    expect(endedBy.has(id) || cutOff.has(id) || call.end_reason === "no_answer", `${id} ended (${call.end_reason}) but nobody was told so`).toBe(true);
  }

  // A join acknowledged: the participant is still there, or a later acknowledged leave or end explains why not.
  // Every call has ended by now (which empties it), so the explanation is the later leave or the end.
  for (const acks of byCall.values()) {
    for (const join of acks.filter((a) => a.kind === "join")) {
      const leftLater = acks.some((a) => a.order > join.order && a.kind === "leave" && a.userId === join.userId);
      const endedLater = (endedBy.get(join.callId)?.order ?? -1) > join.order || cutOff.has(join.callId);
      expect(leftLater || endedLater, `join of ${join.userId} to ${join.callId}: gone, and nothing acknowledged explains it`).toBe(true);
    }
  }

  // A refusal (the call had ended) is explained by a ring timeout, or by an earlier attempt that was cut off.
  for (const refusal of record.refusals) {
    const call = calls.get(refusal.callId);
    const explained = refusal.afterConnectionError || call?.end_reason === "no_answer";
    expect(explained, `${refusal.kind} of ${refusal.callId} refused with ${refusal.code} (call ${JSON.stringify(call)})`).toBe(true);
  }

  // Glare: two concurrent initiates on two instances made one call.
  for (const glare of record.glares) expect(new Set(glare.callIds).size, `glare in ${glare.roomId}: ${glare.callIds.join(", ")}`).toBe(1);
  // No call but the acknowledged ones in the clients' rooms (a glare that made two would show here).
  const acknowledgedIds = new Set(record.acks.map((a) => a.callId));
  const loadRooms = new Set(record.acks.map((a) => a.roomId));
  const unacknowledged = [...calls.values()].filter((c) => loadRooms.has(c.room_id) && !acknowledgedIds.has(c.id));
  expect(unacknowledged, "calls in the clients' rooms that no answer acknowledged").toEqual([]);

  // A webhook delivered to two instances at once is processed once: one answer "processed", the other "duplicate",
  // and one change, one event.
  for (const d of record.doubleDeliveries) {
    expect(d.outcomes.filter((o) => o === "processed").length, `webhook ${d.id}: processed`).toBeLessThanOrEqual(1);
    if (d.outcomes.length === 2) expect([...d.outcomes].sort(), `webhook ${d.id}`).toEqual(["duplicate", "processed"]);
    const call = calls.get(d.callId)!;
    // Unless the call had already ended (a ring timeout), bob's media joined and left once each.
    if (call.end_reason !== "no_answer") {
      const type = d.event === "participant_joined" ? "swp.call.participant_joined" : "swp.call.participant_left";
      expect(eventCount(d.callId, type, "bob"), `${type}(bob) events of ${d.callId}`).toBe(1);
    }
  }
}

interface Figures {
  readonly record: LoadRecord;
  readonly victim: number;
  readonly newHolder: number;
  readonly events: number;
  readonly publishingAfter: number;
  readonly firstEventAfter: number;
  readonly leader: string;
  readonly newLeaderAfter: number;
  readonly eventsResumedAfter: number;
  readonly ringErrors: readonly number[];
}

function printFigures(f: Figures): void {
  const acks = countBy(f.record.acks.map((a) => (a.webhook ? `webhook (${a.webhook.outcome})` : a.kind)));
  const refused = countBy(f.record.refusals.map((r) => `${r.kind} ${r.code}`));
  const rows: [string, string][] = [
    ...[...acks].map(([kind, n]): [string, string] => [`acknowledged ${kind}`, String(n)]),
    ["acknowledged, all", String(f.record.acks.length)],
    ["glares (one call each)", String(f.record.glares.length)],
    ...[...refused].map(([what, n]): [string, string] => [`refused ${what}`, String(n)]),
    [`connection errors (instance ${f.victim}, killed)`, String(f.record.connectionFailures.length)],
    ["events in the stream", String(f.events)],
    [`relay takeover: SIGKILL → instance ${f.newHolder} says publishing`, millis(f.publishingAfter)],
    ["relay takeover: SIGKILL → first new event in the stream", millis(f.firstEventAfter)],
    [`NATS stream leader ${f.leader} SIGKILLed → a new leader answers`, millis(f.newLeaderAfter)],
    [`NATS stream leader ${f.leader} SIGKILLed → a new event in the stream`, millis(f.eventsResumedAfter)],
    [
      `ring timeout of the dead instance's ${f.ringErrors.length} calls, error`,
      `${millis(Math.min(...f.ringErrors))} … ${millis(Math.max(...f.ringErrors))}`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(["chaos figures:", ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join("\n"));
}
