// A gRPC load generator over Node's own HTTP/2 client: ghz measured ~5k req/s
// against a grpc-js echo that h2load drives at ~16k, so the generator, not the
// server, would have been measured. This one reaches ~15k on the same echo and,
// unlike h2load, sends every request with its own message and token.
// Reads its job from the JSON file named by argv[2]; prints "GRPC_RESULT {json}".
import { connect, type ClientHttp2Session } from "node:http2";
import { readFileSync } from "node:fs";
import { percentile } from "./percentile.js";

export interface GrpcJob {
  readonly address: string;
  /** `/package.Service/Method`. */
  readonly path: string;
  /** The `authorization` every request carries, if any. */
  readonly authorization?: string;
  /** Base64 of each length-prefixed request message, sent in this order. */
  readonly requests: string[];
  readonly sessions: number;
  readonly streamsPerSession: number;
  readonly seconds: number;
}

const job = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as GrpcJob;
const bodies = job.requests.map((body) => Buffer.from(body, "base64"));
const latencies: number[] = [];
let next = 0;
let errors = 0;
let firstError: string | undefined;

const headers: Record<string, string> = { ":method": "POST", ":path": job.path, "content-type": "application/grpc", te: "trailers" };
if (job.authorization !== undefined) headers["authorization"] = job.authorization;

function unary(session: ClientHttp2Session, body: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    let status: string | undefined;
    let message: string | undefined;
    const stream = session.request({ ...headers });
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
    await unary(session, bodies[next++ % bodies.length]!);
  }
}

const sessions = Array.from({ length: job.sessions }, () => connect(`http://${job.address}`));
const started = performance.now();
await Promise.all(sessions.flatMap((s) => Array.from({ length: job.streamsPerSession }, () => worker(s))));
const seconds = (performance.now() - started) / 1000;
for (const s of sessions) s.close();
latencies.sort((a, b) => a - b);
console.log(`GRPC_RESULT ${JSON.stringify({ requests: latencies.length + errors, errors, seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), sent: next, firstError })}`);
