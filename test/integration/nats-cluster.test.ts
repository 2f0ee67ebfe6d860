import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { afterAll, describe, expect, it, vi } from "vitest";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { committedEvents, expectExactlyOnceInOrder } from "../support/event-checks.js";
import { startNatsCluster, type NatsCluster } from "../support/nats-cluster.js";
import { startNatsServer } from "../support/nats-server.js";
import { startService, testStoreEnv } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { readStream } from "../support/stream-reader.js";
import { userToken } from "../support/tokens.js";

/**
 * The service against a real 3-node NATS cluster with replicated streams: the
 * loss of a node, even the one leading the events stream, pauses publishing
 * while JetStream elects a new leader, and loses or doubles nothing.
 */

const livekit = sharedLiveKit();
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function storeEnv(): Promise<StoreEnv> {
  const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-nats-cluster-"));
  dirs.push(dir);
  return { DATABASE_PATH: join(dir, "calls.db"), ...(await testStoreEnv()) };
}

async function count(store: StoreEnv, where: string): Promise<number> {
  const [row] = await queryStore<{ n: number | string }>(store, `SELECT CAST(count(*) AS INTEGER) AS n FROM outbox WHERE ${where}`);
  return Number(row?.n ?? -1);
}

/** The longest stretch within (from, to] in which the relay had no acknowledgement from JetStream (ms). */
async function longestPublishGap(store: StoreEnv, from: number, to: number): Promise<number> {
  const rows = await queryStore<{ t: number | string }>(store, "SELECT DISTINCT sent_at AS t FROM outbox WHERE sent_at IS NOT NULL ORDER BY t");
  const marks = rows.map((r) => Number(r.t));
  let longest = 0;
  for (let i = 1; i < marks.length; i++) {
    if (marks[i]! > from && marks[i]! <= to) longest = Math.max(longest, marks[i]! - Math.max(marks[i - 1]!, from));
  }
  return longest;
}

/** The node whose /connz lists a client connection named `name` (undefined while it is reconnecting). */
async function nodeServing(cluster: NatsCluster, name: string): Promise<number | undefined> {
  for (const [i, monitor] of cluster.monitorUrls.entries()) {
    const connz = await fetch(`${monitor}/connz`, { signal: AbortSignal.timeout(2_000) })
      .then((res) => res.json() as Promise<{ connections?: { name?: string }[] }>)
      .catch(() => undefined); // a killed node
    if (connz?.connections?.some((c) => c.name === name)) return i;
  }
  return undefined;
}

