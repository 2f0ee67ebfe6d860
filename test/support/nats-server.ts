import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "./ports.js";
import { exitedWithin, logTail, type Exit } from "./process-tools.js";

/** A real nats-server with JetStream on loopback, private to the caller. */
export interface NatsServer extends AsyncDisposable {
  readonly url: string; // nats://127.0.0.1:<port>
  readonly port: number;
  readonly storeDir: string; // JetStream store (temp dir), kept across halt()/resume()
  readonly logPath: string; // all runs of this server append to it
  /** Stops the server (the store dir stays) — for "NATS goes away" tests. Idempotent. */
  halt(): Promise<void>;
  /** Starts it again on the same port and store dir; JetStream state survives. Idempotent. */
  resume(): Promise<void>;
  /** Stops for good and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const VERSION = "v2.12.3";
const START_TIMEOUT_MS = 20_000;
const POLL_MS = 25;
const KILL_AFTER_MS = 5_000;
const START_ATTEMPTS = 3; // the free ports we picked may be taken before the server binds them
// resume() wants the same client port back; if something holds it, retry this long.
const RESUME_PORT_WAIT_MS = 5_000;
const RESUME_RETRY_MS = 100;

export function natsBinaryPath(): string {
  const cache = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
  const path = join(cache, "bin", `nats-server-${VERSION}`);
  if (!existsSync(path)) {
    throw new Error(`nats-server ${VERSION} not found at ${path}: run scripts/install-test-deps.sh`);
  }
  return path;
}


/** One nats-server process: spawned, then awaited ready or stopped. */
interface Run {
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL if it lingers; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/** Why a launch failed: which port was taken (nats-server exits at once, naming it). */
class LaunchError extends Error {
  constructor(
    message: string,
    readonly portTaken: "client" | "monitor" | undefined,
  ) {
    super(message);
  }
}

export async function startNatsServer(): Promise<NatsServer> {
  const binary = natsBinaryPath();
  const dir = await mkdtemp(join(tmpdir(), "nats-server-"));
  const storeDir = join(dir, "store");
  const logPath = join(dir, "nats-server.log");

  let current: Run | undefined;
  const cleanup = async () => {
    await current?.stop();
    current = undefined;
    await rm(dir, { recursive: true, force: true });
  };

  let port = 0;
  let monitorPort = 0;
  try {
    await mkdir(storeDir);
    for (let attempt = 1; ; attempt++) {
      [port, monitorPort] = [await freePort(), await freePort()];
      try {
        current = await launch(binary, port, monitorPort, storeDir, logPath);
        break;
      } catch (err) {
        if (!(err instanceof LaunchError && err.portTaken) || attempt >= START_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  // halt/resume/stop run one at a time, in call order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const result = queue.then(op);
    queue = result.catch(() => {});
    return result;
  };

  let stopping: Promise<void> | undefined;

  const halt = (): Promise<void> =>
    serial(async () => {
      await current?.stop();
      current = undefined;
    });

  const resume = (): Promise<void> =>
    serial(async () => {
      if (stopping) throw new Error("nats-server: resume() after stop()");
      if (current && current.child.exitCode === null && current.child.signalCode === null) return;
      current = undefined;
      const deadline = Date.now() + RESUME_PORT_WAIT_MS;
      for (;;) {
        try {
          current = await launch(binary, port, monitorPort, storeDir, logPath);
          return;
        } catch (err) {
          if (!(err instanceof LaunchError) || !err.portTaken || Date.now() > deadline) throw err;
          // The monitor port is ours alone to know: take another. The client port is the API: wait for it.
          if (err.portTaken === "monitor") monitorPort = await freePort();
          else await delay(RESUME_RETRY_MS);
        }
      }
    });

  const stop = (): Promise<void> => (stopping ??= serial(cleanup));

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    logPath,
    halt,
    resume,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function launch(binary: string, port: number, monitorPort: number, storeDir: string, logPath: string): Promise<Run> {
  // Everything this run logs starts at this offset (the log is shared across resume()).
  const logStart = await stat(logPath).then(
    (s) => s.size,
    () => 0,
  );
  const logFd = openSync(logPath, "a");
  const args = ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  const child = spawn(binary, args, { stdio: ["ignore", logFd, logFd] });
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
      // nats-server shuts down (and flushes JetStream) on SIGTERM within milliseconds.
      if (exit === undefined) child.kill("SIGTERM");
      if (!(await exitedWithin(exited, KILL_AFTER_MS))) child.kill("SIGKILL");
      await exited;
    })());

  // With a monitor port, the monitor listens first, then JetStream starts (and
  // recovers its streams), then the client port. A plain /healthz answers 200 only
  // once the client port accepts connections, JetStream is enabled and, on a single
  // server, every stream in the store dir is recovered — what resume() needs.
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await ready(monitorPort, port))) {
      if (exit !== undefined) {
        const how = exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`;
        const log = await logTail(logPath, logStart);
        const portTaken = !/address already in use/.test(log)
          ? undefined
          : /monitor/i.test(log.split("\n").find((l) => l.includes("address already in use")) ?? "")
            ? "monitor"
            : "client";
        throw new LaunchError(`nats-server exited during startup (${how}); log tail:\n${log}`, portTaken);
      }
      if (Date.now() > deadline) {
        throw new Error(`nats-server not ready after ${START_TIMEOUT_MS} ms; log tail:\n${await logTail(logPath, logStart)}`);
      }
      await Promise.race([delay(POLL_MS), exited]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, stop };
}

async function ready(monitorPort: number, port: number): Promise<boolean> {
  try {
    const base = `http://127.0.0.1:${monitorPort}`;
    const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await health.arrayBuffer();
    if (health.status !== 200) return false;
    // Is it ours? Another server may have taken the monitor port (ours then exits at once).
    const varz = await fetch(`${base}/varz`, { signal: AbortSignal.timeout(1_000) });
    return varz.status === 200 && ((await varz.json()) as { port?: unknown }).port === port;
  } catch {
    return false;
  }
}


