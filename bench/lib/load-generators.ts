import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { toBinary, type DescMessage, type DescMethod, type DescService, type Message, type MessageShape } from "@bufbuild/protobuf";
import type { GrpcJob } from "../loadgen/grpc.js";
import { runLoadgenScript } from "./programs.js";

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
  /** The `authorization` every call carries, if any. */
  readonly authorization?: string;
}

/**
 * gRPC load from bench/loadgen/grpc.ts in its own process: `messages` in
 * order, over `sessions` HTTP/2 connections with `streams` calls in flight on each.
 */
export async function runGrpc(load: GrpcLoad, options: { sessions: number; streams: number; seconds: number; workDir: string; name: string }): Promise<LoadResult> {
  const { messages, method } = load;
  const requests = messages.map((m) => {
    const bytes = toBinary(method.input, m as MessageShape<DescMessage>);
    const framed = Buffer.alloc(5 + bytes.length);
    framed.writeUInt32BE(bytes.length, 1); // byte 0: not compressed
    framed.set(bytes, 5);
    return framed.toString("base64");
  });
  const job: GrpcJob = {
    address: load.address,
    path: `/${load.service.typeName}/${method.name}`,
    ...(load.authorization !== undefined && { authorization: load.authorization }),
    requests,
    sessions: options.sessions,
    streamsPerSession: options.streams,
    seconds: options.seconds,
  };
  const r = await runLoadgenScript<{ requests: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; sent: number; firstError?: string }>(
    "grpc",
    "GRPC_RESULT",
    job,
    options.workDir,
    options.name,
  );
  return { requests: r.requests, seconds: r.seconds, rps: r.requests / r.seconds, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, wrapped: r.sent > messages.length, ...(r.firstError && { firstError: r.firstError }) };
}
