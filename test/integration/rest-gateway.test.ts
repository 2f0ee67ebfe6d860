import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directoryClient } from "../support/directory.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/** The REST surface's own contract: envelope, JSON shapes, and every way a request can be wrong. */

let nats: NatsServer;
let service: RunningService;
let token: string;
let roomId: string;

beforeAll(async () => {
  nats = await startNatsServer();
  service = await startService(sharedLiveKit(), { NATS_URL: nats.url });
  roomId = await directoryClient(service.baseUrl).room({ alice: 100, bob: 0 });
  token = await userToken("alice");
});

afterAll(async () => {
  await service?.stop();
  await nats?.stop();
});

async function request(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...init.headers },
    ...(init.body !== undefined && { body: init.body }),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

describe("REST gateway", () => {
  it("answers in the documented shapes: snake_case, null for unset timestamps, [] for empty lists", async () => {
    // As in the docs: curl -d sends no JSON content type, and that is fine.
    const initiated = await request("POST", "/v1/calls/initiate", {
      body: JSON.stringify({ room_id: roomId, type: "video" }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(initiated.status).toBe(200);
    const data = initiated.json["data"] as Record<string, string>;
    expect(Object.keys(data)).toEqual(["call_id", "livekit_url", "livekit_token", "livekit_room"]);

    const state = await request("GET", `/v1/calls/${data["call_id"]}`);
    expect(state.status).toBe(200);
    expect(state.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const call = (state.json["data"] ?? {}) as Record<string, unknown>;
    expect(Object.keys(call)).toEqual([
      "id",
      "room_id",
      "type",
      "status",
      "started_at",
      "ended_at",
      "initiator_id",
      "participants",
      "recordings",
      "end_reason",
      "livekit_room",
      "invitees",
    ]);
    expect(call).toMatchObject({ type: "video", status: "ringing", ended_at: null, recordings: [], end_reason: null });
    expect(call["started_at"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(call["participants"]).toEqual([
      { participant_id: "alice", joined_at: call["started_at"], video_on: false, audio_on: false },
    ]);
    // Bob's phone rings until the ring timeout: his deadline is set, as RFC 3339.
    expect(call["invitees"]).toEqual([{ user_id: "bob", state: "ringing", changed_at: call["started_at"], ring_deadline: expect.any(String) as string }]);
    const [bob] = call["invitees"] as { ring_deadline: string }[];
    expect(bob?.ring_deadline).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(bob?.ring_deadline ?? "") - Date.parse(String(call["started_at"]))).toBe(service.app.config.ringTimeoutSeconds * 1000);
    await request("POST", `/v1/calls/${data["call_id"]}/end`);
  });

  it("GET /v1/calls lists the live calls of the caller's rooms only", async () => {
    const mine = await directoryClient(service.baseUrl).room({ alice: 0 });
    const others = await directoryClient(service.baseUrl).room({ zed: 0 });
    const live = await request("POST", "/v1/calls/initiate", { body: JSON.stringify({ room_id: mine, type: "audio" }) });
    const liveId = (live.json["data"] as { call_id: string }).call_id;
    const zed = await userToken("zed");
    const othersCall = await fetch(`${service.baseUrl}/v1/calls/initiate`, {
      method: "POST",
      headers: { authorization: `Bearer ${zed}` },
      body: JSON.stringify({ room_id: others, type: "audio" }),
    });
    // Another room's live call exists, so "only the caller's rooms" is tested, not vacuous.
    expect(othersCall.status).toBe(200);
    const listed = await request("GET", "/v1/calls");
    expect(listed.status).toBe(200);
    const calls = listed.json["data"] as { id: string; room_id: string; status: string }[];
    expect(calls.map((c) => c.id)).toContain(liveId);
    expect(calls.every((c) => c.room_id !== others && c.status !== "ended")).toBe(true);
    await request("POST", `/v1/calls/${liveId}/end`);
    const after = (await request("GET", "/v1/calls")).json["data"] as { id: string }[];
    expect(after.map((c) => c.id)).not.toContain(liveId);
  });

  it("unknown path: 404 in the envelope", async () => {
    const res = await request("GET", "/v1/calls/abc/nothing-here");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({
      error: { code: "SW_CALL_ROUTE_NOT_FOUND", message: "no such endpoint: GET /v1/calls/abc/nothing-here" },
    });
  });

  it("wrong method: 405 with Allow", async () => {
    const res = await request("DELETE", "/v1/calls/initiate");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect((res.json["error"] as { code: string }).code).toBe("SW_CALL_METHOD_NOT_ALLOWED");
  });

  it("malformed JSON, a non-object body, unknown fields and bad enum values: 400 SW_CALL_INVALID_ARGUMENT", async () => {
    for (const body of ["{bad", "[1,2]", '"text"', JSON.stringify({ room_id: roomId, colour: "red" }), JSON.stringify({ room_id: roomId, type: "fax" })]) {
      const res = await request("POST", "/v1/calls/initiate", { body });
      expect(res.status, body).toBe(400);
      expect((res.json["error"] as { code: string }).code, body).toBe("SW_CALL_INVALID_ARGUMENT");
    }
    const missingType = await request("POST", "/v1/calls/initiate", { body: JSON.stringify({ room_id: roomId }) });
    expect(missingType.json).toEqual({
      error: { code: "SW_CALL_INVALID_ARGUMENT", message: "type: value is required" },
    });
  });

  it("breaking a field's rule (empty or malformed id, unknown enum number): 400 naming the field, nothing created", async () => {
    const before = service.app.db!.prepare("SELECT count(*) AS n FROM calls").get();
    const cases: [string, string][] = [
      [JSON.stringify({ room_id: "", type: "video" }), "room_id: value is required"],
      [JSON.stringify({ room_id: "room.1", type: "video" }), "room_id: does not match regex pattern `^[A-Za-z0-9_=@:+-]+$`"],
      [JSON.stringify({ room_id: "r".repeat(129), type: "video" }), "room_id: must be at most 128 characters"],
      [JSON.stringify({ room_id: roomId, type: 7 }), "type: value must be one of the defined enum values"],
      [JSON.stringify({ type: "CALL_TYPE_UNSPECIFIED" }), "room_id: value is required; type: value is required"],
    ];
    for (const [body, message] of cases) {
      const res = await request("POST", "/v1/calls/initiate", { body });
      expect([res.status, res.json], body).toEqual([400, { error: { code: "SW_CALL_INVALID_ARGUMENT", message } }]);
    }
    const badPath = await request("GET", `/v1/calls/${encodeURIComponent("call.1")}`);
    expect([badPath.status, badPath.json]).toEqual([
      400,
      { error: { code: "SW_CALL_INVALID_ARGUMENT", message: "call_id: does not match regex pattern `^[A-Za-z0-9_=@:+-]+$`" } },
    ]);
    expect(service.app.db!.prepare("SELECT count(*) AS n FROM calls").get()).toEqual(before);
  });

  it("a body over the limit: 413, and nothing is created", async () => {
    const huge = JSON.stringify({ room_id: roomId, type: "audio", pad: "x".repeat(70 * 1024) });
    const before = service.app.db!.prepare("SELECT count(*) AS n FROM calls").get();
    const res = await request("POST", "/v1/calls/initiate", { body: huge });
    expect(res.status).toBe(413);
    expect((res.json["error"] as { code: string }).code).toBe("SW_CALL_PAYLOAD_TOO_LARGE");
    expect(service.app.db!.prepare("SELECT count(*) AS n FROM calls").get()).toEqual(before);
  });

  it("no token: 401 before anything else is revealed", async () => {
    const res = await fetch(`${service.baseUrl}/v1/calls/call-x`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "SW_CALL_UNAUTHENTICATED", message: "missing bearer token" } });
  });

  it("the internal DirectoryService is not on the REST surface", async () => {
    const res = await request("POST", "/v1/directory/rooms", { body: "{}" });
    expect(res.status).toBe(404);
  });

  it("health and readiness report per dependency, with the outbox backlog", async () => {
    expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
    // Readiness reflects the NATS connection, which the service opens in the background.
    const readiness = async () => {
      const ready = await fetch(`${service.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      return ready.json();
    };
    await expect.poll(readiness, { timeout: 20_000 }).toEqual({
      status: "ready",
      dependencies: {
        database: { status: "ok", store: "sqlite" },
        livekit: { status: "ok" },
        nats: { status: "ok", relay: "publishing", outbox_pending: 0, outbox_oldest_age_seconds: 0 },
      },
    });
  });
});
