import { AccessToken, TokenVerifier } from "livekit-server-sdk";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { LiveKitTokenMinter } from "../../src/adapters/livekit/tokens.js";

/**
 * The minter signs LiveKit tokens itself (fast-jwt); livekit-server-sdk's
 * AccessToken is the reference for what LiveKit expects in them.
 */

const API_KEY = "APItokenKey";
const API_SECRET = "token-secret-of-some-reasonable-length";
const minter = new LiveKitTokenMinter({ apiKey: API_KEY, apiSecret: API_SECRET, ttlSeconds: 300 });

describe("LiveKitTokenMinter", () => {
  it("writes the claims the SDK's AccessToken writes for the same grant", async () => {
    const reference = new AccessToken(API_KEY, API_SECRET, { identity: "@alice:example.org", ttl: 300 });
    reference.addGrant({ roomJoin: true, room: "scaiwave-call-1", canPublish: true, canSubscribe: true, canPublishData: true });
    const theirs = decodeJwt(await reference.toJwt());
    const ours = decodeJwt(await minter.mint("@alice:example.org", "scaiwave-call-1"));
    // Both read the clock; a second may tick between them.
    expect(Math.abs((ours.nbf ?? 0) - (theirs.nbf ?? 0))).toBeLessThanOrEqual(1);
    expect({ ...ours, nbf: 0, exp: (ours.exp ?? 0) - (ours.nbf ?? 0) }).toEqual({ ...theirs, nbf: 0, exp: (theirs.exp ?? 0) - (theirs.nbf ?? 0) });
  });

  it("is HS256 with the API secret, valid now for the TTL, as the SDK's verifier checks it", async () => {
    const token = await minter.mint("bob", "scaiwave-call-2");
    expect(decodeProtectedHeader(token).alg).toBe("HS256");
    const claims = await new TokenVerifier(API_KEY, API_SECRET).verify(token);
    expect(claims.sub).toBe("bob");
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(300);
    expect(Math.abs((claims.nbf ?? 0) - Date.now() / 1000)).toBeLessThan(5);
    // The control: that verifier does check the signature, so the acceptance above says the secret is ours.
    await expect(new TokenVerifier(API_KEY, "another-secret-of-some-reasonable-length").verify(token)).rejects.toThrow();
  });
});
