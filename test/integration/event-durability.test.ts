import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { liveKitEnv, startService, testStoreEnv, type RunningService } from "../support/service.js";
import { spawnService } from "../support/service-process.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { committedEvents, expectExactlyOnceInOrder } from "../support/event-checks.js";
import { readStream } from "../support/stream-reader.js";
import { TEST_JWT_SECRET, userToken } from "../support/tokens.js";

/**
 * Nothing lost, nothing doubled: every event of a committed change ends up in
 * the JetStream stream exactly once, in commit order, whatever happens to
 * NATS or to the service in between.
 */

const livekit = sharedLiveKit();
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function unsentCount(store: StoreEnv): Promise<number> {
  const [row] = await queryStore<{ n: number }>(store, "SELECT CAST(count(*) AS INTEGER) AS n FROM outbox WHERE sent_at IS NULL");
  return row?.n ?? -1;
}

describe("events survive NATS outages and service crashes", () => {
  it("calls made while NATS is down: their events wait in the outbox and arrive once, in order", async () => {
    const nats: NatsServer = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-outage-"));
    dirs.push(dir);
    const store: StoreEnv = { DATABASE_PATH: join(dir, "calls.db"), ...(await testStoreEnv()) };
    const service: RunningService = await startService(livekit, { NATS_URL: nats.url, ...store });
    try {
      const api = restApi(service.baseUrl);
      const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
      const alice = await userToken("alice");
      const bob = await userToken("bob");
      const tap = await EventTap.start(nats.url);
      const before = await api.initiate(alice, roomId, "audio");
      await api.join(bob, before.call_id);
      await tap.settle(service);
      await tap.close();

      await nats.halt();
      // The service keeps working; its events queue up.
      await api.end(alice, before.call_id);
      const during: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { call_id } = await api.initiate(alice, roomId, "video");
        await api.join(bob, call_id);
        await api.leave(alice, call_id);
        await api.leave(bob, call_id);
        during.push(call_id);
      }
      const ready = (await (await fetch(`${service.baseUrl}/readyz`)).json()) as {
        status: string;
        dependencies: { nats: { status: string; outbox_pending: number } };
      };
      expect(ready.status).toBe("ready");
      expect(ready.dependencies.nats.status).toBe("failing");
      expect(ready.dependencies.nats.outbox_pending).toBeGreaterThan(5 * 6);

      await nats.resume();
      const tapAfter = await EventTap.start(nats.url);
      await tapAfter.settle(service);
      await tapAfter.close();

      const stream = await readStream(nats.url, "SWP_CALLS");
      expectExactlyOnceInOrder(await committedEvents(store), stream);
      expect(new Set(stream.map((e) => e.callId))).toEqual(new Set([before.call_id, ...during]));
    } finally {
      await service.stop();
      await nats.stop();
    }
  });

  it("SIGKILL mid-traffic, restart on the same database: every committed event in the stream exactly once", async () => {
    const nats = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-crash-"));
    dirs.push(dir);
    const store: StoreEnv = { DATABASE_PATH: join(dir, "calls.db"), ...(await testStoreEnv()) };
    const env = {
      ...store,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      ...liveKitEnv(livekit),
      NATS_URL: nats.url,
      RATE_LIMIT_INITIATE_PER_MINUTE: "0",
      RATE_LIMIT_OTHER_PER_MINUTE: "0",
    };
    try {
      const first = await spawnService(env);
      const directory = directoryClient(first.baseUrl);
      const rooms = await Promise.all([0, 1, 2, 3].map(() => directory.room({ alice: 0, bob: 0 })));
      const alice = await userToken("alice");
      const bob = await userToken("bob");

      // Four clients cycle calls until the process dies under them.
      let completedCycles = 0;
      let fortyDone!: () => void;
      const forty = new Promise<void>((resolve) => (fortyDone = resolve));
      const traffic = rooms.map(async (roomId) => {
        const api = restApi(first.baseUrl);
        for (;;) {
          try {
            const { call_id } = await api.initiate(alice, roomId, "audio");
            await api.join(bob, call_id);
            await api.end(alice, call_id);
            if (++completedCycles === 40) fortyDone();
          } catch {
            return; // the process is gone
          }
        }
      });
      // Kill once real traffic has flowed (events committed and partly relayed).
      await Promise.race([forty, Promise.all(traffic)]);
      expect(completedCycles, "calls completed before the kill").toBeGreaterThanOrEqual(40);
      first.child.kill("SIGKILL");
      await Promise.all(traffic);
      expect(await first.exited).toBe("SIGKILL");

      const second = await spawnService(env);
      try {
        // The restarted relay publishes what the dead one left behind.
        await expect.poll(() => unsentCount(store), { timeout: 20_000, interval: 20 }).toBe(0);
        const committed = await committedEvents(store);
        expect(committed.length).toBeGreaterThanOrEqual(40 * 7);
        expectExactlyOnceInOrder(committed, await readStream(nats.url, "SWP_CALLS"));
      } finally {
        second.child.kill("SIGTERM");
        expect(await second.exited).toBe(0);
      }
    } finally {
      await nats.stop();
    }
  });
});
