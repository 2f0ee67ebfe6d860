import { SignJWT } from "jose";

/** The HS256 secret the test service verifies bearer tokens with. */
export const TEST_JWT_SECRET = "test-secret-for-scaiwave-calls-0123456789abcdef";

export interface TokenOptions {
  readonly tenantId?: string;
  readonly scope?: string;
  readonly expiresInSeconds?: number;
  readonly secret?: string;
}

/** A bearer JWT as ScaiWave's auth would issue it: `sub` user, `tid` tenant. */
export async function bearer(subject: string, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (options.tenantId !== undefined) claims["tid"] = options.tenantId;
  if (options.scope !== undefined) claims["scope"] = options.scope;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (options.expiresInSeconds ?? 300))
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

export const userToken = (userId: string, tenantId = "acme", options: TokenOptions = {}) =>
  bearer(userId, { tenantId, ...options });

export const internalToken = () => bearer("rooms-sync", { scope: "calls.internal" });
