import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { spawnService } from "../support/service-process.js";
import { liveKitEnv, testStoreEnv } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { readStream } from "../support/stream-reader.js";
import { TEST_JWT_SECRET, userToken } from "../support/tokens.js";

/** SIGTERM under load: requests in flight are answered, the outbox is flushed to NATS, exit 0. */

const livekit = sharedLiveKit();
let nats: NatsServer;
let dir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-shutdown-"));
});

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("graceful shutdown", () => {
  it("answers the requests in flight, flushes every committed event to NATS, and exits 0", async () => {
    const store: StoreEnv = { DATABASE_PATH: join(dir, "calls.db"), ...(await testStoreEnv()) };
    const service = await spawnService({
      ...store,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      ...liveKitEnv(livekit),
      NATS_URL: nats.url,
      RATE_LIMIT_INITIATE_PER_MINUTE: "0",
      RATE_LIMIT_OTHER_PER_MINUTE: "0",
    });
    const directory = directoryClient(service.baseUrl);
    const rooms = await Promise.all(Array.from({ length: 20 }, () => directory.room({ alice: 0, bob: 0 })));
    const alice = await userToken("alice");
    const api = restApi(service.baseUrl);

    // 20 initiates in flight; SIGTERM as soon as the first has committed, while the rest are being handled.
    const inFlight = rooms.map((roomId) => api.initiate(alice, roomId, "audio"));
    const calls = async () => (await queryStore<{ n: number }>(store, "SELECT CAST(count(*) AS INTEGER) AS n FROM calls"))[0]?.n ?? 0;
    // SIGTERM only once something is committed, or the test would not test a shutdown under load.
    await expect.poll(calls, { timeout: 20_000, interval: 2 }).toBeGreaterThan(0);
    service.child.kill("SIGTERM");
    const results = await Promise.allSettled(inFlight);
    expect(await service.exited).toBe(0);

    // Every request that reached the service got a whole answer; none was cut off.
    const answered = results.filter((r) => r.status === "fulfilled").length;
    expect(answered).toBeGreaterThan(0);
    for (const r of results) if (r.status === "rejected") expect(String(r.reason)).toMatch(/fetch failed|ECONNREFUSED/);

    // Nothing committed was left behind in the outbox: it is all in the stream.
    expect(await queryStore(store, "SELECT CAST(count(*) AS INTEGER) AS n FROM outbox WHERE sent_at IS NULL")).toEqual([{ n: 0 }]);
    const committed = (await queryStore<{ id: string }>(store, "SELECT id FROM outbox ORDER BY seq")).map((r) => r.id);
    expect(committed.length).toBeGreaterThanOrEqual(answered * 3);
    const stream = (await readStream(nats.url, "SWP_CALLS")).map((e) => e.msgId);
    expect(stream).toEqual(committed);
  });
});
