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
import { AccessToken, TokenVerifier, WebhookEvent } from "livekit-server-sdk";
import { LiveKitTokenMinter } from "../src/adapters/livekit/tokens.js";
import { LiveKitWebhookVerifier } from "../src/adapters/livekit/webhook-verifier.js";
import { webhookAuthorization } from "./lib/signing.js";

const { values: flags } = parseArgs({ options: { n: { type: "string", default: "30000" } } });
const N = Number(flags.n);
const ROUNDS = 3;
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

function sdkMint(): Promise<string> {
  const token = new AccessToken(API_KEY, API_SECRET, { identity: IDENTITY, ttl: 600 });
  token.addGrant({ roomJoin: true, room: ROOM, canPublish: true, canSubscribe: true, canPublishData: true });
  return token.toJwt();
}

/** The service's webhook verification as it was with the SDK's token check. */
async function sdkVerify(): Promise<unknown> {
  const claims = await sdkVerifier.verify(authorization);
  if (claims.sha256 !== createHash("sha256").update(rawBody).digest("base64")) throw new Error("body hash differs");
  return WebhookEvent.fromJson(JSON.parse(rawBody.toString("utf8")), { ignoreUnknownFields: true });
}

const operations: { name: string; run: () => Promise<unknown> }[] = [
  { name: "join token: livekit-server-sdk AccessToken.toJwt()", run: sdkMint },
  { name: "join token: the service's minter (fast-jwt)", run: () => minter.mint(IDENTITY, ROOM) },
  { name: "webhook verified: livekit-server-sdk TokenVerifier, body hash and read", run: sdkVerify },
  { name: "webhook verified: the service's verifier (fast-jwt), body hash and read", run: () => webhooks.verify(rawBody, authorization) },
];

async function cpuPerOperation(run: () => Promise<unknown>, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const table: string[][] = [];
for (const op of operations) {
  await cpuPerOperation(op.run, Math.min(N, 5_000)); // warm-up: JIT and caches
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await cpuPerOperation(op.run, N));
  table.push([op.name, ...rounds.map((us) => us.toFixed(1))]);
}
console.log(`\nCPU µs per operation, ${N} per round\n`);
const width = Math.max(...table.map((row) => row[0]!.length));
console.log(`${"operation".padEnd(width)}  round 1  round 2  round 3`);
for (const [name, ...rounds] of table) console.log(`${name!.padEnd(width)}  ${rounds.map((r) => r.padStart(7)).join("  ")}`);
