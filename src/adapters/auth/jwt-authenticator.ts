import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import type { Authenticator, Principal } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { importHs256VerifyKey } from "./hs256-key.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

export type JwtKeySource =
  | { readonly kind: "secret"; readonly secret: string }
  | { readonly kind: "jwks"; readonly url: string };

export interface JwtAuthenticatorOptions {
  readonly key: JwtKeySource;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** Verified tokens are remembered this long at most (never past their `exp`); 0 turns the cache off. */
  readonly cacheMaxAgeMs?: number;
  /** Unix ms; tests move it. */
  readonly now?: () => number;
}

const CACHE_MAX_ENTRIES = 10_000;

/** Asymmetric algorithms accepted from a JWKS; a JWKS never authorises HS* (no key confusion). */
const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/**
 * Bearer JWTs verified with jose: an HS256 shared secret or a remote JWKS
 * (cached and refreshed by jose). Verified tokens are remembered for a short
 * while (VerifiedTokenCache).
 */
export class JwtAuthenticator implements Authenticator {
  private readonly verifyOptions: JWTVerifyOptions;
  /** The shared secret (imported once) or the JWKS, as a key resolver either way. */
  private readonly key: JWTVerifyGetKey;
  private readonly cache: VerifiedTokenCache<Principal> | undefined;

  constructor(options: JwtAuthenticatorOptions) {
    const now = options.now ?? Date.now;
    const maxAgeMs = options.cacheMaxAgeMs ?? 60_000;
    this.cache = maxAgeMs > 0 ? new VerifiedTokenCache({ maxEntries: CACHE_MAX_ENTRIES, maxAgeMs, now }) : undefined;
    if (options.key.kind === "secret") {
      const secret = importHs256VerifyKey(options.key.secret);
      this.key = () => secret;
      this.verifyOptions = { algorithms: ["HS256"] };
    } else {
      this.key = createRemoteJWKSet(new URL(options.key.url));
      this.verifyOptions = { algorithms: JWKS_ALGORITHMS };
    }
    if (options.issuer) this.verifyOptions.issuer = options.issuer;
    if (options.audience) this.verifyOptions.audience = options.audience;
  }

  async authenticate(authorization: string | null | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    const remembered = this.cache?.get(token);
    if (remembered) return remembered;
    let payload: JWTPayload;
    try {
      payload = (await jwtVerify(token, this.key, this.verifyOptions)).payload;
    } catch (cause) {
      throw new CallError(CallErrorCode.Unauthenticated, "invalid or expired bearer token", { cause });
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new CallError(CallErrorCode.Unauthenticated, "bearer token has no subject");
    }
    const principal: Principal = {
      subject: payload.sub,
      tenantId: typeof payload["tid"] === "string" && payload["tid"] !== "" ? payload["tid"] : undefined,
      scopes: parseScopes(payload["scope"]),
    };
    this.cache?.set(token, principal, typeof payload.exp === "number" ? payload.exp * 1000 : undefined);
    return principal;
  }
}

function bearerToken(authorization: string | null | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match?.[1]) throw new CallError(CallErrorCode.Unauthenticated, "missing bearer token");
  return match[1];
}

function parseScopes(claim: unknown): ReadonlySet<string> {
  if (typeof claim === "string") return new Set(claim.split(" ").filter(Boolean));
  if (Array.isArray(claim)) return new Set(claim.filter((s): s is string => typeof s === "string"));
  return new Set();
}
