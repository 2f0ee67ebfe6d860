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

/** What the store keeps per request: the id, and the commits its writes wait for (group commit). */
interface StoredContext extends RequestContext {
  readonly pendingCommits: Set<Promise<void>>;
}

const storage = new AsyncLocalStorage<StoredContext>();

export function runWithRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run({ ...context, pendingCommits: new Set() }, work);
}

/** The current request wrote something that becomes durable when `committed` resolves. */
export function notePendingCommit(committed: Promise<void>): void {
  storage.getStore()?.pendingCommits.add(committed);
}

/** Waits for the commits of everything the current request wrote; rejects if one failed. */
export async function currentRequestCommitted(): Promise<void> {
  const pending = storage.getStore()?.pendingCommits;
  if (pending && pending.size > 0) await Promise.all(pending);
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
