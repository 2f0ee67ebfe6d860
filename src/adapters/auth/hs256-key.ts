import { webcrypto } from "node:crypto";

/**
 * An HS256 secret imported into WebCrypto once, for jose's jwtVerify. Given
 * the raw bytes, jose would import the key again on every verification (it
 * showed as ~11 % of a join in the profile).
 */
export function importHs256VerifyKey(secret: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}
