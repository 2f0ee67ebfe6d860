import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { describe, expect, it } from "vitest";
import { CallError, type CallErrorCode } from "../../src/domain/errors.js";
import { ERROR_CATALOGUE, toConnectError } from "../../src/transport/error-catalogue.js";
import { toGrpcStatus } from "../../src/transport/grpc-js/status.js";
import { RateLimitedError } from "../../src/transport/rate-limiter.js";

/** What connect-node puts in a gRPC response's trailers for the same error. */
function connectTrailers(err: CallError): Headers {
  return setTrailerStatus(new Headers(), toConnectError(err));
}

describe("toGrpcStatus", () => {
  it.each(Object.keys(ERROR_CATALOGUE) as CallErrorCode[])("sends %s exactly as connect-node's gRPC does", (code) => {
    const err = new CallError(code, `something about ${code}: 100% wrong`);
    const status = toGrpcStatus(err);
    const trailers = connectTrailers(err);
    expect(status.code).toBe(Number(trailers.get("grpc-status")));
    expect(status.details).toBe(err.message);
    // connect-node sends -bin values as unpadded base64; grpc-js takes the bytes.
    const details = status.metadata.get("grpc-status-details-bin")[0] as Buffer;
    expect(details.toString("base64").replace(/=+$/, "")).toBe(trailers.get("grpc-status-details-bin"));
  });

  it("tells a rate-limited caller when to retry, in the trailers as connect-node does", () => {
    const err = new RateLimitedError(7);
    expect(toGrpcStatus(err).metadata.get("retry-after")).toEqual(["7"]);
    expect(connectTrailers(err).get("retry-after")).toBe("7");
  });
});
