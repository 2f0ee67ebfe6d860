import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBinaryHttp2, grpcJsApi, restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { TEST_JWT_SECRET, userToken } from "../support/tokens.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";

/** /metrics after real traffic on every protocol, and logs that never carry a secret. */

const livekit = sharedLiveKit();
let service: RunningService;

beforeAll(async () => {
  // No NATS here: events wait in the outbox, which the backlog gauges must show.
  service = await startService(livekit, { NATS_URL: "nats://127.0.0.1:1" });
});

afterAll(async () => {
  await service?.stop();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${service.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}

function value(metrics: string, line: string): number {
  const found = metrics.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : Number.NaN;
}

describe("metrics and logs", () => {
  it("counts RPCs by RPC, protocol and outcome, and shows live calls, the outbox backlog, LiveKit latency and webhooks", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const alice = await userToken("alice");
    const ticket = await restApi(service.baseUrl).initiate(alice, roomId, "video");
    await connectBinaryHttp2(service.baseUrl).get(alice, ticket.call_id);
    const grpc = grpcJsApi(`127.0.0.1:${service.port}`);
    await grpc.get(alice, "call-nope").catch(() => undefined);
    grpc.close();
    // Refused before any handler runs: counted all the same.
    await fetch(`${service.baseUrl}/v1/calls/${ticket.call_id}`, { headers: { authorization: "Bearer not-a-token" } });
    const body = webhookBody({ event: "room_started", room: { name: ticket.livekit_room } });
    await postWebhook(service.baseUrl, body, await signWebhook(body, livekit.apiKey, livekit.apiSecret));
    await postWebhook(service.baseUrl, body, "forged");

    const m = await scrape();
    expect(value(m, 'scaiwave_calls_rpc_requests_total{rpc="InitiateCall",protocol="rest",code="ok"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_rpc_requests_total{rpc="GetCall",protocol="connect",code="ok"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_rpc_requests_total{rpc="GetCall",protocol="grpc",code="SW_CALL_NOT_FOUND"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_rpc_requests_total{rpc="GetCall",protocol="rest",code="SW_CALL_UNAUTHENTICATED"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_rpc_duration_seconds_count{rpc="InitiateCall",protocol="rest"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_live_calls{status="ringing"}')).toBe(1);
    expect(value(m, "scaiwave_calls_outbox_pending_events")).toBeGreaterThanOrEqual(3);
    expect(value(m, "scaiwave_calls_outbox_oldest_pending_seconds")).toBeGreaterThanOrEqual(0);
    expect(value(m, 'scaiwave_calls_livekit_request_duration_seconds_count{operation="room.createRoom",result="ok"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_webhooks_total{outcome="ignored"}')).toBe(1);
    expect(value(m, 'scaiwave_calls_webhooks_total{outcome="rejected"}')).toBe(1);
    expect(m).toContain("scaiwave_calls_process_resident_memory_bytes");
  });

  it("never logs bearer tokens, LiveKit tokens or secrets", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ carol: 0 });
    const carol = await userToken("carol");
    const ticket = await restApi(service.baseUrl).initiate(carol, roomId, "audio");
    await fetch(`${service.baseUrl}/v1/calls/${ticket.call_id}`, { headers: { authorization: "Bearer not.a.valid-token" } });
    const logs = service.logs.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [TEST_JWT_SECRET, livekit.apiSecret, carol, ticket.livekit_token, "not.a.valid-token"]) {
      expect(logs).not.toContain(secret);
    }
  });
});
