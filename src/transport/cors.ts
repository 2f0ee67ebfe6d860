import { cors as connectCors } from "@connectrpc/connect";
import type { NodeRequest, NodeResponse } from "./http-types.js";

const ALLOW_METHODS = [...new Set([...connectCors.allowedMethods, "GET", "POST"])].join(", ");
const ALLOW_HEADERS = [...new Set([...connectCors.allowedHeaders, "Authorization"])].join(", ");
// Connect's and gRPC-web's response headers and trailers, plus Retry-After of rate-limited answers.
const EXPOSE_HEADERS = [...new Set([...connectCors.exposedHeaders, "Retry-After"])].join(", ");

/**
 * CORS for browsers on other origins (Connect-web with the Connect or gRPC-web
 * protocol, and the REST paths): only the configured origins, with the headers
 * Connect needs allowed and exposed. Returns true when it answered a preflight.
 */
export function applyCors(allowedOrigins: readonly string[], req: NodeRequest, res: NodeResponse): boolean {
  const origin = req.headers.origin;
  if (!origin || allowedOrigins.length === 0) return false;
  const allowed = allowedOrigins.includes("*") || allowedOrigins.includes(origin);
  res.setHeader("vary", "Origin");
  if (allowed) {
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
  }
  if (req.method !== "OPTIONS" || !req.headers["access-control-request-method"]) return false;
  if (allowed) {
    res.setHeader("access-control-allow-methods", ALLOW_METHODS);
    res.setHeader("access-control-allow-headers", ALLOW_HEADERS);
    res.setHeader("access-control-max-age", "7200");
  }
  // A refused origin gets a preflight without CORS headers: the browser blocks the call.
  res.writeHead(204);
  res.end();
  return true;
}
