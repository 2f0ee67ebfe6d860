import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import { CallsService } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { healthRoutes, type HealthStatus } from "../../src/transport/grpc-ecosystem/health.js";
import { reflectionRoutes } from "../../src/transport/grpc-ecosystem/reflection.js";
import { createCallsServer } from "../../src/transport/server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * gRPC health checking and server reflection, checked with the real tools
 * (grpcurl, `buf curl`) against the real service, and in detail (Watch,
 * List, reflection edge cases) against a server whose health the test controls.
 */

const GRPCURL_VERSION = "v1.9.4";

function grpcurlBinaryPath(): string {
  const cache = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
  const path = join(cache, "bin", `grpcurl-${GRPCURL_VERSION}`);
  if (!existsSync(path)) {
    throw new Error(`grpcurl ${GRPCURL_VERSION} not found at ${path}: run scripts/install-test-deps.sh`);
  }
  return path;
}

const BUF = join(process.cwd(), "node_modules", ".bin", "buf");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `grpcurl -plaintext [flags] address [list | describe X | Service/Method]`. */
const grpcurl = (address: string, rest: string[], flags: string[] = []) =>
  run(grpcurlBinaryPath(), ["-plaintext", "-max-time", "10", ...flags, address, ...rest]);

/** A status the tests can change while the server runs. */
const statuses = new Map<string, "SERVING" | "NOT_SERVING">([
  ["", "SERVING"],
  [CallsService.typeName, "SERVING"],
  [DirectoryService.typeName, "SERVING"],
]);
const status: HealthStatus = (service) => statuses.get(service);

const exposed = [CallsService, DirectoryService, Health, reflectionV1.ServerReflection];

let service: RunningService;
/** Health (with the test's statuses) and reflection alone, on the service's own server type. */
let front: { address: string; close(): Promise<void> };

beforeAll(async () => {
  grpcurlBinaryPath(); // fail fast, with the install hint
  service = await startService(sharedLiveKit());
  const server = createCallsServer(
    connectNodeAdapter({
      routes: (router) => {
        healthRoutes(status, { services: [CallsService.typeName, DirectoryService.typeName] })(router);
        reflectionRoutes([], exposed)(router);
      },
    }),
  );
  const { port } = await server.listen(0, "127.0.0.1");
  front = { address: `127.0.0.1:${port}`, close: () => server.close(1000) };
});

afterAll(async () => {
  await front?.close();
  await service?.stop();
});

