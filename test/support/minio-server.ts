import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { Client } from "minio";
import { freePort } from "./ports.js";
import { exitedWithin, logTail, type Exit } from "./process-tools.js";

/** A real MinIO server (single drive) on loopback, private to the caller. */
export interface MinioServer extends AsyncDisposable {
  readonly endpoint: string; // http://127.0.0.1:<port>
  readonly port: number;
  readonly accessKey: string; // root user
  readonly secretKey: string; // root password (random)
  readonly dataDir: string;
  readonly logPath: string;
  /** Creates a bucket (a fresh random name unless given one) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Stops the server and removes its temp dir (data included). Idempotent. */
  stop(): Promise<void>;
}

const VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c";
export const MINIO_REGION = "us-east-1";
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 25;
const KILL_AFTER_MS = 5_000;
const START_ATTEMPTS = 3; // the free port we picked may be taken before the server binds it
const ACCESS_KEY = "scaiwave-test";

export function minioBinaryPath(): string {
  const cache = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
  const path = join(cache, "bin", `minio-${VERSION}`);
  if (!existsSync(path)) {
    throw new Error(`minio ${VERSION} not found at ${path}: run scripts/install-test-deps.sh`);
  }
  return path;
}

/** A launch that failed because our API port was taken (worth another try on a new port). */
class PortTakenError extends Error {}

export async function startMinioServer(): Promise<MinioServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= START_ATTEMPTS) throw err;
    }
  }
}


async function startOnce(): Promise<MinioServer> {
  const binary = minioBinaryPath();
  const secretKey = randomBytes(24).toString("hex");
  const [port, consolePort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new Client({
    endPoint: "127.0.0.1",
    port,
    useSSL: false,
    accessKey: ACCESS_KEY,
    secretKey,
    region: MINIO_REGION, // set, so the client never asks the server for a bucket's region
    pathStyle: true,
  });
  // Signed with our random secret: our server answers 404 (no such bucket), any other 403.
  // Presigning is local (the region is set), so this is computed before the server exists.
  const probeUrl = await client.presignedUrl("HEAD", "readiness-probe", "", 24 * 60 * 60);

  const dir = await mkdtemp(join(tmpdir(), "minio-server-"));
  const dataDir = join(dir, "data");
  // MinIO creates $HOME/.minio (its legacy config dir and certs dir): keep that in the temp dir too.
  const home = join(dir, "home");
  const logPath = join(dir, "minio.log");
  try {
    await Promise.all([mkdir(dataDir), mkdir(home)]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const args = [
    "server",
    dataDir,
    "--address",
    `127.0.0.1:${port}`,
    // Unused while MINIO_BROWSER=off; without it, an enabled console would take a random port on all interfaces.
    "--console-address",
    `127.0.0.1:${consolePort}`,
    "--quiet", // no startup banner; errors are still logged
  ];
  const env = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: home,
    MINIO_ROOT_USER: ACCESS_KEY,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_BROWSER: "off", // no embedded console
    MINIO_UPDATE: "off", // no in-place self-update
    MINIO_CI_CD: "1", // small buffer pool, immediate purges, no root-drive checks
  };
  const logFd = openSync(logPath, "a");
  const child = spawn(binary, args, { env, stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);

  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => resolve((exit ??= { code, signal })));
    child.once("error", (error) => resolve((exit ??= { code: null, signal: null, error })));
  });
  // If the test process ends without stop() (or mid-startup), don't leave the server behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => process.off("exit", killOnExit));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // MinIO shuts down on SIGTERM within tens of milliseconds.
      if (exit === undefined) child.kill("SIGTERM");
      if (!(await exitedWithin(exited, KILL_AFTER_MS))) child.kill("SIGKILL");
      await exited;
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await ready(endpoint, probeUrl))) {
      // If 127.0.0.1:<port> is taken, MinIO exits ("Specified port is already in use"),
      // or, losing a race after that check, logs the failed listen and serves on [::1]
      // alone. (It also listens on [::1]:<port>, and only logs if that one is taken.)
      const log = await logTail(logPath);
      const portTaken =
        log.includes("Specified port is already in use") || log.includes(`Unable to listen on \`127.0.0.1:${port}\``);
      if (exit !== undefined || portTaken) {
        const how =
          exit === undefined
            ? "not listening on 127.0.0.1"
            : (exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`);
        const message = `minio failed to start (${how}); log tail:\n${log}`;
        throw portTaken ? new PortTakenError(message) : new Error(message);
      }
      if (Date.now() > deadline) {
        throw new Error(`minio not ready after ${START_TIMEOUT_MS} ms; log tail:\n${log}`);
      }
      await Promise.race([delay(POLL_MS), exited]);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const createBucket = async (name = `test-${randomBytes(8).toString("hex")}`): Promise<string> => {
    await client.makeBucket(name, MINIO_REGION);
    return name;
  };

  return {
    endpoint,
    port,
    accessKey: ACCESS_KEY,
    secretKey,
    dataDir,
    logPath,
    createBucket,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function ready(endpoint: string, probeUrl: string): Promise<boolean> {
  try {
    const health = await fetch(`${endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(1_000) });
    await health.arrayBuffer();
    // Until its object layer is up, MinIO already answers 200, but with "x-minio-server-status: offline".
    if (health.status !== 200 || health.headers.has("x-minio-server-status")) return false;
    const probe = await fetch(probeUrl, { method: "HEAD", signal: AbortSignal.timeout(1_000) });
    await probe.arrayBuffer();
    return probe.status === 404;
  } catch {
    return false;
  }
}


