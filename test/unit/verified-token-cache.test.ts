import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { JwtAuthenticator } from "../../src/adapters/auth/jwt-authenticator.js";
import { VerifiedTokenCache } from "../../src/adapters/auth/verified-token-cache.js";

const T0 = 1_800_000_000_000;

function cache(maxEntries = 3, maxAgeMs = 60_000) {
  const clock = { now: T0 };
  return { clock, cache: new VerifiedTokenCache<string>({ maxEntries, maxAgeMs, now: () => clock.now }) };
}

describe("VerifiedTokenCache", () => {
  it("forgets a token when it expires, even inside the max age", () => {
    const { clock, cache: c } = cache();
    c.set("t", "alice", T0 + 5_000);
    clock.now = T0 + 4_999;
    expect(c.get("t")).toBe("alice");
    clock.now = T0 + 5_000;
    expect(c.get("t")).toBeUndefined();
  });

  it("forgets a long-lived token after the max age (a rotated-out signing key stops working within it)", () => {
    const { clock, cache: c } = cache(3, 60_000);
    c.set("t", "alice", T0 + 3_600_000);
    clock.now = T0 + 60_000;
    expect(c.get("t")).toBeUndefined();
  });

  it("does not keep an already expired token, and holds at most maxEntries (oldest out first)", () => {
    const { cache: c } = cache(2);
    c.set("old", "x", T0 - 1);
    expect(c.get("old")).toBeUndefined();
    c.set("a", "1", undefined);
    c.set("b", "2", undefined);
    c.set("c", "3", undefined);
    expect([c.get("a"), c.get("b"), c.get("c"), c.size]).toEqual([undefined, "2", "3", 2]);
  });
});

describe("JwtAuthenticator with its cache", () => {
  const secret = "unit-test-secret-0123456789abcdef0123456789";
  const sign = (claims: Record<string, unknown>, key = secret) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(key));

  it("accepts a token it verified before, and still refuses a different (forged) one", async () => {
    const auth = new JwtAuthenticator({ key: { kind: "secret", secret } });
    const token = await sign({ tid: "acme" });
    expect(await auth.authenticate(`Bearer ${token}`)).toMatchObject({ subject: "alice", tenantId: "acme" });
    expect(await auth.authenticate(`Bearer ${token}`)).toMatchObject({ subject: "alice", tenantId: "acme" });
    const forged = await sign({ tid: "evil" }, "another-secret-0123456789abcdef0123456789");
    await expect(auth.authenticate(`Bearer ${forged}`)).rejects.toMatchObject({ code: "SW_CALL_UNAUTHENTICATED" });
    // Another payload carrying the cached token's signature is a different string: verified, and refused.
    const [header, payload] = forged.split(".");
    const spliced = `${header}.${payload}.${token.split(".")[2]}`;
    await expect(auth.authenticate(`Bearer ${spliced}`)).rejects.toMatchObject({ code: "SW_CALL_UNAUTHENTICATED" });
  });
});
