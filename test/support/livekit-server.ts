import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { freePort, freeUdpPort } from "./ports.js";
import { exitedWithin, logTail, type Exit } from "./process-tools.js";

/** A real livekit-server on loopback, private to the caller. */
export interface LiveKitServer extends AsyncDisposable {
  readonly wsUrl: string; // ws://127.0.0.1:<port>
  readonly httpUrl: string; // http://127.0.0.1:<port>
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly logPath: string;
  stop(): Promise<void>;
}

export interface LiveKitServerOptions {
  webhookUrls?: string[];
  apiKey?: string;
  apiSecret?: string; // livekit-server logs an error for secrets under 32 chars
}

const VERSION = "v1.13.5";
const START_TIMEOUT_MS = 20_000;
const POLL_MS = 25;
const KILL_AFTER_MS = 5_000;
const FORCE_AFTER_MS = 1_000;
// livekit-server answers its health check up to ~100 ms before it marks itself
// running, and a SIGTERM in that window is silently dropped (LivekitServer.Stop
// returns early while !running). stop() holds back for this long after readiness.
const MIN_UPTIME_MS = 300;
const START_ATTEMPTS = 3; // the free ports we picked may be taken before the server binds them

export function liveKitBinaryPath(): string {
  const cache = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
  const path = join(cache, "bin", `livekit-server-${VERSION}`);
  if (!existsSync(path)) {
    throw new Error(`livekit-server ${VERSION} not found at ${path}: run scripts/install-test-deps.sh`);
  }
  return path;
}

export async function startLiveKitServer(opts: LiveKitServerOptions = {}): Promise<LiveKitServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      const portTaken = err instanceof Error && err.message.includes("address already in use");
      if (!portTaken || attempt >= START_ATTEMPTS) throw err;
    }
  }
}


async function startOnce(opts: LiveKitServerOptions): Promise<LiveKitServer> {
  const binary = liveKitBinaryPath();
  const apiKey = opts.apiKey ?? "testkey";
  const apiSecret = opts.apiSecret ?? randomBytes(32).toString("hex");
  const [httpPort, udpPort] = [await freePort(), await freeUdpPort()];
  const config = {
    port: httpPort,
    bind_addresses: ["127.0.0.1"],
    log_level: "info",
    keys: { [apiKey]: apiSecret },
    rtc: {
      // 0 disables ICE/TCP (not needed on loopback). Left out, it defaults to
      // 7881 on all interfaces, ignoring bind_addresses, and collides.
      tcp_port: 0,
      udp_port: udpPort, // one UDP port, muxed for all peers
      node_ip: "127.0.0.1", // a set node_ip also keeps it from using public STUN servers
      use_external_ip: false,
      // Media stays on loopback, even where the host has other interfaces.
      enable_loopback_candidate: true,
      ips: { includes: ["127.0.0.1/32"] },
    },
    ...(opts.webhookUrls?.length ? { webhook: { api_key: apiKey, urls: opts.webhookUrls } } : {}),
  };

  const dir = await mkdtemp(join(tmpdir(), "livekit-server-"));
  const logPath = join(dir, "livekit-server.log");
  const logFd = openSync(logPath, "a");
  // JSON is valid YAML, and livekit-server parses --config-body strictly.
  const child = spawn(binary, ["--config-body", JSON.stringify(config)], { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);

  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => resolve((exit ??= { code, signal })));
    child.once("error", (error) => resolve((exit ??= { code: null, signal: null, error })));
  });
  // If the test process ends without stop(), don't leave the server behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const httpUrl = `http://127.0.0.1:${httpPort}`;
  let readyAt = 0;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const early = readyAt + MIN_UPTIME_MS - Date.now();
      if (exit === undefined && early > 0) await delay(early);
      // SIGTERM waits for participants to leave; a second SIGTERM forces it.
      if (exit === undefined) child.kill("SIGTERM");
      if (!(await exitedWithin(exited, FORCE_AFTER_MS))) child.kill("SIGTERM");
      if (!(await exitedWithin(exited, KILL_AFTER_MS - FORCE_AFTER_MS))) child.kill("SIGKILL");
      await exited;
      process.off("exit", killOnExit);
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await healthy(httpUrl))) {
      if (exit !== undefined) {
        const how = exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`;
        throw new Error(`livekit-server exited during startup (${how}); log tail:\n${await logTail(logPath)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`livekit-server not ready after ${START_TIMEOUT_MS} ms; log tail:\n${await logTail(logPath)}`);
      }
      await Promise.race([delay(POLL_MS), exited]);
    }
    readyAt = Date.now();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    wsUrl: `ws://127.0.0.1:${httpPort}`,
    httpUrl,
    apiKey,
    apiSecret,
    logPath,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function healthy(httpUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${httpUrl}/`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}


