import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "minio";
import { onFreePorts, startProcess, testProgram, type Readiness } from "./process-fixture.js";

/** Where an S3 server (MinIO) answers, and its root credentials. Serializable: the global setup hands it to test files. */
export interface MinioEndpoint {
  readonly endpoint: string; // http://127.0.0.1:<port>
  readonly port: number;
  readonly accessKey: string; // root user
  readonly secretKey: string; // root password (random)
}

/** A real MinIO server (single drive) on loopback, private to the caller. */
export interface MinioServer extends MinioEndpoint, AsyncDisposable {
  readonly dataDir: string;
  readonly logPath: string;
  /** Creates a bucket (a fresh random name unless given one) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Stops the server and removes its temp dir (data included). Idempotent. */
  stop(): Promise<void>;
}

const VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c";
export const MINIO_REGION = "us-east-1";
const ACCESS_KEY = "scaiwave-test";

export const minioBinaryPath = (): string => testProgram("minio", VERSION);

/** An S3 client for a MinIO endpoint (path style, region set so it never asks the server for one). */
export function minioClient(minio: MinioEndpoint, overrides: Partial<{ accessKey: string; secretKey: string }> = {}): Client {
  return new Client({
    endPoint: "127.0.0.1",
    port: minio.port,
    useSSL: false,
    accessKey: overrides.accessKey ?? minio.accessKey,
    secretKey: overrides.secretKey ?? minio.secretKey,
    region: MINIO_REGION,
    pathStyle: true,
  });
}

/** Creates a bucket on the server (a fresh random name unless given one) and returns its name. */
export async function createBucket(minio: MinioEndpoint, name = `test-${randomBytes(8).toString("hex")}`): Promise<string> {
  await minioClient(minio).makeBucket(name, MINIO_REGION);
  return name;
}

export async function startMinioServer(): Promise<MinioServer> {
  const binary = minioBinaryPath();
  const secretKey = randomBytes(24).toString("hex");
  const dir = await mkdtemp(join(tmpdir(), "minio-server-"));
  const dataDir = join(dir, "data");
  // MinIO creates $HOME/.minio (its legacy config dir and certs dir): keep that in the temp dir too.
  const home = join(dir, "home");
  const logPath = join(dir, "minio.log");
  try {
    await Promise.all([mkdir(dataDir), mkdir(home)]);
    return await onFreePorts(2, async ([port, consolePort]) => {
      const endpoint: MinioEndpoint = { endpoint: `http://127.0.0.1:${port}`, port: port!, accessKey: ACCESS_KEY, secretKey };
      const run = await startProcess({
        name: "minio",
        command: binary,
        args: [
          "server",
          dataDir,
          "--address",
          `127.0.0.1:${port}`,
          // Unused while MINIO_BROWSER=off; without it, an enabled console would take a random port on all interfaces.
          "--console-address",
          `127.0.0.1:${consolePort}`,
          "--quiet", // no startup banner; errors are still logged
        ],
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          HOME: home,
          MINIO_ROOT_USER: ACCESS_KEY,
          MINIO_ROOT_PASSWORD: secretKey,
          MINIO_BROWSER: "off", // no embedded console
          MINIO_UPDATE: "off", // no in-place self-update
          MINIO_CI_CD: "1", // small buffer pool, immediate purges, no root-drive checks
        },
        logPath,
        ready: await minioReady(endpoint),
        portTaken: /Specified port is already in use|Unable to listen on `127\.0\.0\.1:/,
        // MinIO shuts down on SIGTERM within tens of milliseconds.
      });
      let stopping: Promise<void> | undefined;
      const stop = () =>
        (stopping ??= (async () => {
          await run.stop();
          await rm(dir, { recursive: true, force: true });
        })());
      return {
        ...endpoint,
        dataDir,
        logPath,
        createBucket: (name?: string) => createBucket(endpoint, name),
        stop,
        [Symbol.asyncDispose]: stop,
      };
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Ready once the object layer is up, and it is our server that answers. */
async function minioReady(minio: MinioEndpoint): Promise<Readiness> {
  // Signed with our random secret: our server answers 404 (no such bucket), any other 403.
  // Presigning is local (the region is set), so this is computed before the server exists.
  const probeUrl = await minioClient(minio).presignedUrl("HEAD", "readiness-probe", "", 24 * 60 * 60);
  return async ({ log }) => {
    // If 127.0.0.1:<port> is taken, MinIO exits ("Specified port is already in use"),
    // or, losing a race after that check, logs the failed listen and serves on [::1]
    // alone. (It also listens on [::1]:<port>, and only logs if that one is taken.)
    if ((await log()).includes(`Unable to listen on \`127.0.0.1:${minio.port}\``)) {
      throw new Error("not listening on 127.0.0.1");
    }
    try {
      const health = await fetch(`${minio.endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await health.arrayBuffer();
      // Until its object layer is up, MinIO already answers 200, but with "x-minio-server-status: offline".
      if (health.status !== 200 || health.headers.has("x-minio-server-status")) return false;
      const probe = await fetch(probeUrl, { method: "HEAD", signal: AbortSignal.timeout(2_000) });
      await probe.arrayBuffer();
      return probe.status === 404;
    } catch {
      return false;
    }
  };
}
