import type { Message } from "@bufbuild/protobuf";
import { Server, ServerCredentials, type MethodDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { Health } from "../../../gen/health/v1/health_pb.js";
import type { Logger } from "../../app/ports.js";
import type { HealthStatus } from "../grpc-ecosystem/health.js";
import type { RegisteredMethod, RpcRegistry } from "../rpc/registry.js";
import { healthCheckMethod } from "./health-check.js";
import { metadataText, unaryMethod, type UnaryHandle, type UnaryMethod } from "./unary-method.js";

export interface GrpcJsServerParts {
  readonly registry: RpcRegistry;
  readonly logger: Logger;
  /** Larger requests are refused with RESOURCE_EXHAUSTED by grpc-js itself. */
  readonly maxRequestBytes: number;
  /** When given, `grpc.health.v1.Health/Check` answers from it (no token needed, as on the main port). */
  readonly health?: HealthStatus;
}

export interface GrpcJsServer extends AsyncDisposable {
  /** Binds plaintext h2c on host:port (0: any free port); resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Stops taking calls, lets calls in flight finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The registry's unary RPCs on a `@grpc/grpc-js` server: a second listener
 * because grpc-js serves trivial unary gRPC several times faster than
 * connect-node's gRPC (docs/decisions.md). Same handlers, same bearer-token
 * authentication, same error catalogue as the main port. Not listening yet.
 */
export function createGrpcJsServer(parts: GrpcJsServerParts): GrpcJsServer {
  const server = new Server({ "grpc.max_receive_message_length": parts.maxRequestBytes });
  const services = new Map<string, { definition: Record<string, MethodDefinition<Buffer, Message>>; implementation: UntypedServiceImplementation }>();
  const add = (serviceName: string, name: string, { definition, handler }: UnaryMethod) => {
    let service = services.get(serviceName);
    if (!service) services.set(serviceName, (service = { definition: {}, implementation: {} }));
    service.definition[name] = definition;
    service.implementation[name] = handler;
  };
  for (const registered of parts.registry.methods()) {
    const { service, method } = registered;
    add(service.typeName, method.name, unaryMethod(method, registryHandle(registered), parts.logger));
  }
  if (parts.health) add(Health.typeName, Health.method.check.name, healthCheckMethod(parts.health, parts.logger));
  for (const { definition, implementation } of services.values()) server.addService(definition, implementation);

  const close = (graceMs = 10_000) =>
    new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        // grpc-js takes "host:port"; an IPv6 literal needs brackets there.
        const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
      }),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

/** Runs the shared handler (which authenticates the `authorization` metadata); cancelling the call aborts its signal. */
function registryHandle(registered: RegisteredMethod): UnaryHandle {
  return (input, call, requestId) => {
    const cancelled = new AbortController();
    call.once("cancelled", () => cancelled.abort());
    const request = { authorization: metadataText(call.metadata, "authorization"), signal: cancelled.signal, protocol: "grpc", requestId };
    return registered.invoke(request, input);
  };
}
