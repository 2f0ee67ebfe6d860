import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/**
 * The request a piece of work belongs to, carried implicitly through async
 * calls (like a trace context) so that logs, LiveKit calls and the events a
 * request causes all name it without every function passing it along.
 */
export interface RequestContext {
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/** The current request's id, or undefined outside a request (timers, the relay). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

const SAFE = /^[A-Za-z0-9._:=@+-]{1,128}$/;

/** A caller's `X-Request-Id` when it is sane, else a fresh one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  // randomUUID draws from a cached entropy pool: far cheaper per request than randomBytes.
  return given && SAFE.test(given) ? given : `req-${randomUUID()}`;
}
