import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { Health as GrpcHealth } from "../../gen/health/v1/health_pb.js";
import { connectRoutes } from "../transport/connect-routes.js";
import { defaultConsoleDir, serveConsole } from "../transport/console.js";
import { ERROR_DETAIL_FILES } from "../transport/error-catalogue.js";
import { withPlainGrpcMessage } from "../transport/grpc-message.js";
import { healthRoutes, type HealthStatus } from "../transport/grpc-ecosystem/health.js";
import { reflectionRoutes } from "../transport/grpc-ecosystem/reflection.js";
import type { GrpcJsServer } from "../transport/grpc-js/grpc-js-server.js";
import { buildOpenApi } from "../transport/openapi.js";
import { createRequestHandler } from "../transport/request-handler.js";
import { RestGateway } from "../transport/rest/gateway.js";
import { RouteTable } from "../transport/rest/route-table.js";
import { createCallsServer } from "../transport/server.js";
import { WebhookEndpoint } from "../transport/webhook.js";
import type { AppContext } from "./app-context.js";

/** The listeners of one service process, built but not listening: `main.ts` (or a test) decides where. */
export interface HttpServer extends AsyncDisposable {
  /** The one port: gRPC (h2c), gRPC-web, Connect, REST, the webhook, health, metrics, OpenAPI, the console. */
  listen(port: number, host: string): Promise<{ address: string; port: number }>;
  /**
   * The grpc-js listener when GRPC_PORT is set (else undefined): binds it on
   * GRPC_PORT and HOST and resolves with the bound port.
   */
  readonly grpc: { listen(): Promise<number> } | undefined;
  /** Stops taking requests and lets those in flight finish (open gRPC health streams hear NOT_SERVING first). */
  close(): Promise<void>;
}

/** Everything the service answers over HTTP, on the registry and the rest of the context. */
export function buildServer(ctx: AppContext): HttpServer {
  const { config, logger, registry, health, metrics } = ctx;
  const restRoutes = new RouteTable(registry.methods());
  const servedServices = registry.services.map((service) => service.typeName);
  const grpcShutdown = new AbortController();
  const grpcHealth: HealthStatus = (service) =>
    service === "" || servedServices.includes(service) ? (health.isDraining ? "NOT_SERVING" : "SERVING") : undefined;

  const server = createCallsServer(
    createRequestHandler({
      openApi: buildOpenApi(restRoutes, { title: "ScaiWave Calls", version: "1" }),
      health,
      corsAllowedOrigins: config.corsAllowedOrigins,
      metrics,
      console: serveConsole(defaultConsoleDir()),
      rest: new RestGateway({ routes: restRoutes, logger, maxBodyBytes: config.maxRequestBytes }),
      webhook: new WebhookEndpoint({
        verifier: ctx.webhookVerifier,
        ingest: ctx.webhookIngest,
        logger,
        // LiveKit's bodies are small; egress results with many files are the largest.
        maxBodyBytes: 1024 * 1024,
        onOutcome: (outcome) => metrics.observeWebhook(outcome),
        settle: ctx.settle,
      }),
      connect: withPlainGrpcMessage(connectNodeAdapter({
        routes: (router) => {
          connectRoutes(registry, logger)(router);
          // Standard gRPC health and server reflection (grpcurl, buf curl, orchestrators): no token needed.
          healthRoutes(grpcHealth, { services: servedServices, shutdown: grpcShutdown.signal })(router);
          // The error detail files too, so the tools decode the SW_CALL_* reason of an error.
          reflectionRoutes(ERROR_DETAIL_FILES, [...registry.services, GrpcHealth, ServerReflection])(router);
        },
        readMaxBytes: config.maxRequestBytes,
      })),
    }),
  );

  // GRPC_PORT: the same registry on a grpc-js server too, for callers that want fast unary gRPC.
  // grpc-js is loaded only then (~13 MiB of resident memory a service without GRPC_PORT does not carry).
  let grpcJsServer: GrpcJsServer | undefined;
  let closing: Promise<void> | undefined;
  const grpcPort = config.grpcPort;
  const grpc =
    grpcPort === undefined
      ? undefined
      : {
          async listen(): Promise<number> {
            const { createGrpcJsServer } = await import("../transport/grpc-js/grpc-js-server.js");
            if (closing) throw new Error("the service is shutting down");
            grpcJsServer ??= createGrpcJsServer({ registry, logger, maxRequestBytes: config.maxRequestBytes, health: grpcHealth });
            return grpcJsServer.listen(grpcPort, config.host);
          },
        };

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      health.startDraining();
      // Open Health/Watch streams hear NOT_SERVING and end, so they do not hold the server open.
      grpcShutdown.abort();
      await Promise.all([server.close(), grpcJsServer?.close()]);
    })());
  return {
    listen: async (port, host) => {
      const bound = await server.listen(port, host);
      return { address: bound.address, port: bound.port };
    },
    grpc,
    close,
    [Symbol.asyncDispose]: close,
  };
}
