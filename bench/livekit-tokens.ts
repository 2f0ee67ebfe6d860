// `npx tsx bench/livekit-tokens.ts`: what LiveKit's tokens cost the service,
// against livekit-server-sdk's own way of doing the same in the same run: a
// join token minted (the SDK's AccessToken.toJwt() against the service's
// LiveKitTokenMinter) and a webhook verified (the SDK's TokenVerifier, then
// the same body hash and read the service does, against the service's
// LiveKitWebhookVerifier, whose token check is fast-jwt's).
// Prints CPU µs per operation (user + system of this process), three rounds,
// one after another in this thread. `--n N` operations per round (default
// 30,000). See docs/benchmarks.md.
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { TokenVerifier, WebhookEvent } from "livekit-server-sdk";
import { LiveKitTokenMinter } from "../src/adapters/livekit/tokens.js";
import { LiveKitWebhookVerifier } from "../src/adapters/livekit/webhook-verifier.js";
import { printCpuRounds, type Operation } from "./lib/cpu-rounds.js";
import { sdkJoinToken, webhookAuthorization } from "./lib/signing.js";

const { values: flags } = parseArgs({ options: { n: { type: "string", default: "30000" } } });
const N = Number(flags.n);
const API_KEY = "devkey";
const API_SECRET = "secret-of-the-bench-0123456789abcdef";
const ROOM = "scaiwave-01JD6W0Q3C7Y8KZ4T5V6X7Y8Z9";
const IDENTITY = "@alice:example.org";

const minter = new LiveKitTokenMinter({ apiKey: API_KEY, apiSecret: API_SECRET, ttlSeconds: 600 });
const sdkVerifier = new TokenVerifier(API_KEY, API_SECRET);
const webhooks = new LiveKitWebhookVerifier(API_KEY, API_SECRET);
const body = JSON.stringify({
  event: "participant_joined",
  room: { sid: "RM_bench", name: ROOM },
  participant: { sid: "PA_bench", identity: IDENTITY, state: "ACTIVE" },
  id: "EV_bench",
  createdAt: String(Math.floor(Date.now() / 1000)),
});
const rawBody = Buffer.from(body);
const authorization = webhookAuthorization(body, API_KEY, API_SECRET);

/** The service's webhook verification as it was with the SDK's token check. */
async function sdkVerify(): Promise<unknown> {
  const claims = await sdkVerifier.verify(authorization);
  if (claims.sha256 !== createHash("sha256").update(rawBody).digest("base64")) throw new Error("body hash differs");
  return WebhookEvent.fromJson(JSON.parse(rawBody.toString("utf8")), { ignoreUnknownFields: true });
}

const operations: Operation[] = [
  { name: "join token: livekit-server-sdk AccessToken.toJwt()", run: () => sdkJoinToken(API_KEY, API_SECRET, IDENTITY, ROOM) },
  { name: "join token: the service's minter (fast-jwt)", run: () => minter.mint(IDENTITY, ROOM) },
  { name: "webhook verified: livekit-server-sdk TokenVerifier, body hash and read", run: sdkVerify },
  { name: "webhook verified: the service's verifier (fast-jwt), body hash and read", run: () => webhooks.verify(rawBody, authorization) },
];

// One after another, in this thread.
await printCpuRounds(`CPU µs per operation, ${N} per round`, "operation", operations, { perRound: N, warmUp: Math.min(N, 5_000), inFlight: 1 });
