import { Code } from "@connectrpc/connect";
import { expect } from "vitest";
import { ApiError } from "./clients.js";

/** The wire status each SW_CALL_* code must carry, per protocol family (the error catalogue's contract). */
export const WIRE_STATUS: Readonly<Record<string, { readonly rest: number; readonly connect: Code; readonly grpc: string }>> = {
  SW_CALL_NOT_FOUND: { rest: 404, connect: Code.NotFound, grpc: "NOT_FOUND" },
  SW_CALL_ENDED: { rest: 410, connect: Code.FailedPrecondition, grpc: "FAILED_PRECONDITION" },
  SW_CALL_FORBIDDEN: { rest: 403, connect: Code.PermissionDenied, grpc: "PERMISSION_DENIED" },
  SW_CALL_UNAUTHENTICATED: { rest: 401, connect: Code.Unauthenticated, grpc: "UNAUTHENTICATED" },
  SW_CALL_INVALID_ARGUMENT: { rest: 400, connect: Code.InvalidArgument, grpc: "INVALID_ARGUMENT" },
  SW_CALL_NOT_RINGING: { rest: 409, connect: Code.FailedPrecondition, grpc: "FAILED_PRECONDITION" },
  SW_CALL_RECORDING_DISABLED: { rest: 403, connect: Code.FailedPrecondition, grpc: "FAILED_PRECONDITION" },
};

/** Awaits a call that must fail with `code`, carried on the wire as the protocol family `kind` requires. */
export async function expectWireError(
  kind: "rest" | "connect" | "grpc",
  promise: Promise<unknown>,
  code: string,
  message?: string | RegExp,
): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(ApiError);
  const apiError = err as ApiError;
  expect(apiError.code).toBe(code);
  expect(apiError.protocolStatus).toBe(WIRE_STATUS[code]?.[kind]);
  if (message !== undefined) expect(apiError.message).toMatch(message);
}
