import { afterAll, describe, expect, it } from "vitest";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/** DATABASE_URL selects PostgreSQL: what operators see of it, and instances that start together on one database. */

const livekit = sharedLiveKit();
const running: RunningService[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

async function readiness(service: RunningService) {
  const res = await fetch(`${service.baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { dependencies: { database: Record<string, unknown> } } };
}

describe("the store, selected by DATABASE_URL", () => {
  it("four instances starting together on one empty database migrate it once and all serve the same calls", async () => {
    const url = await sharedPostgres().createDatabase();
    const instances = await Promise.all([0, 1, 2, 3].map(() => startService(livekit, { DATABASE_URL: url })));
    running.push(...instances);
    const [a, b, c, d] = instances as [RunningService, RunningService, RunningService, RunningService];
    const roomId = await directoryClient(a.baseUrl).room({ alice: 0, bob: 0 });
    const ticket = await restApi(b.baseUrl).initiate(await userToken("alice"), roomId, "audio");
    await restApi(c.baseUrl).join(await userToken("bob"), ticket.call_id);
    expect(await restApi(d.baseUrl).get(await userToken("alice"), ticket.call_id)).toMatchObject({
      status: "active",
      participants: [{ participant_id: "alice" }, { participant_id: "bob" }],
    });
  });

  it("/readyz names the store and shows the pool; /metrics adds the pool's gauges", async () => {
    const service = await startService(livekit, { DATABASE_URL: await sharedPostgres().createDatabase(), DATABASE_POOL_SIZE: "4" });
    running.push(service);
    const ready = await readiness(service);
    expect(ready.status).toBe(200);
    expect(ready.body.dependencies.database).toMatchObject({ status: "ok", store: "postgresql" });
    expect(ready.body.dependencies.database["pool_total"]).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    // The scrape's own gauges query the pool at once: figures vary, each state is there.
    for (const state of ["in_use", "idle", "waiting"]) {
      expect(metrics).toMatch(new RegExp(`^scaiwave_calls_db_pool_connections\\{state="${state}"\\} \\d+$`, "m"));
    }
    expect(metrics).toMatch(/^scaiwave_calls_db_pool_errors 0$/m);
  });

  it("without DATABASE_URL the store is SQLite, named as such, with no pool gauges", async () => {
    const service = await startService(livekit);
    running.push(service);
    const ready = await readiness(service);
    expect(ready.body.dependencies.database).toMatchObject({ status: "ok", store: "sqlite" });
    expect(await (await fetch(`${service.baseUrl}/metrics`)).text()).not.toContain("scaiwave_calls_db_pool");
  });
});
