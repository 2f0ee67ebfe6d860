// A gRPC load generator over Node's own HTTP/2 client: ghz measured ~5k req/s
// against a grpc-js echo that h2load drives at ~16k, so the generator, not the
// server, would have been measured. This one reaches ~15k on the same echo and,
// unlike h2load, sends every request with its own message and token.
// Reads its job from the JSON file named by argv[2]; prints "GRPC_RESULT {json}".
import { connect, type ClientHttp2Session } from "node:http2";
import { readFileSync } from "node:fs";

export interface GrpcJob {
  readonly address: string;
  /** `/package.Service/Method`. */
  readonly path: string;
  /** `authorization` values; each request names one by index (-1: none). */
  readonly authorizations: string[];
  /** [authorization index, base64 of the length-prefixed request message]. */
  readonly requests: [number, string][];
  readonly sessions: number;
  readonly streamsPerSession: number;
  readonly seconds: number;
}

const job = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as GrpcJob;
const bodies = job.requests.map(([auth, body]) => [auth, Buffer.from(body, "base64")] as const);
const latencies: number[] = [];
let next = 0;
let errors = 0;
let firstError: string | undefined;

function unary(session: ClientHttp2Session, auth: number, body: Buffer): Promise<void> {
  const headers: Record<string, string> = { ":method": "POST", ":path": job.path, "content-type": "application/grpc", te: "trailers" };
  if (auth >= 0) headers["authorization"] = job.authorizations[auth]!;
  return new Promise((resolve) => {
    const started = performance.now();
    let status: string | undefined;
    let message: string | undefined;
    const stream = session.request(headers);
    // A failure may come as trailers-only: grpc-status in the response headers.
    stream.on("response", (h) => {
      status ??= h["grpc-status"] as string | undefined;
      message ??= h["grpc-message"] as string | undefined;
    });
    stream.on("trailers", (t) => {
      status = t["grpc-status"] as string | undefined;
      message = t["grpc-message"] as string | undefined;
    });
    stream.on("data", () => undefined);
    stream.on("close", () => {
      if (status === "0") latencies.push(performance.now() - started);
      else {
        errors++;
        firstError ??= `grpc-status ${status ?? "missing"}: ${decodeURIComponent(message ?? "")}`;
      }
      resolve();
    });
    stream.on("error", () => undefined); // counted on close (no grpc-status)
    stream.end(body);
  });
}

const deadline = performance.now() + job.seconds * 1000;
async function worker(session: ClientHttp2Session): Promise<void> {
  while (performance.now() < deadline) {
    const [auth, body] = bodies[next++ % bodies.length]!;
    await unary(session, auth, body);
  }
}

const sessions = Array.from({ length: job.sessions }, () => connect(`http://${job.address}`));
const started = performance.now();
await Promise.all(sessions.flatMap((s) => Array.from({ length: job.streamsPerSession }, () => worker(s))));
const seconds = (performance.now() - started) / 1000;
for (const s of sessions) s.close();
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
console.log(`GRPC_RESULT ${JSON.stringify({ requests: latencies.length + errors, errors, seconds, p50Ms: at(50), p99Ms: at(99), sent: next, firstError })}`);
