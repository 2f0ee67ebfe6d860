import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ErrorInfoSchema, file_google_rpc_error_details, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { file_google_rpc_status } from "../../gen/google/rpc/status_pb.js";
import { CallError, CallErrorCode, isCallError } from "../domain/errors.js";
import type { Logger } from "../app/ports.js";
import { sendJson, type NodeResponse } from "./http-types.js";
import { RateLimitedError } from "./rate-limiter.js";

/**
 * The one table that puts every `SW_CALL_*` code on the wire: its Connect/gRPC
 * code and its HTTP status on the REST paths. HTTP statuses follow docs/api.md
 * (SW_CALL_ENDED is 410 Gone), so they are listed here, not derived from Code.
 */
export const ERROR_CATALOGUE: Readonly<Record<CallErrorCode, { readonly code: Code; readonly httpStatus: number }>> = {
  SW_CALL_NOT_FOUND: { code: Code.NotFound, httpStatus: 404 },
  SW_CALL_ENDED: { code: Code.FailedPrecondition, httpStatus: 410 },
  SW_CALL_FORBIDDEN: { code: Code.PermissionDenied, httpStatus: 403 },
  SW_CALL_RECORDING_DISABLED: { code: Code.FailedPrecondition, httpStatus: 403 },
  SW_CALL_LIVEKIT_UNREACHABLE: { code: Code.Unavailable, httpStatus: 503 },
  SW_CALL_STORE_UNAVAILABLE: { code: Code.Unavailable, httpStatus: 503 },
  SW_CALL_UNAUTHENTICATED: { code: Code.Unauthenticated, httpStatus: 401 },
  SW_CALL_INVALID_ARGUMENT: { code: Code.InvalidArgument, httpStatus: 400 },
  SW_CALL_NOT_RINGING: { code: Code.FailedPrecondition, httpStatus: 409 },
  SW_CALL_PARTICIPANT_NOT_FOUND: { code: Code.NotFound, httpStatus: 404 },
  SW_CALL_ALREADY_RECORDING: { code: Code.FailedPrecondition, httpStatus: 409 },
  SW_CALL_NOT_RECORDING: { code: Code.FailedPrecondition, httpStatus: 409 },
  SW_CALL_RATE_LIMITED: { code: Code.ResourceExhausted, httpStatus: 429 },
  SW_CALL_PAYLOAD_TOO_LARGE: { code: Code.ResourceExhausted, httpStatus: 413 },
  SW_CALL_ROUTE_NOT_FOUND: { code: Code.NotFound, httpStatus: 404 },
  SW_CALL_METHOD_NOT_ALLOWED: { code: Code.Unimplemented, httpStatus: 405 },
  SW_CALL_INTERNAL: { code: Code.Internal, httpStatus: 500 },
};

/** `ErrorInfo.domain` of every error this service sends. */
export const ERROR_DOMAIN = "calls.scaiwave";

/**
 * The schema of what an error carries on the wire (a `google.rpc.Status` with
 * an ErrorInfo detail), for server reflection: without it grpcurl and
 * `buf curl` cannot decode the SW_CALL_* reason.
 */
export const ERROR_DETAIL_FILES = [file_google_rpc_status, file_google_rpc_error_details] as const;

/**
 * Anything thrown becomes a CallError. Unexpected errors are logged with
 * their cause and reach the client only as SW_CALL_INTERNAL, never with
 * their message (it may hold internals). A SW_CALL_INTERNAL thrown on
 * purpose (a refused LiveKit key) is logged here too, once per request, by
 * its cause's message: that one is for the operator. Each line names the
 * request (`requestId`, as answered in X-Request-Id).
 */
export function asCallError(err: unknown, logger: Logger, requestId: string): CallError {
  if (isCallError(err)) {
    if (err.code === CallErrorCode.Internal) {
      logger.error({ err: err.cause ?? err, requestId }, err.cause instanceof Error ? err.cause.message : err.message);
    }
    return err;
  }
  logger.error({ err, requestId }, "unexpected error while handling a request");
  return new CallError(CallErrorCode.Internal, "internal error", { cause: err });
}

/**
 * What every RPC protocol sends for a CallError: the Connect/gRPC code, the
 * SW_CALL_* reason as a `google.rpc.ErrorInfo` detail, and extra metadata
 * (`retry-after` when rate limited). connect-node and the grpc-js listener
 * both build their errors from this, so the two ports answer alike.
 */
export function rpcError(err: CallError): { code: Code; errorInfo: ErrorInfo; metadata: Readonly<Record<string, string>> } {
  return {
    code: ERROR_CATALOGUE[err.code].code,
    errorInfo: create(ErrorInfoSchema, { reason: err.code, domain: ERROR_DOMAIN }),
    metadata: err instanceof RateLimitedError ? { "retry-after": String(err.retryAfterSeconds) } : {},
  };
}

/**
 * A CallError on the plain HTTP paths (REST, the webhook, the console): the
 * catalogue's status, `{"error": {"code", "message"}}`, and `retry-after` when
 * rate limited.
 */
export function sendCallError(res: NodeResponse, err: CallError, headers: Record<string, string> = {}): void {
  const { metadata } = rpcError(err);
  sendJson(res, ERROR_CATALOGUE[err.code].httpStatus, { error: { code: err.code, message: err.message } }, { ...metadata, ...headers });
}

/** A CallError for Connect, gRPC and gRPC-web: the code, plus the SW_CALL_* reason in an ErrorInfo detail. */
export function toConnectError(err: CallError): ConnectError {
  const { code, errorInfo, metadata } = rpcError(err);
  return new ConnectError(err.message, code, metadata, [{ desc: ErrorInfoSchema, value: errorInfo }]);
}
