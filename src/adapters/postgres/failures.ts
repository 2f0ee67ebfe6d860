import { CallError, CallErrorCode } from "../../domain/errors.js";

/**
 * SQLSTATE classes and codes that mean "the database is not there right now",
 * not "this request is wrong": connection exceptions (08), the server
 * shutting down or starting (57P01-57P03), a statement cancelled by
 * `statement_timeout` (57014), too many connections (53300).
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "57014", "53300"]);
/** Node's socket errors, and pg's own for a dead or unreachable server. */
const UNAVAILABLE_MESSAGES = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/** Whether a pg error means the database is unavailable (the request may be retried). */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (code.startsWith("08") || UNAVAILABLE_STATES.has(code)) return true;
  return typeof e?.message === "string" && UNAVAILABLE_MESSAGES.test(e.message);
}

/** A pg failure as the service answers it: unavailable → SW_CALL_STORE_UNAVAILABLE (503), anything else as is. */
export function translated(err: unknown): unknown {
  if (err instanceof CallError || !isUnavailable(err)) return err;
  return new CallError(CallErrorCode.StoreUnavailable, "the database is unavailable; try again shortly", { cause: err });
}

/** The pool's `query`, with an unavailable database answered as SW_CALL_STORE_UNAVAILABLE. */
export function translatingQueries<Q extends { query: (...args: never[]) => Promise<unknown> }>(db: Q): Q {
  return {
    query: (...args: Parameters<Q["query"]>) => db.query(...args).catch((err: unknown) => Promise.reject(translated(err))),
  } as unknown as Q;
}
