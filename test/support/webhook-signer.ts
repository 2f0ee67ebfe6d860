import { createHash } from "node:crypto";
import { SignJWT } from "jose";

/**
 * Signs a webhook body the way LiveKit does: `Authorization: <JWT>` (no
 * "Bearer"), HS256 with the API secret, `iss` = API key, `sha256` = standard
 * base64 of the SHA-256 of the body bytes.
 */
export async function signWebhook(
  body: string,
  apiKey: string,
  apiSecret: string,
  options: { expiresInSeconds?: number } = {},
): Promise<string> {
  const sha256 = createHash("sha256").update(body, "utf8").digest("base64");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sha256 })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(apiKey)
    .setNotBefore(now - 60)
    .setExpirationTime(now + (options.expiresInSeconds ?? 300))
    .sign(new TextEncoder().encode(apiSecret));
}

let counter = 0;

/** A LiveKit-shaped webhook JSON body (protojson: camelCase, int64 as strings, zero values omitted). */
export function webhookBody(event: Record<string, unknown>): string {
  return JSON.stringify({
    id: `EV_test${process.pid}_${++counter}`,
    createdAt: String(Math.floor(Date.now() / 1000)),
    ...event,
  });
}

export async function postWebhook(
  baseUrl: string,
  body: string,
  authorization: string | undefined,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/v1/calls/webhook`, {
    method: "POST",
    headers: { "content-type": "application/webhook+json", ...(authorization !== undefined && { authorization }) },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
