import { randomUUID } from "node:crypto";

const SAFE = /^[A-Za-z0-9._:=@+-]{1,128}$/;

/**
 * A caller's `X-Request-Id` when it is sane, else a fresh one. Every answer
 * names its request this way; the transports hand the id on explicitly (to the
 * registry, the use cases' `Caller`, and the log lines they write about it).
 */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  // randomUUID draws from a cached entropy pool: far cheaper per request than randomBytes.
  return given && SAFE.test(given) ? given : `req-${randomUUID()}`;
}
