import type { JsonObject } from "@bufbuild/protobuf";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import type { NodeRequest } from "../http-types.js";

/** Reads a request body of at most `limit` bytes; larger bodies fail with SW_CALL_PAYLOAD_TOO_LARGE without being buffered. */
export async function readBody(req: NodeRequest, limit: number): Promise<Buffer> {
  const tooLarge = () => new CallError(CallErrorCode.PayloadTooLarge, `request body exceeds ${limit} bytes`);
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The body as a JSON object; an empty body is `{}`. The content type is not
 * checked: `curl -d` sends JSON as form-urlencoded and the docs use it.
 */
export function parseJsonObject(body: Buffer): JsonObject {
  if (body.length === 0 || body.toString("utf8").trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new CallError(CallErrorCode.InvalidArgument, "request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CallError(CallErrorCode.InvalidArgument, "request body must be a JSON object");
  }
  return value as JsonObject;
}