/** The checks any server with health + reflection over the real service must pass. */
function realToolChecks(target: () => { address: string }) {
  it("grpcurl lists the services through reflection", async () => {
    const t = target();
    const r = await grpcurl(t.address, ["list"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const names = r.stdout.trim().split("\n");
    expect(names).toEqual(expect.arrayContaining(["scaiwave.calls.v1.CallsService", "scaiwave.calls.v1.DirectoryService", "grpc.health.v1.Health"]));
  });

  it("grpcurl describes CallsService with every RPC, its methods and messages", async () => {
    const t = target();
    const r = await grpcurl(t.address, ["describe", "scaiwave.calls.v1.CallsService"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("scaiwave.calls.v1.CallsService is a service:");
    for (const method of CallsService.methods) {
      expect(r.stdout).toContain(`rpc ${method.name} ( .${method.input.typeName} ) returns ( .${method.output.typeName} )`);
    }
    const method = await grpcurl(t.address, ["describe", "scaiwave.calls.v1.CallsService.GetCall"]);
    expect(method.stdout).toContain("scaiwave.calls.v1.CallsService.GetCall is a method:");
    const message = await grpcurl(t.address, ["describe", "scaiwave.calls.v1.GetCallRequest"]);
    expect(message.stdout).toMatch(/string call_id = 1\b/);
  });

  it("grpcurl: Health/Check answers SERVING, and NOT_FOUND for an unknown service", async () => {
    const t = target();
    const r = await grpcurl(t.address, ["grpc.health.v1.Health/Check"], ["-d", '{"service":""}']);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" });
    const unknown = await grpcurl(t.address, ["grpc.health.v1.Health/Check"], ["-d", '{"service":"no.such.Service"}']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("Code: NotFound");
  });

  it("grpcurl calls CallsService/GetCall from the reflected schema (NotFound for an unknown call)", async () => {
    const t = target();
    const token = await userToken("alice");
    const r = await grpcurl(t.address, ["scaiwave.calls.v1.CallsService/GetCall"], ["-H", `authorization: Bearer ${token}`, "-d", '{"call_id":"nope"}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Code: NotFound");
    // The ErrorInfo detail is decoded from the reflected google/rpc/error_details.proto, not left as raw bytes.
    expect(r.stderr).toContain('"reason": "SW_CALL_NOT_FOUND"');
    expect(r.stderr).not.toContain("is not recognized");
    // Without a token the service answers, too: the request reached it.
    const anonymous = await grpcurl(t.address, ["scaiwave.calls.v1.CallsService/GetCall"], ["-d", '{"call_id":"nope"}']);
    expect(anonymous.stderr).toContain("Code: Unauthenticated");
  });

  it("grpcurl -format-error shows the SW_CALL_* reason of an error as JSON", async () => {
    const t = target();
    const token = await userToken("alice");
    const r = await grpcurl(
      t.address,
      ["scaiwave.calls.v1.CallsService/GetCall"],
      ["-format-error", "-H", `authorization: Bearer ${token}`, "-d", '{"call_id":"nope"}'],
    );
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stderr)).toEqual({
      code: Code.NotFound,
      message: "call nope not found",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "SW_CALL_NOT_FOUND", domain: "calls.scaiwave" }],
    });
  });

  it("grpcurl describes google.rpc.ErrorInfo and google.rpc.Status through reflection", async () => {
    const t = target();
    const info = await grpcurl(t.address, ["describe", "google.rpc.ErrorInfo"]);
    expect(info.stderr).toBe("");
    expect(info.stdout).toContain("google.rpc.ErrorInfo is a message:");
    expect(info.stdout).toMatch(/string reason = 1;/);
    const status = await grpcurl(t.address, ["describe", "google.rpc.Status"]);
    expect(status.stdout).toMatch(/repeated \.google\.protobuf\.Any details = 3;/);
  });

  it("buf curl shows the SW_CALL_* reason of an error", async () => {
    const t = target();
    const token = await userToken("alice");
    // Over Connect (buf curl's default protocol) the service sends each detail's JSON too (`debug`).
    // Over gRPC buf curl prints a detail's bytes only: it decodes details with the types compiled
    // into it, not with the reflected ones.
    const r = await run(BUF, [
      "curl",
      "--http2-prior-knowledge",
      "--reflect",
      "-H",
      `authorization: Bearer ${token}`,
      "--data",
      '{"call_id":"nope"}',
      `http://${t.address}/scaiwave.calls.v1.CallsService/GetCall`,
    ]);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stderr)).toMatchObject({
      code: "not_found",
      details: [{ type: "google.rpc.ErrorInfo", debug: { reason: "SW_CALL_NOT_FOUND", domain: "calls.scaiwave" } }],
    });
  });

  it.for(["grpc-v1", "grpc-v1alpha"])("buf curl calls Health/Check with the schema from %s reflection", async (protocol) => {
    const t = target();
    const r = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--reflect",
      "--reflect-protocol",
      protocol,
      "--data",
      '{"service":""}',
      `http://${t.address}/grpc.health.v1.Health/Check`,
    ]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" });
  });
}

describe("grpcurl and buf curl against the service", () => {
  realToolChecks(() => ({ address: `127.0.0.1:${service.port}` }));
});

