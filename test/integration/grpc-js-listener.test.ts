import { connect } from "node:net";
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { CallType, GetCallRequestSchema, InitiateCallRequestSchema, InitiateCallResponseSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { ApiError, grpcApiError, grpcJsApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { EventTap } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * GRPC_PORT: the same RPCs on a @grpc/grpc-js server beside the main port.
 * Whatever a client does there must come out as it does on the main port's
 * gRPC (connect-node): same answers, same status codes, same error details.
 */

const livekit = sharedLiveKit();
let nats: NatsServer;
let service: RunningService;
let tap: EventTap;
let directory: ReturnType<typeof directoryClient>;
/** The grpc-js port and the main port, both spoken to with a grpc-js client. */
let fast: CallsApi & { close(): void };
let main: CallsApi & { close(): void };
let fastRaw: grpc.Client;
let mainRaw: grpc.Client;

beforeAll(async () => {
  nats = await startNatsServer();
  service = await startService(livekit, { NATS_URL: nats.url, GRPC_PORT: "0" });
  tap = await EventTap.start(nats.url);
  directory = directoryClient(service.baseUrl);
  const fastAddress = `127.0.0.1:${service.grpcPort}`;
  const mainAddress = `127.0.0.1:${service.port}`;
  fast = grpcJsApi(fastAddress);
  main = grpcJsApi(mainAddress);
  fastRaw = new grpc.Client(fastAddress, grpc.credentials.createInsecure());
  mainRaw = new grpc.Client(mainAddress, grpc.credentials.createInsecure());
});

afterAll(async () => {
  for (const client of [fast, main, fastRaw, mainRaw]) client?.close();
  await tap?.close();
  await service?.stop();
  await nats?.stop();
});

interface RawReply {
  readonly body: Buffer;
  /** The response headers (not the trailers). */
  readonly headers: grpc.Metadata;
}

/** One unary call with the bytes and metadata given, nothing added; rejects with grpc-js's ServiceError. */
function rawCall(client: grpc.Client, path: string, body: Uint8Array, metadata: Record<string, string> = {}): Promise<RawReply> {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    const call = client.makeUnaryRequest(
      path,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      Buffer.from(body),
      md,
      (err, reply) => (err ? reject(err) : resolve({ body: reply!, headers })),
    );
    call.on("metadata", (received: grpc.Metadata) => (headers = received));
  });
}

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected the call to fail").toBeInstanceOf(Error);
  return err as grpc.ServiceError;
}

async function apiFailure(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected the call to fail").toBeInstanceOf(ApiError);
  return err as ApiError;
}

const detailsBin = (err: grpc.ServiceError) => err.metadata.get("grpc-status-details-bin")[0] as Buffer;

const GET_CALL = "/scaiwave.calls.v1.CallsService/GetCall";
const INITIATE_CALL = "/scaiwave.calls.v1.CallsService/InitiateCall";