describe("the service on a 3-node NATS cluster", () => {
  it("keeps both streams on 3 replicas; a SIGKILLed node (the stream leader, then the service's server) pauses publishing, loses and doubles nothing", async () => {
    await using cluster = await startNatsCluster({ nodes: 3 });
    const store = await storeEnv();
    await using service = await startService(livekit, { NATS_URL: cluster.urls.join(","), NATS_STREAM_REPLICAS: "3", ...store });
    const nc = await connect({ servers: [...cluster.urls], name: "test-operator", maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    try {
      // A short request timeout: stream info during the election answers late or not at all.
      const jsm = await nc.jetstreamManager({ timeout: 1_000 });
      await expect
        .poll(() => service.app.relay.publisherStatus().streamReady, { message: "the service created its streams", timeout: 60_000, interval: 50 })
        .toBe(true);
      for (const name of ["SWP_CALLS", "SWP_CALLS_JOBS"]) {
        const info = await jsm.streams.info(name);
        expect(info.config.num_replicas, name).toBe(3);
        expect(info.cluster?.replicas, name).toHaveLength(2);
      }

      // Four clients cycle calls through the REST API until told to stop.
      const api = restApi(service.baseUrl);
      const directory = directoryClient(service.baseUrl);
      const rooms = await Promise.all([0, 1, 2, 3].map(() => directory.room({ alice: 0, bob: 0 })));
      const alice = await userToken("alice");
      const bob = await userToken("bob");
      let loading = true;
      let cycles = 0;
      const load = Promise.all(
        rooms.map(async (roomId) => {
          while (loading) {
            const { call_id } = await api.initiate(alice, roomId, "audio");
            await api.join(bob, call_id);
            await api.leave(bob, call_id);
            await api.end(alice, call_id);
            cycles++;
          }
        }),
      );
      load.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
      // Events committed after `at` reach the stream (the relay marks an event sent on JetStream's ack only).
      const flowingAgain = (at: number, what: string) =>
        expect
          .poll(() => count(store, `created_at > ${at} AND sent_at IS NOT NULL`), { message: what, timeout: 120_000, interval: 50 })
          .toBeGreaterThanOrEqual(50);
      try {
        // Mid-load: events committed and relayed to the cluster.
        await expect.poll(() => cycles, { message: "calls completed before the kill", timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(20);
        await expect.poll(() => count(store, "sent_at IS NOT NULL"), { timeout: 60_000, interval: 20 }).toBeGreaterThan(0);

        // 1. The hardest node to lose: the events stream's leader.
        const leader = (await jsm.streams.info("SWP_CALLS")).cluster?.leader ?? "";
        const leaderNode = cluster.indexOf(leader);
        const leaderKilledAt = Date.now();
        await cluster.kill(leaderNode);
        const newLeader = async () => (await jsm.streams.info("SWP_CALLS").catch(() => undefined))?.cluster?.leader;
        await expect
          .poll(newLeader, { message: "a new events stream leader", timeout: 120_000, interval: 50 })
          .toSatisfy((name) => typeof name === "string" && name !== "" && name !== leader);
        const electedAfterMs = Date.now() - leaderKilledAt;
        await flowingAgain(leaderKilledAt, "events committed after the leader's kill, acknowledged by the cluster");

        // 2. Back to three nodes, then lose the one the service is connected to: it reconnects to another.
        await cluster.restart(leaderNode);
        const serving = await vi.waitFor(
          async () => {
            const node = await nodeServing(cluster, "scaiwave-calls");
            if (node === undefined) throw new Error("the service's NATS connection is on no node");
            return node;
          },
          { timeout: 30_000, interval: 50 },
        );
        const servingLedStream = (await jsm.streams.info("SWP_CALLS")).cluster?.leader === cluster.names[serving];
        const servingKilledAt = Date.now();
        await cluster.kill(serving);
        const reconnectedTo = await vi.waitFor(
          async () => {
            const node = await nodeServing(cluster, "scaiwave-calls");
            if (node === undefined) throw new Error("the service has not reconnected");
            return node;
          },
          { timeout: 60_000, interval: 50 },
        );
        expect(reconnectedTo).not.toBe(serving);
        await flowingAgain(servingKilledAt, "events committed after the service's server was killed, acknowledged by the cluster");
        const doneAt = Date.now();
        loading = false;
        await load;

        await expect.poll(() => count(store, "sent_at IS NULL"), { message: "unsent events in the outbox", timeout: 60_000, interval: 20 }).toBe(0);
        const survivor = cluster.urls[(serving + 1) % cluster.urls.length]!;
        const committed = await committedEvents(store);
        expectExactlyOnceInOrder(committed, await readStream(survivor, "SWP_CALLS"));

        const leaderPauseMs = await longestPublishGap(store, leaderKilledAt, servingKilledAt);
        const servingPauseMs = await longestPublishGap(store, servingKilledAt, doneAt);
        console.log(
          `nats-cluster: ${cycles} calls, ${committed.length} events; ` +
            `stream leader ${leader} killed: new leader known after ${electedAfterMs} ms, publishing paused ${leaderPauseMs} ms; ` +
            `service's server ${cluster.names[serving]} killed (${servingLedStream ? "" : "not "}the stream leader): ` +
            `reconnected to ${cluster.names[reconnectedTo]}, publishing paused ${servingPauseMs} ms`,
        );
      } finally {
        loading = false;
        await load.catch(() => undefined);
      }
    } finally {
      await nc.close();
    }
  }, 300_000);

  it("refuses 3 replicas on a lone server with JetStream's reason in /readyz; events wait in the outbox", async () => {
    await using nats = await startNatsServer();
    const store = await storeEnv();
    await using service = await startService(livekit, { NATS_URL: nats.url, NATS_STREAM_REPLICAS: "3", ...store });
    const api = restApi(service.baseUrl);
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const { call_id } = await api.initiate(await userToken("alice"), roomId, "audio");
    await api.end(await userToken("alice"), call_id);

    type Ready = { status: string; dependencies: { nats: { status: string; error?: string; outbox_pending: number } } };
    const readyz = async () => (await (await fetch(`${service.baseUrl}/readyz`)).json()) as Ready;
    await expect
      .poll(async () => (await readyz()).dependencies.nats.error, { timeout: 30_000, interval: 50 })
      .toBe("stream SWP_CALLS not ready: replicas > 1 not supported in non-clustered mode");
    const ready = await readyz();
    expect(ready.status).toBe("ready");
    expect(ready.dependencies.nats.status).toBe("failing");
    expect(ready.dependencies.nats.outbox_pending).toBe(await count(store, "sent_at IS NULL"));
    expect(ready.dependencies.nats.outbox_pending).toBeGreaterThan(0);
  });
});
