import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "./ports.js";
import { onFreePorts, ProcessStartError, startProcess, testProgram, type Readiness, type RunningProcess } from "./process-fixture.js";

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
// resume() wants the same client port back; if something holds it, retry this long.
const RESUME_PORT_WAIT_MS = 5_000;
const RESUME_RETRY_MS = 100;

export const natsBinaryPath = (): string => testProgram("nats-server", VERSION);

export async function startNatsServer(): Promise<NatsServer> {
  const binary = natsBinaryPath();
  const dir = await mkdtemp(join(tmpdir(), "nats-server-"));
  const storeDir = join(dir, "store");
  const logPath = join(dir, "nats-server.log");
  const launch = (port: number, monitorPort: number) => launchNats(binary, port, monitorPort, storeDir, logPath);

  let current: RunningProcess | undefined;
  let port = 0;
  let monitorPort = 0;
  try {
    await mkdir(storeDir);
    current = await onFreePorts(2, async ([p, m]) => {
      const run = await launch(p!, m!);
      [port, monitorPort] = [p!, m!];
      return run;
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
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
          current = await launch(port, monitorPort);
          return;
        } catch (err) {
          const taken = err instanceof ProcessStartError && err.portTaken ? takenPort(err.log) : undefined;
          if (taken === undefined || Date.now() > deadline) throw err;
          // The monitor port is ours alone to know: take another. The client port is the API: wait for it.
          if (taken === "monitor") monitorPort = await freePort();
          else await delay(RESUME_RETRY_MS);
        }
      }
    });

  const stop = (): Promise<void> =>
    (stopping ??= serial(async () => {
      await current?.stop();
      current = undefined;
      await rm(dir, { recursive: true, force: true });
    }));

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

function launchNats(binary: string, port: number, monitorPort: number, storeDir: string, logPath: string): Promise<RunningProcess> {
  return startProcess({
    name: "nats-server",
    command: binary,
    args: ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)],
    logPath,
    ready: natsReady(monitorPort, port),
    // nats-server shuts down (and flushes JetStream) on SIGTERM within milliseconds.
  });
}

/** Which of our ports nats-server found taken, from its log. */
function takenPort(log: string): "client" | "monitor" {
  const line = log.split("\n").find((l) => l.includes("address already in use")) ?? "";
  return /monitor/i.test(line) ? "monitor" : "client";
}

/**
 * With a monitor port, the monitor listens first, then JetStream starts (and
 * recovers its streams), then the client port. A plain /healthz answers 200 only
 * once the client port accepts connections, JetStream is enabled and, on a single
 * server, every stream in the store dir is recovered — what resume() needs.
 */
function natsReady(monitorPort: number, port: number): Readiness {
  const base = `http://127.0.0.1:${monitorPort}`;
  return async () => {
    try {
      const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await health.arrayBuffer();
      if (health.status !== 200) return false;
      // Is it ours? Another server may have taken the monitor port (ours then exits at once).
      const varz = await fetch(`${base}/varz`, { signal: AbortSignal.timeout(2_000) });
      return varz.status === 200 && ((await varz.json()) as { port?: unknown }).port === port;
    } catch {
      return false;
    }
  };
}
