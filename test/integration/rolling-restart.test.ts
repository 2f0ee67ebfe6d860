import { describe, expect, it, vi } from "vitest";
import { ApiError, restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { committedEvents, expectExactlyOnceInOrder } from "../support/event-checks.js";
import { startNatsServer } from "../support/nats-server.js";
import { startServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { readStream } from "../support/stream-reader.js";
import { userToken } from "../support/tokens.js";

/**
 * A rolling deploy: each of three instances in turn gets SIGTERM under load,
 * exits cleanly, and comes back. Callers see answers or a refused connection
 * (which a load balancer sends elsewhere), never an error; the relay moves to
 * another instance and back; no acknowledged change and no event is lost.
 */

const livekit = sharedLiveKit();

/** A request that failed before the service answered (refused or closed connection): it was not acknowledged. */
function notAccepted(err: unknown): boolean {
  return err instanceof TypeError;
}

describe("a rolling restart of three instances under load", () => {
  it("answers every request it accepted, hands the relay over, and loses nothing", async () => {
    await using nats = await startNatsServer();
    const store: StoreEnv = { DATABASE_PATH: "", DATABASE_URL: await sharedPostgres().createDatabase() };
    await using cluster: ServiceCluster = await startServiceCluster({
      instances: 3,
      livekit,
      databaseUrl: store.DATABASE_URL!,
      natsUrl: nats.url,
    });
    await vi.waitFor(async () => expect(await cluster.relayHolder()).toBeDefined(), { timeout: 30_000 });

    const directory = directoryClient(cluster.instances[0]!.baseUrl);
    const [alice, bob] = await Promise.all([userToken("alice"), userToken("bob")]);
    const rooms = await Promise.all([0, 1, 2, 3].map(() => directory.room({ alice: 0, bob: 0 })));
    const ended = new Set<string>();
    const failures: string[] = [];
    let refused = 0;
    let cycles = 0;
    let stopping = false;
    let next = 0;
    // A load balancer's choice: the next instance in turn, whether or not it is going away.
    const anyInstance = () => restApi(cluster.instances[next++ % cluster.instances.length]!.baseUrl);

    const load = rooms.map(async (roomId) => {
      while (!stopping) {
        try {
          const { call_id } = await anyInstance().initiate(alice, roomId, "audio");
          await anyInstance().join(bob, call_id);
          const call = await anyInstance().end(alice, call_id);
          if (call.status === "ended") ended.add(call_id);
          cycles++;
        } catch (err) {
          if (notAccepted(err)) refused++;
          else failures.push(err instanceof ApiError ? err.message : String(err));
          // The cycle is abandoned: its call may stay live; the next initiate in the room joins it (glare).
        }
      }
    });
    const moreCycles = async (count: number) => {
      const target = cycles + count;
      await vi.waitFor(() => expect(cycles).toBeGreaterThanOrEqual(target), { timeout: 60_000, interval: 20 });
    };

    await moreCycles(10);
    const handovers: number[] = [];
    for (let index = 0; index < 3; index++) {
      const wasHolder = (await cluster.relayHolder()) === index;
      const stoppedAt = Date.now();
      expect(await cluster.terminate(index)).toBe(0);
      if (wasHolder) {
        await vi.waitFor(async () => expect(await cluster.relayHolder()).toBeDefined(), { timeout: 30_000, interval: 20 });
        handovers.push(Date.now() - stoppedAt);
      }
      await moreCycles(10);
      await cluster.restart(index);
      await moreCycles(10);
    }
    stopping = true;
    await Promise.all(load);

    expect(failures, "no request was answered with an error").toEqual([]);
    await vi.waitFor(
      async () => {
        const [row] = await queryStore<{ n: number }>(store, "SELECT CAST(count(*) AS INTEGER) AS n FROM outbox WHERE sent_at IS NULL");
        expect(row?.n).toBe(0);
      },
      { timeout: 30_000, interval: 50 },
    );
    const endedInStore = new Set(
      (await queryStore<{ id: string }>(store, "SELECT id FROM calls WHERE status = 'ended'")).map((r) => r.id),
    );
    expect([...ended].filter((id) => !endedInStore.has(id)), "every acknowledged end is stored").toEqual([]);
    expectExactlyOnceInOrder(await committedEvents(store), await readStream(nats.url, "SWP_CALLS"));
    console.log(
      `rolling restart: ${cycles} acknowledged cycles, ${refused} requests refused while an instance stopped, ` +
        `relay handed over in ${handovers.map((ms) => `${ms} ms`).join(", ") || "(holder never stopped)"}`,
    );
  });
});
