import { describe, expect, it, vi } from "vitest";
import { LiveKitRoomService } from "../../src/adapters/livekit/rooms.js";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { committedEvents, expectExactlyOnceInOrder } from "../support/event-checks.js";
import { startNatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { readStream } from "../support/stream-reader.js";
import { userToken } from "../support/tokens.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";

/**
 * Instances on one PostgreSQL serve one API: a call started on one is joined
 * and ended through the others, glare across instances yields one call, a
 * webhook delivered to two instances is applied once, one instance publishes
 * the events, periodic work runs once per interval for the cluster, and a
 * call keeps its ring deadline when the instance that started it is gone.
 */

const livekit = sharedLiveKit();

async function cluster(count: number, env: Record<string, string> = {}, listRoomNamesCalls?: number[]) {
  const store: StoreEnv = { DATABASE_PATH: "", DATABASE_URL: await sharedPostgres().createDatabase() };
  const nats = await startNatsServer();
  const instances: RunningService[] = [];
  for (let i = 0; i < count; i++) {
    const rooms = new LiveKitRoomService({
      ...{ apiUrl: livekit.httpUrl, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      ...{ requestTimeoutMs: 5_000, emptyTimeoutSeconds: 120, departureTimeoutSeconds: 20 },
    });
    // Counts reconcile passes (each lists LiveKit's rooms once) per instance.
    const counted = listRoomNamesCalls
      ? Object.assign(Object.create(rooms) as LiveKitRoomService, {
          listRoomNames: () => {
            listRoomNamesCalls[i] = (listRoomNamesCalls[i] ?? 0) + 1;
            return rooms.listRoomNames();
          },
        })
      : rooms;
    instances.push(await startService(livekit, { ...store, NATS_URL: nats.url, ...env }, { rooms: counted }));
  }
  return {
    store,
    nats,
    instances,
    [Symbol.asyncDispose]: async () => {
      for (const instance of instances) await instance.stop();
      await nats.stop();
    },
  };
}

const relayRoles = (instances: readonly RunningService[]) => instances.map((i) => i.app.relay.role());

describe("many instances on one PostgreSQL", () => {
  it("serve one API: a call started on one is joined, left and ended through the others; glare across instances yields one call", async () => {
    await using c = await cluster(3);
    const [a, b, third] = c.instances.map((i) => restApi(i.baseUrl));
    const directory = directoryClient(c.instances[0]!.baseUrl);
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => userToken(u)));

    const roomId = await directory.room({ alice: 100, bob: 0, carol: 0 });
    const { call_id } = await a!.initiate(alice!, roomId, "audio");
    await b!.join(bob!, call_id);
    await third!.join(carol!, call_id);
    expect((await a!.get(alice!, call_id)).participants.map((p) => p.participant_id).sort()).toEqual(["alice", "bob", "carol"]);
    await b!.leave(bob!, call_id);
    expect(await third!.end(alice!, call_id)).toMatchObject({ status: "ended", end_reason: "ended" });

    // Glare: the same room initiated on two instances at the same moment, ten times over.
    for (let round = 0; round < 10; round++) {
      const room = await directory.room({ alice: 0, bob: 0 });
      const [fromA, fromB] = await Promise.all([a!.initiate(alice!, room, "video"), b!.initiate(bob!, room, "video")]);
      expect(fromB.call_id).toBe(fromA.call_id);
      const [{ n }] = await queryStore<{ n: number }>(
        c.store,
        `SELECT CAST(count(*) AS INTEGER) AS n FROM calls WHERE room_id = '${room}' AND status <> 'ended'`,
      ) as [{ n: number }];
      expect(n).toBe(1);
    }
  });

  it("apply a webhook delivered to two instances at once exactly once", async () => {
    await using c = await cluster(2);
    const [a] = c.instances.map((i) => restApi(i.baseUrl));
    const roomId = await directoryClient(c.instances[0]!.baseUrl).room({ alice: 0, bob: 0 });
    const { call_id } = await a!.initiate(await userToken("alice"), roomId, "audio");
    for (let i = 0; i < 10; i++) {
      const body = webhookBody({
        event: i % 2 === 0 ? "participant_joined" : "participant_left",
        room: { name: `scaiwave-${call_id}` },
        // A leave names the session its join opened.
        participant: { identity: "bob", sid: `PA_bob${Math.floor(i / 2)}` },
      });
      const authorization = await signWebhook(body, livekit.apiKey, livekit.apiSecret);
      const outcomes = await Promise.all(c.instances.map((instance) => postWebhook(instance.baseUrl, body, authorization)));
      expect(outcomes.map((o) => o.status)).toEqual([200, 200]);
      expect(outcomes.map((o) => (o.json["data"] as { outcome: string }).outcome).sort()).toEqual(["duplicate", "processed"]);
    }
    const bobs = (await queryStore<{ payload: string }>(c.store, "SELECT payload FROM outbox ORDER BY seq"))
      .map((r) => JSON.parse(r.payload) as { type: string; data: { participant_id?: string } })
      .filter((e) => e.data.participant_id === "bob")
      .map((e) => e.type);
    expect(bobs).toEqual(Array.from({ length: 5 }, () => ["swp.call.participant_joined", "swp.call.participant_left"]).flat());
  });

  it("publish the events through one instance at a time; stopped, it hands the relay over and nothing is lost or doubled", async () => {
    await using c = await cluster(3);
    await vi.waitFor(() => expect(relayRoles(c.instances).sort()).toEqual(["publishing", "standby", "standby"]), { timeout: 30_000 });
    const apis = c.instances.map((i) => restApi(i.baseUrl));
    const roomId = await directoryClient(c.instances[0]!.baseUrl).room({ alice: 0, bob: 0 });
    const [alice, bob] = await Promise.all([userToken("alice"), userToken("bob")]);
    const cycle = async (round: number) => {
      const api = apis[round % apis.length]!;
      const { call_id } = await api.initiate(alice, roomId, "audio");
      await apis[(round + 1) % apis.length]!.join(bob, call_id);
      await apis[(round + 2) % apis.length]!.end(alice, call_id);
    };
    for (let round = 0; round < 6; round++) await cycle(round);

    const holder = relayRoles(c.instances).indexOf("publishing");
    await c.instances[holder]!.stop();
    const rest = c.instances.filter((_, i) => i !== holder);
    const remaining = apis.filter((_, i) => i !== holder);
    await vi.waitFor(() => expect(relayRoles(rest).sort()).toEqual(["publishing", "standby"]), { timeout: 30_000 });
    for (let round = 0; round < 6; round++) {
      const { call_id } = await remaining[round % 2]!.initiate(alice, roomId, "audio");
      await remaining[(round + 1) % 2]!.end(alice, call_id);
    }

    await vi.waitFor(
      async () => {
        const [row] = await queryStore<{ n: number }>(c.store, "SELECT CAST(count(*) AS INTEGER) AS n FROM outbox WHERE sent_at IS NULL");
        expect(row?.n).toBe(0);
      },
      { timeout: 30_000, interval: 50 },
    );
    expectExactlyOnceInOrder(await committedEvents(c.store), await readStream(c.nats.url, "SWP_CALLS"));
  });

  it("run reconciliation once per interval for the whole cluster, not once per instance", async () => {
    const passes: number[] = [];
    await using c = await cluster(3, { RECONCILE_INTERVAL_SECONDS: "1" }, passes);
    // A pass lists LiveKit's rooms only while some call is live.
    const roomId = await directoryClient(c.instances[0]!.baseUrl).room({ alice: 0, bob: 0 });
    await restApi(c.instances[0]!.baseUrl).initiate(await userToken("alice"), roomId, "audio");
    const total = () => passes.reduce((sum, n) => sum + n, 0);
    const from = total();
    const startedAt = Date.now();
    await vi.waitFor(() => expect(total() - from).toBeGreaterThanOrEqual(6), { timeout: 60_000, interval: 20 });
    // Claimed runs start at least an interval apart: 6 passes take about 5 s (less only by how late the first
    // one reached LiveKit). Three instances each running their own would make 6 in about 2 s.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3_500);
  });

  it("end a call whose instance is gone as no_answer on time: another instance claims its ring deadline", async () => {
    await using c = await cluster(2, { RING_TIMEOUT_SECONDS: "3" });
    const [first, second] = c.instances;
    const roomId = await directoryClient(first!.baseUrl).room({ alice: 0, bob: 0 });
    const { call_id } = await restApi(first!.baseUrl).initiate(await userToken("alice"), roomId, "audio");
    await first!.stop();
    const api = restApi(second!.baseUrl);
    const alice = await userToken("alice");
    await expect.poll(async () => (await api.get(alice, call_id)).status, { timeout: 30_000, interval: 50 }).toBe("ended");
    const call = await api.get(alice, call_id);
    expect(call.end_reason).toBe("no_answer");
    const rang = Date.parse(call.ended_at!) - Date.parse(call.started_at);
    expect(rang).toBeGreaterThanOrEqual(3_000);
    expect(rang).toBeLessThanOrEqual(3_000 + 2_000);
  });
});
