import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveKitEgress } from "../../src/adapters/livekit/egress.js";
import { CREDENTIALS_REFUSED, LiveKitCredentialsRefused } from "../../src/adapters/livekit/failures.js";
import { CallError } from "../../src/domain/errors.js";
import { ApiError, connectApi, restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { freePort } from "../support/ports.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * A LiveKit key or secret that LiveKit refuses is the operator's mistake, not
 * an outage: clients get an internal error (not 503 "try again shortly"), the
 * log tells the operator what to fix, /readyz shows `livekit: unauthorized`.
 */

// The run's livekit-server, asked with credentials it does not know.
const livekit = sharedLiveKit();
const wrongSecret = randomBytes(32).toString("hex");
const cases = [
  { what: "a wrong API secret", apiKey: livekit.apiKey, apiSecret: wrongSecret },
  { what: "a wrong API key", apiKey: "not-our-key", apiSecret: livekit.apiSecret },
];

describe.each(cases)("LiveKit refuses $what", ({ apiKey, apiSecret }) => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService({ wsUrl: livekit.wsUrl, httpUrl: livekit.httpUrl, apiKey, apiSecret });
  });

  afterAll(async () => {
    await service?.stop();
  });

  const refusalLogs = () =>
    service.logs
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((entry) => entry.msg.startsWith(CREDENTIALS_REFUSED));

  it("initiate answers 500 SW_CALL_INTERNAL, not 503, and stores no call", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0 });
    const alice = await userToken("alice");
    const logged = refusalLogs().length;
    const err = await restApi(service.baseUrl)
      .initiate(alice, roomId, "audio")
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: "SW_CALL_INTERNAL", protocolStatus: 500 });
    // The client learns nothing of our configuration.
    expect((err as ApiError).message).not.toMatch(/key|secret|LiveKit/i);

    const listed = await fetch(`${service.baseUrl}/v1/calls`, { headers: { authorization: `Bearer ${alice}` } });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { data: unknown[] }).data).toEqual([]);
    // The operator hears of it once, at error level.
    expect(refusalLogs().slice(logged)).toEqual([expect.objectContaining({ level: 50 })]);
  });

  it("gRPC answers INTERNAL with reason SW_CALL_INTERNAL", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ bob: 0 });
    const grpc = connectApi("gRPC", createGrpcTransport({ baseUrl: service.baseUrl }));
    const logged = refusalLogs().length;
    const err = await grpc.initiate(await userToken("bob"), roomId, "video").then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: "SW_CALL_INTERNAL", protocolStatus: Code.Internal });
    expect(refusalLogs().slice(logged)).toEqual([expect.objectContaining({ level: 50 })]);
  });

  it("the error log names the request (its X-Request-Id)", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ dave: 0 });
    const res = await fetch(`${service.baseUrl}/v1/calls/initiate`, {
      method: "POST",
      headers: { authorization: `Bearer ${await userToken("dave")}`, "x-request-id": "refused-key-req-1" },
      body: JSON.stringify({ room_id: roomId, type: "audio" }),
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("x-request-id")).toBe("refused-key-req-1");
    const logged = service.logs.map((line) => JSON.parse(line) as { msg: string; requestId?: string });
    expect(logged.filter((entry) => entry.msg.startsWith(CREDENTIALS_REFUSED) && entry.requestId === "refused-key-req-1")).toHaveLength(1);
  });

  it("never logs the secret, nor a token signed with it", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ carol: 0 });
    await restApi(service.baseUrl).initiate(await userToken("carol"), roomId, "audio").catch(() => undefined);
    expect(refusalLogs().length).toBeGreaterThan(0);
    const logs = service.logs.join("\n");
    expect(logs).not.toContain(apiSecret);
    expect(logs).not.toMatch(/eyJ[\w-]*\.[\w-]*\.[\w-]*/);
  });

  it("/readyz shows livekit unauthorized (and stays ready: LiveKit is not critical)", async () => {
    const res = await fetch(`${service.baseUrl}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { dependencies: Record<string, { status: string; error?: string }> };
    expect(body.dependencies["livekit"]?.status).toBe("unauthorized");
    expect(body.dependencies["livekit"]?.error).toContain(CREDENTIALS_REFUSED);
    expect(JSON.stringify(body)).not.toContain(apiSecret);
  });
});

describe("LiveKit egress", () => {
  const s3 = { endpoint: "http://127.0.0.1:9", accessKey: "minio", secretKey: "minio-secret", bucket: "recordings", region: "us-east-1" };
  const egress = (apiUrl: string, apiKey: string, apiSecret: string) =>
    new LiveKitEgress({ apiUrl, apiKey, apiSecret, requestTimeoutMs: 2000, s3 });
  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

  it("a refused secret is an internal error caused by the refusal", async () => {
    const err = await failure(egress(livekit.httpUrl, livekit.apiKey, wrongSecret).listActive());
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).code).toBe("SW_CALL_INTERNAL");
    expect((err as CallError).cause).toBeInstanceOf(LiveKitCredentialsRefused);
    expect((err as CallError).cause).toMatchObject({ status: 401 });
  });

  it("an unreachable LiveKit stays SW_CALL_LIVEKIT_UNREACHABLE", async () => {
    const err = await failure(egress(`http://127.0.0.1:${await freePort()}`, livekit.apiKey, livekit.apiSecret).listActive());
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).code).toBe("SW_CALL_LIVEKIT_UNREACHABLE");
  });
});
