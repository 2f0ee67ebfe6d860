import { connect, StorageType } from "nats";
import { describe, expect, it } from "vitest";
import { startNatsCluster } from "../support/nats-cluster.js";

// The fixture itself: three real nats-server nodes forming one JetStream
// cluster, whose replicated stream outlives a SIGKILLed leader.

describe("startNatsCluster", () => {
  it("runs a JetStream cluster: a 3-replica stream keeps every message when its leader is killed, and the node rejoins", async () => {
    await using cluster = await startNatsCluster({ nodes: 3 });
    expect(cluster.urls).toHaveLength(3);
    const nc = await connect({ servers: [...cluster.urls], name: "test-cluster-fixture", maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3, storage: StorageType.File });
      const js = nc.jetstream();
      for (let i = 0; i < 10; i++) await js.publish("r3.m", `m${i}`, { msgID: `m${i}` });

      const before = await jsm.streams.info("R3");
      expect(before.config.num_replicas).toBe(3);
      expect(before.cluster?.replicas?.map((r) => r.name).sort()).toEqual(cluster.names.filter((n) => n !== before.cluster?.leader).sort());
      const killed = before.cluster?.leader ?? "";
      await cluster.kill(cluster.indexOf(killed));

      // The survivors elect a new leader, which takes publishes (a retry after a timeout is deduplicated by its id).
      const publishedAfter = async () =>
        js.publish("r3.m", "after", { msgID: "after", timeout: 2_000 }).then(
          () => true,
          () => false,
        );
      await expect.poll(publishedAfter, { timeout: 60_000, interval: 100 }).toBe(true);
      const after = await jsm.streams.info("R3");
      expect(after.cluster?.leader).not.toBe(killed);
      expect(after.state.messages).toBe(11);
      const bodies: string[] = [];
      for (let seq = 1; seq <= 11; seq++) bodies.push((await jsm.streams.getMessage("R3", { seq })).string());
      expect(bodies).toEqual([...Array.from({ length: 10 }, (_, i) => `m${i}`), "after"]);

      // Back on its ports and store, the node catches up: every replica current again.
      await cluster.restart(cluster.indexOf(killed));
      await expect
        .poll(async () => (await jsm.streams.info("R3")).cluster?.replicas?.filter((r) => r.current && !r.offline).length, {
          timeout: 60_000,
          interval: 100,
        })
        .toBe(2);
      expect((await jsm.streams.info("R3")).state.messages).toBe(11);
    } finally {
      await nc.close();
    }
  }, 180_000);
});
