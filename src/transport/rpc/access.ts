import type { Caller, InternalCaller, Principal } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { isSafeId } from "../../domain/ids.js";

/** The scope internal ScaiWave services carry to write the directory. */
export const INTERNAL_SCOPE = "calls.internal";

/**
 * A user of the public API: `sub` is the user id, `tid` the tenant, acting in
 * request `requestId`. A token without a tenant, or with ids the directory
 * could never hold, is not accepted as a user token.
 */
export function userCaller(principal: Principal, requestId: string): Caller {
  const tenantId = principal.tenantId;
  if (tenantId === undefined || !isSafeId(tenantId) || !isSafeId(principal.subject)) {
    throw new CallError(CallErrorCode.Unauthenticated, "bearer token must carry a valid user (sub) and tenant (tid)");
  }
  return { userId: principal.subject, tenantId, requestId };
}

/** Another ScaiWave service: its token carries the internal scope (a `tid` it may also carry changes nothing). */
export function internalCaller(principal: Principal): InternalCaller {
  if (!principal.scopes.has(INTERNAL_SCOPE)) {
    throw new CallError(CallErrorCode.Forbidden, `this API needs a token with the ${INTERNAL_SCOPE} scope`);
  }
  return { service: principal.subject };
}

/** A user's rate-limit bucket: per tenant and user. */
export const userRateKey = (caller: Caller): string => `${caller.tenantId}/${caller.userId}`;
