import { expect } from "vitest";
import { CallError, type CallErrorCode } from "../../src/domain/errors.js";

/** Runs `fn`, which must throw a CallError with `code`; returns it for further checks. */
export function expectCallError(fn: () => unknown, code: CallErrorCode): CallError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CallError);
  const error = caught as CallError;
  expect(error.code).toBe(code);
  return error;
}
