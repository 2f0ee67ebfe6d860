import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { CallsService, CallType } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { DirectoryService } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { bearer, userToken } from "../support/tokens.js";

/** Rate limits per user and RPC class on every protocol, and CORS for browsers on allowed origins. */

const ORIGIN = "https://app.scaiwave.test";
let service: RunningService;

beforeAll(async () => {
  service = await startService(sharedLiveKit(), {
    // 2 initiates per 2-minute window: the window never ends within a test.
    RATE_LIMIT_INITIATE_PER_MINUTE: "1",
    RATE_LIMIT_INITIATE_BURST: "2",
    CORS_ALLOWED_ORIGINS: ORIGIN,
  });
});

afterAll(async () => {
  await service?.stop();
});

async function initiateRest(user: string) {
  const roomId = await directoryClient(service.baseUrl).room({ [user]: 0 });
  return fetch(`${service.baseUrl}/v1/calls/initiate`, {
    method: "POST",
    headers: { authorization: `Bearer ${await userToken(user)}` },
    body: JSON.stringify({ room_id: roomId, type: "audio" }),
  });
}

describe("rate limits", () => {
  it("REST: the burst passes, the next initiate is 429 SW_CALL_RATE_LIMITED with Retry-After; other users are not affected", async () => {
    expect((await initiateRest("alice")).status).toBe(200);
    expect((await initiateRest("alice")).status).toBe(200);
    const limited = await initiateRest("alice");
    expect(limited.status).toBe(429);
    // Retry when alice's window ends: within its 120 s.
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120).toBe(true);
    expect(await limited.json()).toEqual({ error: { code: "SW_CALL_RATE_LIMITED", message: `too many requests; retry in ${retryAfter} s` } });
    expect((await initiateRest("bob")).status).toBe(200);
  });

  it("gRPC/Connect: resource_exhausted with the SW_CALL_RATE_LIMITED reason", async () => {
    const client = createClient(CallsService, createConnectTransport({ baseUrl: service.baseUrl, httpVersion: "2" }));
    const headers = { authorization: `Bearer ${await userToken("carol")}` };
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const roomId = await directoryClient(service.baseUrl).room({ carol: 0 });
      try {
        await client.initiateCall({ roomId, type: CallType.AUDIO }, { headers });
        codes.push("ok");
      } catch (err) {
        const e = ConnectError.from(err);
        expect(e.code).toBe(Code.ResourceExhausted);
        codes.push(e.findDetails(ErrorInfoSchema)[0]?.reason ?? "?");
      }
    }
    expect(codes).toEqual(["ok", "ok", "SW_CALL_RATE_LIMITED"]);
  });
});

describe("the internal directory is never user-rate-limited", () => {
  it("300 concurrent PutRoom with the rooms service's token (it carries a tid) get no 429, while a user over the same limits does", async () => {
    // The production defaults of the `other` class (startService turns limits off for other tests).
    await using limited = await startService(sharedLiveKit(), { RATE_LIMIT_OTHER_PER_MINUTE: "600", RATE_LIMIT_OTHER_BURST: "100" });
    // As the operators' docs mint it: `npm run token -- rooms-sync acme calls.internal`.
    const roomsSync = await bearer("rooms-sync", { tenantId: "acme", scope: "calls.internal" });
    const directory = createClient(DirectoryService, createConnectTransport({ baseUrl: limited.baseUrl, httpVersion: "2" }));
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        directory
          .putRoom(
            { tenantId: "acme", roomId: `bulk-${i}`, members: [{ userId: "alice", powerLevel: 0 }] },
            { headers: { authorization: `Bearer ${roomsSync}` } },
          )
          .then(
            () => "ok",
            (err: unknown) => Code[ConnectError.from(err).code],
          ),
      ),
    );
    expect(outcomes.filter((o) => o !== "ok")).toEqual([]);

    // The same limits do hold for a user: 150 reads at once exceed the burst of 100.
    const calls = createClient(CallsService, createConnectTransport({ baseUrl: limited.baseUrl, httpVersion: "2" }));
    const alice = { authorization: `Bearer ${await userToken("alice")}` };
    const reads = await Promise.all(
      Array.from({ length: 150 }, () =>
        calls.listCalls({}, { headers: alice }).then(
          () => "ok",
          (err: unknown) => Code[ConnectError.from(err).code],
        ),
      ),
    );
    expect(reads.filter((o) => o === "ResourceExhausted").length).toBeGreaterThan(0);
  });
});

describe("CORS", () => {
  it("answers a Connect preflight from an allowed origin with the headers Connect needs", async () => {
    const res = await fetch(`${service.baseUrl}/scaiwave.calls.v1.CallsService/GetCall`, {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type,connect-protocol-version,authorization" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const allowHeaders = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["content-type", "connect-protocol-version", "authorization", "x-grpc-web", "grpc-timeout"]) expect(allowHeaders).toContain(h);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });

  it("exposes gRPC-web and Connect headers on responses to allowed origins, and nothing to others", async () => {
    const allowed = await fetch(`${service.baseUrl}/v1/calls/call-x`, { headers: { origin: ORIGIN, authorization: `Bearer ${await userToken("dave")}` } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const exposed = (allowed.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const h of ["grpc-status", "grpc-message", "retry-after"]) expect(exposed).toContain(h);

    const other = await fetch(`${service.baseUrl}/scaiwave.calls.v1.CallsService/GetCall`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.test", "access-control-request-method": "POST" },
    });
    expect(other.status).toBe(204);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
