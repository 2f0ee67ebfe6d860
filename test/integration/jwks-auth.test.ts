import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { bearer } from "../support/tokens.js";

/** Bearer tokens verified against a JWKS (the production setup), with issuer and audience checks. */

let service: RunningService;
let jwks: http.Server;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;
let jwksRequests = 0;

const ISSUER = "https://auth.scaiwave.test";
const AUDIENCE = "scaiwave-calls";

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair("ES256")).privateKey;
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "key-1", alg: "ES256", use: "sig" };
  jwks = http.createServer((_req, res) => {
    jwksRequests++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", () => resolve()));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;

  service = await startService(sharedLiveKit(), {
    AUTH_JWT_SECRET: undefined,
    AUTH_JWKS_URL: jwksUrl,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
  });
});

afterAll(async () => {
  await service?.stop();
  await new Promise((resolve) => jwks?.close(resolve));
});

async function token(key: CryptoKey, claims: { iss?: string; aud?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({ tid: "acme" })
    .setProtectedHeader({ alg: "ES256", kid: claims.kid ?? "key-1" })
    .setSubject("alice")
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof ApiError ? err.code : "no error";
}

describe("JWKS bearer tokens", () => {
  it("accepts a token signed by a key in the JWKS with the right issuer and audience", async () => {
    const api = restApi(service.baseUrl);
    // The directory accepts an internal token signed the same way.
    const internal = await new SignJWT({ scope: "calls.internal" })
      .setProtectedHeader({ alg: "ES256", kid: "key-1" })
      .setSubject("rooms-sync")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(signingKey);
    const roomId = `jwks-room`;
    const { client } = directoryClient(service.baseUrl);
    await client.putRoom(
      { tenantId: "acme", roomId, members: [{ userId: "alice", powerLevel: 0 }] },
      { headers: { authorization: `Bearer ${internal}` } },
    );
    const ticket = await api.initiate(await token(signingKey), roomId, "audio");
    expect(ticket.call_id).toMatch(/^call-/);
    expect(jwksRequests).toBeGreaterThan(0);
  });

  it("rejects a wrong issuer, a wrong audience, an unknown key, and an HS256 token", async () => {
    const api = restApi(service.baseUrl);
    expect(await codeOf(api.get(await token(signingKey, { iss: "https://evil.test" }), "call-x"))).toBe("SW_CALL_UNAUTHENTICATED");
    expect(await codeOf(api.get(await token(signingKey, { aud: "other-service" }), "call-x"))).toBe("SW_CALL_UNAUTHENTICATED");
    expect(await codeOf(api.get(await token(strangerKey), "call-x"))).toBe("SW_CALL_UNAUTHENTICATED");
    expect(await codeOf(api.get(await bearer("alice", { tenantId: "acme" }), "call-x"))).toBe("SW_CALL_UNAUTHENTICATED");
    // A valid token reaches the handler: the call simply does not exist.
    expect(await codeOf(api.get(await token(signingKey), "call-x"))).toBe("SW_CALL_NOT_FOUND");
  });
});