describe("the grpc-js listener (GRPC_PORT)", () => {
  it("initiates and joins a call with the same answers as the main port", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const [alice, bob] = await Promise.all([userToken("alice"), userToken("bob")]);

    const started = await fast.initiate(alice, roomId, "audio");
    expect(started.call_id).toMatch(/^call-[0-9a-z]{26}$/);
    expect(started.livekit_room).toBe(`scaiwave-${started.call_id}`);
    expect(started.livekit_url).toBe(livekit.wsUrl);
    expect(started.livekit_token.split(".")).toHaveLength(3);

    const joined = await fast.join(bob, started.call_id);
    expect(joined).toMatchObject({ call_id: started.call_id, livekit_room: started.livekit_room, livekit_url: livekit.wsUrl });
    expect(joined.livekit_token).not.toBe(started.livekit_token);

    const call = await fast.get(alice, started.call_id);
    expect(call).toMatchObject({ id: started.call_id, room_id: roomId, type: "audio", status: "active", initiator_id: "alice" });
    expect(call.participants.map((p) => p.participant_id)).toEqual(["alice", "bob"]);
    expect(await main.get(alice, started.call_id)).toEqual(call);
  });

  it("runs each call under the caller's x-request-id (or a fresh one): answered in its headers, carried by its events", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const request = toBinary(InitiateCallRequestSchema, create(InitiateCallRequestSchema, { roomId, type: CallType.VIDEO }));
    const auth = { authorization: `Bearer ${await userToken("alice")}` };

    const reply = await rawCall(fastRaw, INITIATE_CALL, request, { ...auth, "x-request-id": "grpc-js-req-1" });
    expect(reply.headers.get("x-request-id")).toEqual(["grpc-js-req-1"]);
    const { callId } = fromBinary(InitiateCallResponseSchema, reply.body);
    const started = await tap.waitFor((e) => e.type === "swp.call.started" && e.call_id === callId);
    expect(started.request_id).toBe("grpc-js-req-1");

    const unnamed = await rawCall(fastRaw, GET_CALL, toBinary(GetCallRequestSchema, create(GetCallRequestSchema, { callId })), auth);
    expect(unnamed.headers.get("x-request-id")[0]).toMatch(/^req-/);
  });

  it("answers a missing or invalid token UNAUTHENTICATED with the main port's exact status details", async () => {
    const request = toBinary(GetCallRequestSchema, create(GetCallRequestSchema, { callId: "call-x" }));
    const missingOrInvalid: Record<string, string>[] = [{}, { authorization: "Bearer not-a-jwt" }];
    for (const metadata of missingOrInvalid) {
      const [onFast, onMain] = await Promise.all([
        failure(rawCall(fastRaw, GET_CALL, request, metadata)),
        failure(rawCall(mainRaw, GET_CALL, request, metadata)),
      ]);
      expect(onFast.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(grpcApiError(onFast).code).toBe("SW_CALL_UNAUTHENTICATED");
      const status = fromBinary(StatusSchema, detailsBin(onFast));
      expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(status.message).toBe(onFast.details);
      expect(status.details.map((d) => anyUnpack(d, ErrorInfoSchema))).toMatchObject([
        { reason: "SW_CALL_UNAUTHENTICATED", domain: "calls.scaiwave" },
      ]);
      // Byte for byte what connect-node sends.
      expect(onFast.details).toBe(onMain.details);
      expect(detailsBin(onFast).equals(detailsBin(onMain))).toBe(true);
    }
  });

  it("answers a missing call_id INVALID_ARGUMENT / SW_CALL_INVALID_ARGUMENT, as the main port does", async () => {
    const alice = await userToken("alice");
    const [onFast, onMain] = await Promise.all([apiFailure(fast.get(alice, "")), apiFailure(main.get(alice, ""))]);
    expect(onFast).toMatchObject({ code: "SW_CALL_INVALID_ARGUMENT", protocolStatus: "INVALID_ARGUMENT" });
    expect(onFast).toEqual(onMain);
  });

  it("answers bytes that are no protobuf message INVALID_ARGUMENT / SW_CALL_INVALID_ARGUMENT", async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const auth = { authorization: `Bearer ${await userToken("alice")}` };
    const onFast = await failure(rawCall(fastRaw, GET_CALL, garbage, auth));
    expect(onFast.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcApiError(onFast).code).toBe("SW_CALL_INVALID_ARGUMENT");
    // (connect-node on the main port answers these INTERNAL, "parse binary: premature EOF", without an
    // ErrorInfo: it fails to parse before any handler runs. Here the handler decodes, so the client is blamed.)
  });

  it("refuses a request over MAX_REQUEST_BYTES with RESOURCE_EXHAUSTED, as the main port does", async () => {
    const request = toBinary(GetCallRequestSchema, create(GetCallRequestSchema, { callId: "x".repeat(70_000) }));
    const auth = { authorization: `Bearer ${await userToken("alice")}` };
    // Only here: on the main port connect-node answers the same code but leaves the HTTP/2 stream
    // half-open (the unread body), which holds its graceful close for the whole grace period.
    expect((await failure(rawCall(fastRaw, GET_CALL, request, auth))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("gives a caller outside the call's room the same code and reason as the main port", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { call_id } = await fast.initiate(await userToken("alice"), roomId, "video");
    const carol = await userToken("carol");
    const [onFast, onMain] = await Promise.all([apiFailure(fast.get(carol, call_id)), apiFailure(main.get(carol, call_id))]);
    expect(["SW_CALL_FORBIDDEN", "SW_CALL_NOT_FOUND"]).toContain(onFast.code);
    expect(onFast).toEqual(onMain);
    // Another tenant cannot tell the call exists, on either port.
    const mallory = await userToken("mallory", "other-tenant");
    const [otherFast, otherMain] = await Promise.all([apiFailure(fast.get(mallory, call_id)), apiFailure(main.get(mallory, call_id))]);
    expect(otherFast).toMatchObject({ code: "SW_CALL_NOT_FOUND", protocolStatus: "NOT_FOUND" });
    expect(otherFast).toEqual(otherMain);
  });

  it("serves grpc.health.v1.Health/Check without a token", async () => {
    const check = (service: string) =>
      rawCall(fastRaw, "/grpc.health.v1.Health/Check", toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));
    for (const name of ["", "scaiwave.calls.v1.CallsService", "scaiwave.calls.v1.DirectoryService"]) {
      expect(fromBinary(HealthCheckResponseSchema, (await check(name)).body).status).toBe(ServingStatus.SERVING);
    }
    expect((await failure(check("no.such.Service"))).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe("closing the service", () => {
  it("closes the grpc-js port too, without waiting for idle client connections", async () => {
    const own = await startService(livekit, { GRPC_PORT: "0" });
    const port = own.grpcPort!;
    const client = grpcJsApi(`127.0.0.1:${port}`);
    try {
      // An open HTTP/2 connection, idle once this call is answered.
      expect((await apiFailure(client.get("not-a-jwt", "call-x"))).code).toBe("SW_CALL_UNAUTHENTICATED");
      const started = performance.now();
      await own.stop();
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      client.close();
      await own.stop();
    }
    const socket = connect(port, "127.0.0.1");
    // events.once rejects with the socket's error event.
    const outcome = await once(socket, "connect").then(
      () => "connected",
      (err: NodeJS.ErrnoException) => err.code,
    );
    socket.destroy();
    expect(outcome).toBe("ECONNREFUSED");
  });
});
