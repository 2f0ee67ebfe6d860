import type { ServiceProcess } from "../../test/support/service-process.js";
import { floorRatio, row, sqliteAim, withNotes, type Bench } from "../lib/bench.js";
import type { PreparedRequest } from "../lib/load-generators.js";
import { withFloor } from "../lib/report.js";
import { webhookAuthorization } from "../lib/signing.js";
import type { JoinSeed } from "./join-seed.js";

// Signed webhook events per second: at least this share of floor (a)'s requests per second (on SQLite).
const WEBHOOK_AIM = 0.5;

/** LiveKit-signed participant_joined/left pairs, each with its own event id, into live calls. */
export async function webhooks(b: Bench, service: ServiceProcess, seed: JoinSeed): Promise<void> {
  const { livekit } = b.options;
  await b.scenario("signed webhook ingest", async () => {
    const createdAt = String(Math.floor(Date.now() / 1000));
    const requests: PreparedRequest[] = [];
    for (let k = 0; k < b.size.webhookPairs; k++) {
      const call = seed.webhookCalls[k % seed.webhookCalls.length]!;
      const identity = call.members[1 + (Math.floor(k / seed.webhookCalls.length) % 4)]!;
      for (const event of ["participant_joined", "participant_left"]) {
        const body = JSON.stringify({
          event,
          room: { sid: `RM_${call.callId}`, name: `scaiwave-${call.callId}` },
          participant: { sid: `PA_bench${k}`, identity, state: event === "participant_joined" ? "ACTIVE" : "DISCONNECTED" },
          id: `EV_bench_${event}_${k}`,
          createdAt,
        });
        requests.push({
          method: "POST",
          path: "/v1/calls/webhook",
          headers: { authorization: webhookAuthorization(body, livekit.apiKey, livekit.apiSecret), "content-type": "application/webhook+json" },
          body,
        });
      }
    }
    const warmCount = Math.floor(requests.length / 5);
    const { load, usage } = await b.wrk(service.baseUrl, service.child.pid!, "webhooks", requests.slice(0, warmCount), requests.slice(warmCount));
    const { floor, note } = await b.floorAround("floor-a", "webhooks");
    const r = withFloor({ ...row("webhooks", "signed webhooks (joined/left)", load, usage), unit: "events/s" }, floor);
    const { aim, achieved, met } = floorRatio(r, WEBHOOK_AIM);
    b.results.push(sqliteAim(b, withNotes(r, note), aim, achieved, met));
    await b.afterScenario(service, "webhooks");
  });
}
