import type { Principal } from "../../adapters/auth/jwt-authenticator.js";
import type { Caller } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { isSafeId } from "../../domain/ids.js";

/** The scope internal ScaiWave services carry to write the directory. */
export const INTERNAL_SCOPE = "calls.internal";

/**
 * A user of the public API: `sub` is the user id, `tid` the tenant. A token
 * without a tenant, or with ids the directory could never hold, is not
 * accepted as a user token.
 */
export function callerOf(principal: Principal): Caller {
  const tenantId = principal.tenantId;
  if (tenantId === undefined || !isSafeId(tenantId) || !isSafeId(principal.subject)) {
    throw new CallError(CallErrorCode.Unauthenticated, "bearer token must carry a valid user (sub) and tenant (tid)");
  }
  return { userId: principal.subject, tenantId };
}

export function requireUser(principal: Principal): void {
  callerOf(principal);
}

export function requireInternal(principal: Principal): void {
  if (!principal.scopes.has(INTERNAL_SCOPE)) {
    throw new CallError(CallErrorCode.Forbidden, `this API needs a token with the ${INTERNAL_SCOPE} scope`);
  }
}
