/**
 * Mints a bearer token for local use with the dev secret:
 *   npm run token -- <user_id> <tenant_id> [scope]
 * e.g. `npm run token -- alice acme` or `npm run token -- rooms-sync acme calls.internal`.
 */
import { SignJWT } from "jose";

const [sub, tid, scope] = process.argv.slice(2);
const secret = process.env["AUTH_JWT_SECRET"];
if (!sub || !tid || !secret) {
  process.stderr.write("usage: AUTH_JWT_SECRET=… tsx scripts/dev-token.ts <user_id> <tenant_id> [scope]\n");
  process.exit(2);
}
const jwt = await new SignJWT({ tid, ...(scope && { scope }) })
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(sub)
  .setIssuedAt()
  .setExpirationTime("12h")
  .sign(new TextEncoder().encode(secret));
process.stdout.write(`${jwt}\n`);
