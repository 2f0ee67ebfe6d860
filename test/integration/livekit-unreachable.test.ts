import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi, ApiError } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { freePort } from "../support/ports.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { startBlackHole, startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { userToken } from "../support/tokens.js";

/** When LiveKit is down or hangs: a fast, clear 503 and no half-made call. */

const livekit = sharedLiveKit();
let proxy: TcpProxy;
let service: RunningService;

beforeAll(async () => {
  proxy = await startTcpProxy(Number(new URL(livekit.httpUrl).port));
  // The service reaches LiveKit's API only through the proxy, which the tests can cut.
  service = await startService({ ...livekit, httpUrl: `http://127.0.0.1:${proxy.port}` });
});

afterAll(async () => {
  await service?.stop();
  await proxy?.close();
});

const callRows = (roomId: string) =>
  service.app.db!.prepare("SELECT count(*) AS n FROM calls WHERE room_id = ?").get(roomId) as { n: number };

async function expectUnreachable(promise: Promise<unknown>): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).code).toBe("SW_CALL_LIVEKIT_UNREACHABLE");
  expect((err as ApiError).protocolStatus).toBe(503);
}

describe("LiveKit unreachable", () => {
  it("initiate answers 503 within 3 s when LiveKit refuses connections, and stores no call", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    await proxy.cut();
    try {
      const started = Date.now();
      await expectUnreachable(restApi(service.baseUrl).initiate(await userToken("alice"), roomId, "audio"));
      expect(Date.now() - started).toBeLessThan(3000);
      expect(callRows(roomId).n).toBe(0);
    } finally {
      await proxy.restore();
    }
    // Once LiveKit is back, the same room gets its call.
    const ticket = await restApi(service.baseUrl).initiate(await userToken("alice"), roomId, "audio");
    expect(ticket.call_id).toMatch(/^call-/);
    expect(callRows(roomId).n).toBe(1);
  });

  it("initiate answers 503 within 3 s when LiveKit accepts but never answers", async () => {
    const hole = await startBlackHole();
    const hung = await startService({ ...livekit, httpUrl: `http://127.0.0.1:${hole.port}` });
    try {
      const roomId = await directoryClient(hung.baseUrl).room({ alice: 0 });
      const started = Date.now();
      await expectUnreachable(restApi(hung.baseUrl).initiate(await userToken("alice"), roomId, "audio"));
      expect(Date.now() - started).toBeLessThan(3000);
      expect(hung.app.db!.prepare("SELECT count(*) AS n FROM calls").get()).toEqual({ n: 0 });
    } finally {
      await hung.stop();
      await hole.close();
    }
  });

  it("end answers 503 and leaves the call live when LiveKit cannot delete the room", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const api = restApi(service.baseUrl);
    const alice = await userToken("alice");
    const { call_id } = await api.initiate(alice, roomId, "audio");
    await proxy.cut();
    try {
      await expectUnreachable(api.end(alice, call_id));
      expect((await api.get(alice, call_id)).status).toBe("ringing");
    } finally {
      await proxy.restore();
    }
    expect((await api.end(alice, call_id)).status).toBe("ended");
  });

  it("readiness reports LiveKit failing but stays ready (a shared dependency)", async () => {
    const closedPort = await freePort();
    const orphan = await startService({ ...livekit, httpUrl: `http://127.0.0.1:${closedPort}` });
    try {
      const res = await fetch(`${orphan.baseUrl}/readyz`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { dependencies: Record<string, { status: string }> };
      expect(body.dependencies["livekit"]?.status).toBe("failing");
      expect(body.dependencies["database"]?.status).toBe("ok");
    } finally {
      await orphan.stop();
    }
  });
});
