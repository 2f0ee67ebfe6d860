import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { queryStore, type StoreEnv } from "../support/store-reader.js";
import { committedEvents, expectExactlyOnceInOrder } from "../support/event-checks.js";
import { readStream } from "../support/stream-reader.js";
import { userToken } from "../support/tokens.js";

/**
 * PostgreSQL restarted (pg_ctl restart -m fast) while the service is under
 * load: requests in the gap fail fast with a 503 of their own, the service
 * serves again by itself, nothing acknowledged is lost, and the outbox resumes
 * in order.
 */

const livekit = sharedLiveKit();
let postgres: PostgresServer;
let nats: NatsServer;
let service: RunningService;
let databaseUrl: string;

beforeAll(async () => {
  [postgres, nats] = await Promise.all([startPostgresServer(), startNatsServer()]);
  databaseUrl = await postgres.createDatabase();
  service = await startService(livekit, { NATS_URL: nats.url, DATABASE_URL: databaseUrl, RECONCILE_INTERVAL_SECONDS: "0" });
});

afterAll(async () => {
  await service?.stop();
  await nats?.stop();
  await postgres?.stop();
});

/** The service's PostgreSQL database, read directly. */
const database = (): StoreEnv => ({ DATABASE_PATH: "", DATABASE_URL: databaseUrl });

interface Outcome {
  readonly step: string;
  readonly callId: string | undefined;
  readonly status: number;
  readonly code: string | undefined;
  readonly ms: number;
}

describe("PostgreSQL restarted under load", () => {
  it("answers the gap with 503 SW_CALL_STORE_UNAVAILABLE, recovers by itself, loses no acknowledged write, and the outbox resumes in order", async () => {
    const directory = directoryClient(service.baseUrl);
    const rooms = await Promise.all([0, 1, 2, 3].map(() => directory.room({ alice: 0, bob: 0 })));
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    const tap = await EventTap.start(nats.url);

    const outcomes: Outcome[] = [];
    /** One REST request, timed; the answer's status and SW_CALL_* code. */
    const request = async (step: string, token: string, path: string, body?: unknown, callId?: string) => {
      const started = performance.now();
      const res = await fetch(`${service.baseUrl}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      });
      const json = (await res.json()) as { data?: { call_id?: string }; error?: { code: string } };
      const outcome = { step, callId: callId ?? json.data?.call_id, status: res.status, code: json.error?.code, ms: performance.now() - started };
      outcomes.push(outcome);
      return outcome;
    };

    let restarted = false;
    let okAfterRestart = 0;
    let gapErrors = 0;
    const clients = rooms.map(async (roomId) => {
      // Cycles until the database has been restarted and this client has completed calls after it.
      while (!restarted || okAfterRestart < 8) {
        const started = await request("initiate", alice, "/v1/calls/initiate", { room_id: roomId, type: "audio" });
        if (started.status !== 200 || !started.callId) {
          gapErrors++;
          continue;
        }
        const callId = started.callId;
        // A live call in this room blocks the next initiate (it would join it): finish it, however long the gap lasts.
        for (;;) {
          const joined = await request("join", bob, `/v1/calls/${callId}/join`, undefined, callId);
          if (joined.status === 200 || joined.code === "SW_CALL_ENDED") break;
        }
        for (;;) {
          const ended = await request("end", alice, `/v1/calls/${callId}/end`, undefined, callId);
          if (ended.status === 200 || ended.code === "SW_CALL_ENDED") break;
        }
        if (restarted) okAfterRestart++;
      }
    });

    // Restart once traffic has flowed.
    await expect.poll(() => outcomes.filter((o) => o.status === 200).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(20);
    await postgres.restart("fast");
    restarted = true;
    await Promise.all(clients);

    // Every answer is a success or the store's own 503: nothing else, nothing hung.
    const failed = outcomes.filter((o) => o.status !== 200);
    // The restart happens while the clients keep sending: requests in the gap are answered, not dropped.
    expect(failed.length, "requests answered during the restart").toBeGreaterThan(0);
    for (const o of failed) expect(`${o.status} ${o.code}`).toBe("503 SW_CALL_STORE_UNAVAILABLE");
    // Bounded: a request in the gap waits for a connection at most DATABASE's connect timeout (2 s), plus the
    // LiveKit call of an end; never the length of the outage.
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(15_000);

    // Every acknowledged initiate and end is in the store.
    const stored = new Map(
      (await queryStore<{ id: string; status: string; end_reason: string | null }>(database(), "SELECT id, status, end_reason FROM calls")).map(
        (r) => [r.id, r],
      ),
    );
    for (const o of outcomes.filter((x) => x.status === 200)) {
      expect(stored.has(o.callId ?? ""), `${o.step} of ${o.callId} acknowledged but not stored`).toBe(true);
      if (o.step === "end") expect(stored.get(o.callId ?? "")).toMatchObject({ status: "ended", end_reason: "ended" });
    }

    // The outbox resumed: everything committed reached the stream once, per call in commit order.
    await tap.settle(service);
    await tap.close();
    const committed = await committedEvents(database());
    expectExactlyOnceInOrder(committed, await readStream(nats.url, "SWP_CALLS"));
    console.log(
      `PostgreSQL restart under load: ${outcomes.length} requests, ${failed.length} answered 503 SW_CALL_STORE_UNAVAILABLE ` +
        `(${gapErrors} initiates), slowest ${Math.round(Math.max(...outcomes.map((o) => o.ms)))} ms, ${committed.length} events relayed in order`,
    );
  });
});
