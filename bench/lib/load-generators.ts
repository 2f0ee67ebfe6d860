import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { toBinary, type DescMessage, type DescMethod, type DescService, type Message, type MessageShape } from "@bufbuild/protobuf";

const run = promisify(execFile);
const BENCH_DIR = join(import.meta.dirname, "..");

/** What one load run measured at the client. */
export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  /** Completed requests per second. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests that failed: non-2xx status, a gRPC status other than OK, or a socket error. */
  readonly errors: number;
  /** More requests ran than were prepared, so some were replays (e.g. a second join by the same user). */
  readonly wrapped: boolean;
  readonly firstError?: string;
}

export interface PreparedRequest {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Writes requests in the format bench/wrk/replay.lua reads. */
export function writeWrkRequests(file: string, requests: readonly PreparedRequest[]): void {
  const lines = requests.map((r) => {
    const headers = Object.entries(r.headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join("\\n");
    if (/[\t\n]/.test(r.path + headers + (r.body ?? ""))) throw new Error("a prepared request may not contain tabs or newlines");
    return [r.method, r.path, headers, r.body ?? ""].join("\t");
  });
  writeFileSync(file, lines.join("\n") + "\n");
}

/**
 * HTTP/1.1 load with wrk (one thread: the other core is the server's),
 * replaying `requestsFile` in order over `connections` keep-alive connections.
 */
export async function runWrk(baseUrl: string, requestsFile: string, prepared: number, options: { connections: number; seconds: number }): Promise<LoadResult> {
  const { stdout } = await run(
    "wrk",
    ["-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--timeout", "10s", "-s", join(BENCH_DIR, "wrk/replay.lua"), baseUrl, "--", requestsFile],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(line.slice("WRK_RESULT ".length)) as {
    requests: number;
    duration_us: number;
    p50_us: number;
    p99_us: number;
    errors: Record<string, number>;
  };
  const seconds = r.duration_us / 1e6;
  return {
    requests: r.requests,
    seconds,
    rps: r.requests / seconds,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
    wrapped: r.requests > prepared,
  };
}

export interface GrpcLoad {
  /** host:port, plaintext HTTP/2. */
  readonly address: string;
  readonly service: DescService;
  readonly method: DescMethod;
  readonly messages: readonly Message[];
  /** One `authorization` per message, or one for all, or none. */
  readonly authorization: readonly string[];
}

/**
 * gRPC load from bench/loadgen/grpc.ts in its own process: `messages[i]` is
 * sent with `authorization[i]`, in order, over `sessions` HTTP/2 connections
 * with `streams` calls in flight on each.
 */
export async function runGrpc(load: GrpcLoad, options: { sessions: number; streams: number; seconds: number; workDir: string; name: string }): Promise<LoadResult> {
  const { authorization, messages, method } = load;
  if (authorization.length > 1 && authorization.length !== messages.length) throw new Error("one authorization per message, or one for all");
  const requests = messages.map((m, i): [number, string] => {
    const bytes = toBinary(method.input, m as MessageShape<DescMessage>);
    const framed = Buffer.alloc(5 + bytes.length);
    framed.writeUInt32BE(bytes.length, 1); // byte 0: not compressed
    framed.set(bytes, 5);
    return [authorization.length === 0 ? -1 : authorization.length === 1 ? 0 : i, framed.toString("base64")];
  });
  const job = {
    address: load.address,
    path: `/${load.service.typeName}/${method.name}`,
    authorizations: authorization.length > 1 ? [...authorization] : authorization.slice(0, 1),
    requests,
    sessions: options.sessions,
    streamsPerSession: options.streams,
    seconds: options.seconds,
  };
  // Distinct tokens: store each once and refer to it by index.
  if (authorization.length > 1) {
    const index = new Map<string, number>();
    job.authorizations = [];
    job.requests = requests.map(([, body], i) => {
      const token = authorization[i]!;
      if (!index.has(token)) index.set(token, job.authorizations.push(token) - 1);
      return [index.get(token)!, body];
    });
  }
  const jobFile = join(options.workDir, `${options.name}.grpc.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const { stdout } = await run(process.execPath, ["--import", "tsx", join(BENCH_DIR, "loadgen/grpc.ts"), jobFile], { maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.split("\n").find((l) => l.startsWith("GRPC_RESULT "));
  if (!line) throw new Error(`the gRPC load generator printed no result:\n${stdout}`);
  const r = JSON.parse(line.slice("GRPC_RESULT ".length)) as { requests: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; sent: number; firstError?: string };
  return { requests: r.requests, seconds: r.seconds, rps: r.requests / r.seconds, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, wrapped: r.sent > messages.length, ...(r.firstError && { firstError: r.firstError }) };
}
