import type { OutgoingHttpHeaders } from "node:http";
import type { NodeRequest, NodeResponse } from "./http-types.js";

type Handler = (req: NodeRequest, res: NodeResponse) => void;

/**
 * connect-node percent-encodes the `grpc-message` trailer with
 * encodeURIComponent, so `:` `=` `@` `+` `$` `;` `,` `/` arrive as `%3A`…;
 * grpc-js clients decode it with decodeURI, which leaves those escapes as
 * they are ("call_id%3A value is required"). gRPC's own rule encodes only
 * `%` and bytes outside printable ASCII, which every decoder reads back
 * whole; this rewrites connect-node's trailer that way, so a gRPC client
 * reads the same message on this port as on the grpc-js listener.
 */
export function withPlainGrpcMessage(handler: Handler): Handler {
  return (req, res) => {
    // connect-node passes a plain header object (webHeaderToNodeHeaders).
    const addTrailers = res.addTrailers.bind(res) as (headers: OutgoingHttpHeaders) => void;
    res.addTrailers = (headers: OutgoingHttpHeaders) => {
      const message = headers["grpc-message"];
      addTrailers(typeof message === "string" ? { ...headers, "grpc-message": encodeGrpcMessage(decodeGrpcMessage(message)) } : headers);
    };
    handler(req, res);
  };
}

/** gRPC's percent-encoding: `%` and every byte outside 0x20-0x7E as `%XX`, the rest as is. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function decodeGrpcMessage(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