describe("health and reflection details, over a gRPC client", () => {
  const transport = () => createGrpcTransport({ baseUrl: `http://${front.address}` });

  it("Watch sends the current status, then each change, until the client cancels", async () => {
    const client = createClient(Health, transport());
    const abort = new AbortController();
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const res of client.watch({ service: DirectoryService.typeName }, { signal: abort.signal })) {
        seen.push(res.status);
        if (seen.length === 1) statuses.set(DirectoryService.typeName, "NOT_SERVING");
        if (seen.length === 2) abort.abort();
      }
    })();
    const err = await watching.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    statuses.set(DirectoryService.typeName, "SERVING");
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(err?.code).toBe(Code.Canceled);
  });

  it("Watch of an unknown service answers SERVICE_UNKNOWN and stays open", async () => {
    const client = createClient(Health, transport());
    const abort = new AbortController();
    const stream = client.watch({ service: "no.such.Service" }, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    const next = stream.next();
    const raced = await Promise.race([next.then(() => "message"), new Promise((r) => setTimeout(() => r("still open"), 200))]);
    expect(raced).toBe("still open");
    abort.abort();
    await next.catch(() => undefined);
  });

  it("on shutdown, an open Watch sends NOT_SERVING and ends with OK, not holding the server's close up", async () => {
    const shutdown = new AbortController();
    // The service's own one-port HTTP/1.1 + h2c server, as the service would serve these routes.
    const server = createCallsServer(connectNodeAdapter({ routes: healthRoutes(() => "SERVING", { shutdown: shutdown.signal }) }));
    const { port } = await server.listen(0, "127.0.0.1");
    const client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const res of client.watch({ service: "" })) seen.push(res.status);
    })();
    await vi.waitFor(() => expect(seen).toEqual([ServingStatus.SERVING]), { interval: 10 });
    const started = Date.now();
    shutdown.abort();
    const graceMs = 5000;
    await server.close(graceMs);
    await watching; // ends without an error
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    // The close did not wait out its grace period for the stream.
    expect(Date.now() - started).toBeLessThan(graceMs);
  });

  it("List reports every named service", async () => {
    const res = await createClient(Health, transport()).list({});
    expect(Object.fromEntries(Object.entries(res.statuses).map(([k, v]) => [k, v.status]))).toEqual({
      "": ServingStatus.SERVING,
      [CallsService.typeName]: ServingStatus.SERVING,
      [DirectoryService.typeName]: ServingStatus.SERVING,
    });
  });

  it("reflection: files by name and symbol come with their dependencies once per stream; extensions; errors", async () => {
    const client = createClient(reflectionV1.ServerReflection, transport());
    const requests: reflectionV1.ServerReflectionRequest["messageRequest"][] = [
      { case: "fileContainingSymbol", value: "scaiwave.calls.v1.CallsService" },
      { case: "fileByFilename", value: "google/api/annotations.proto" },
      { case: "fileContainingSymbol", value: "scaiwave.calls.v1.CallType" },
      { case: "fileContainingExtension", value: create(reflectionV1.ExtensionRequestSchema, { containingType: "google.protobuf.MethodOptions", extensionNumber: 72295728 }) },
      { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" },
      { case: "fileContainingSymbol", value: "no.such.Symbol" },
      { case: "allExtensionNumbersOfType", value: "no.such.Message" },
      { case: "listServices", value: "" },
    ];
    async function* send() {
      for (const messageRequest of requests) yield { host: "calls", messageRequest };
    }
    const responses: reflectionV1.ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(send())) responses.push(res);
    const fileNames = (i: number) => {
      const r = responses[i]!.messageResponse;
      if (r.case !== "fileDescriptorResponse") throw new Error(`response ${i} is ${r.case}`);
      return r.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
    };
    expect(responses[0]!.validHost).toBe("calls");
    expect(responses[0]!.originalRequest?.messageRequest.value).toBe("scaiwave.calls.v1.CallsService");
    // The file, then its transitive dependencies breadth first.
    expect(fileNames(0)).toEqual([
      "scaiwave/calls/v1/calls.proto",
      "buf/validate/validate.proto",
      "google/api/annotations.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "google/protobuf/descriptor.proto",
      "google/protobuf/field_mask.proto",
      "google/api/http.proto",
    ]);
    expect(fileNames(1)).toEqual(["google/api/annotations.proto"]); // its dependencies went out already
    expect(fileNames(2)).toEqual(["scaiwave/calls/v1/calls.proto"]);
    expect(fileNames(3)).toEqual(["google/api/annotations.proto"]);
    expect(responses[4]!.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.MethodOptions", extensionNumber: [72295728] },
    });
    expect(responses[5]!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(responses[6]!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(responses[7]!.messageResponse).toMatchObject({ case: "listServicesResponse" });
    const listed = responses[7]!.messageResponse.case === "listServicesResponse" ? responses[7]!.messageResponse.value.service.map((s) => s.name) : [];
    expect(listed).toEqual(exposed.map((s) => s.typeName));
  });

  it("reflection v1alpha answers the same", async () => {
    const client = createClient(reflectionV1alpha.ServerReflection, transport());
    async function* send() {
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "scaiwave.calls.v1.DirectoryService.PutRoom" } };
    }
    for await (const res of client.serverReflectionInfo(send())) {
      expect(res.messageResponse.case).toBe("fileDescriptorResponse");
      const names = res.messageResponse.case === "fileDescriptorResponse" ? res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name) : [];
      expect(names[0]).toBe("scaiwave/calls/v1/directory.proto");
    }
  });
});
