import { createHash, createHmac } from "node:crypto";
import { AccessToken } from "livekit-server-sdk";

// Benchmarks need hundreds of thousands of distinct signed requests; jose's
// async signing would take longer than the runs. These build the same HS256
// JWTs synchronously.

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

export function hs256(claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${createHmac("sha256", secret).update(signingInput).digest("base64url")}`;
}

/** A ScaiWave user's bearer token: `sub` user, `tid` tenant, valid for an hour. */
export function userBearer(userId: string, tenantId: string, secret: string): string {
  const now = Math.floor(Date.now() / 1000);
  return `Bearer ${hs256({ sub: userId, tid: tenantId, iat: now - 5, exp: now + 3600 }, secret)}`;
}

/** LiveKit's webhook `Authorization` header for `body`: iss = API key, sha256 = base64 digest of the body. */
export function webhookAuthorization(body: string, apiKey: string, apiSecret: string): string {
  const now = Math.floor(Date.now() / 1000);
  const sha256 = createHash("sha256").update(body).digest("base64");
  return hs256({ iss: apiKey, nbf: now - 60, exp: now + 3600, sha256 }, apiSecret);
}

/**
 * A LiveKit join token as livekit-server-sdk mints it (AccessToken, the grant
 * the service gives): the floors' token, and the reference the service's own
 * minter is measured against.
 */
export function sdkJoinToken(apiKey: string, apiSecret: string, identity: string, room: string, ttlSeconds = 600): Promise<string> {
  const token = new AccessToken(apiKey, apiSecret, { identity, ttl: ttlSeconds });
  token.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  return token.toJwt();
}
