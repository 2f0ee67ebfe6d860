import type { Health } from "./health.js";
import { sendJson, type NodeRequest, type NodeResponse } from "./http-types.js";
import type { RestGateway } from "./rest/gateway.js";
import { WEBHOOK_PATH, type WebhookEndpoint } from "./webhook.js";
import { applyCors } from "./cors.js";
import { requestIdFrom } from "./request-id.js";

export interface RequestHandlerParts {
  readonly health: Health;
  readonly rest: RestGateway;
  readonly webhook: WebhookEndpoint;
  readonly corsAllowedOrigins: readonly string[];
  /** The OpenAPI 3.1 document of the REST surface, built once from the annotations. */
  readonly openApi: object;
  /** Prometheus text format at /metrics. */
  readonly metrics: { serve(res: NodeResponse): Promise<void> };
  /** connect-node's adapter: Connect, gRPC and gRPC-web on `/<package>.<Service>/<Method>`. */
  readonly connect: (req: NodeRequest, res: NodeResponse) => void;
  /** The web console's static files at /console (serveConsole); false when the request is not for it. */
  readonly console: (req: NodeRequest, res: NodeResponse) => boolean;
}

/**
 * Splits one port's traffic: health probes, LiveKit's webhook, Connect-family RPCs (their first
 * path segment is a dotted service name, which no REST path has), and the
 * REST gateway for everything else (it answers unknown paths with a 404 envelope).
 */
export function createRequestHandler(parts: RequestHandlerParts) {
  return (req: NodeRequest, res: NodeResponse): void => {
    // Every answer names its request; the transports' logs and the events it causes carry the same id.
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    res.setHeader("x-request-id", requestId);
    // Connect-family routes read the id from the request headers (connect-node copies them): they see the one answered.
    req.headers["x-request-id"] = requestId;
    dispatch(parts, req, res, requestId);
  };
}

function dispatch(parts: RequestHandlerParts, req: NodeRequest, res: NodeResponse, requestId: string): void {
  {
    const url = req.url ?? "/";
    if (url === "/healthz") return parts.health.liveness(res);
    if (url === "/openapi.json" && req.method === "GET") return sendJson(res, 200, parts.openApi);
    if (url === "/metrics") {
      void parts.metrics.serve(res);
      return;
    }
    if (url === "/readyz") {
      void parts.health.readiness(res);
      return;
    }
    if (url === WEBHOOK_PATH) {
      void parts.webhook.handle(req, res, requestId);
      return;
    }
    if (applyCors(parts.corsAllowedOrigins, req, res)) return;
    const firstSegment = url.slice(1, url.indexOf("/", 1) >>> 0);
    if (firstSegment.includes(".")) return parts.connect(req, res);
    if (parts.console(req, res)) return;
    void parts.rest.handle(req, res, requestId);
  }
}
