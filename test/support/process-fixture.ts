import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "./ports.js";

/**
 * One way to run a real program for a test: spawn it with its output appended
 * to a log file, wait until it is ready (or fail with its log tail), and stop
 * it with SIGTERM, then SIGKILL. The nats-server, MinIO and livekit-server
 * fixtures are built on this.
 */

/** How a child process ended. */
export type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

/** Asked repeatedly until it answers true; throwing aborts the start (the process is stopped). */
export type Readiness = (run: { log(): Promise<string> }) => Promise<boolean>;

export interface ProcessOptions {
  /** Names the program in errors ("nats-server not ready after …"). */
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  /** The whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** stdout and stderr are appended here; a restarted program may share the file (its tail starts at its own offset). */
  readonly logPath: string;
  readonly ready: Readiness;
  /** Generous by default: the machine may be loaded by other work. */
  readonly startTimeoutMs?: number;
  /**
   * Signals sent on stop, each followed by a wait for the exit; SIGKILL comes
   * after the last. Default: SIGTERM, 5 s.
   */
  readonly stopSignals?: readonly { readonly signal: NodeJS.Signals; readonly waitMs: number }[];
  /** Some programs ignore a SIGTERM right after they report ready: stop() holds back this long after readiness. */
  readonly minUptimeMs?: number;
  /** A start that fails with this in the log tail failed because a port was taken (default: "address already in use"). */
  readonly portTaken?: RegExp;
}

export interface RunningProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Settles when the process is gone (never rejects). */
  readonly exited: Promise<Exit>;
  /** The last lines this run logged. */
  logTail(lines?: number): Promise<string>;
  /** The signals of `stopSignals`, then SIGKILL; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/** A start that failed: the program exited, was not ready in time, or its readiness check threw. */
export class ProcessStartError extends Error {
  constructor(
    message: string,
    /** This run's log tail (also in the message). */
    readonly log: string,
    /** The log says a port was taken: worth another try on other ports. */
    readonly portTaken: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const POLL_MS = 25;
const DEFAULT_START_TIMEOUT_MS = 60_000;
const DEFAULT_STOP: NonNullable<ProcessOptions["stopSignals"]> = [{ signal: "SIGTERM", waitMs: 5_000 }];

/** Starts the program and resolves once `ready` says so; on any failure the process is stopped first. */
export async function startProcess(opts: ProcessOptions): Promise<RunningProcess> {
  // This run's output starts at the log's current end.
  const logStart = await stat(opts.logPath).then(
    (s) => s.size,
    () => 0,
  );
  const logFd = openSync(opts.logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args ?? [], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }

  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => resolve((exit ??= { code, signal })));
    child.once("error", (error) => resolve((exit ??= { code: null, signal: null, error })));
  });
  // If the test process ends without stop() (or mid-start), don't leave the program behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => process.off("exit", killOnExit));

  const log = () => readLog(opts.logPath, logStart);
  const tail = async (lines = 40) => (await log()).trimEnd().split("\n").slice(-lines).join("\n");
  let readyAt = 0;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const early = readyAt + (opts.minUptimeMs ?? 0) - Date.now();
      if (exit === undefined && readyAt > 0 && early > 0) await delay(early);
      for (const { signal, waitMs } of opts.stopSignals ?? DEFAULT_STOP) {
        if (exit !== undefined) break;
        child.kill(signal);
        await exitedWithin(exited, waitMs);
      }
      if (exit === undefined) child.kill("SIGKILL");
      await exited;
    })());

  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  try {
    while (!(await opts.ready({ log }))) {
      if (exit !== undefined) {
        const how = exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`;
        throw new Error(`exited during startup (${how})`);
      }
      if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms`);
      await Promise.race([delay(POLL_MS), exited]);
    }
  } catch (err) {
    await stop();
    const last = await tail();
    const why = err instanceof Error ? err.message : String(err);
    const portTaken = (opts.portTaken ?? /address already in use/i).test(last);
    throw new ProcessStartError(`${opts.name}: ${why}; log tail:\n${last}`, last, portTaken, { cause: err });
  }
  readyAt = Date.now();

  return { child, logPath: opts.logPath, exited, logTail: tail, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Calls start with `count` fresh free TCP ports until it does not fail for a
 * taken port: another process may grab a free port before our program binds it.
 */
export async function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    try {
      return await start(ports);
    } catch (err) {
      if (!(err instanceof ProcessStartError && err.portTaken) || attempt >= attempts) throw err;
    }
  }
}

// ---- readiness checks --------------------------------------------------------------------------------------

/** Ready once a GET answers a status `accept` likes (default: 2xx). */
export function httpReady(url: string, accept: (res: Response) => boolean | Promise<boolean> = (res) => res.ok): Readiness {
  return async () => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const ok = await accept(res);
      if (!res.bodyUsed) await res.arrayBuffer();
      return ok;
    } catch {
      return false;
    }
  };
}

/** Ready once something accepts TCP connections on 127.0.0.1:port. */
export function portReady(port: number): Readiness {
  return () =>
    new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once("connect", () => done(true));
      socket.once("error", () => done(false));
    });
}

/** Ready once the program has logged a line matching `line`. */
export function logReady(line: RegExp): Readiness {
  return async ({ log }) => (await log()).split("\n").some((l) => line.test(l));
}

// ---- helpers -----------------------------------------------------------------------------------------------

/** A program scripts/install-test-deps.sh put into the cache (`<name>-<version>`), or a clear error saying so. */
export function testProgram(name: string, version: string): string {
  const cache = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
  const path = join(cache, "bin", `${name}-${version}`);
  if (!existsSync(path)) throw new Error(`${name} ${version} not found at ${path}: run scripts/install-test-deps.sh`);
  return path;
}

/** Whether `exited` settles within `ms` (without leaving a timer behind). */
async function exitedWithin(exited: Promise<Exit>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const timedOut = delay(ms, false, { signal: timer.signal }).catch(() => false);
  const done = await Promise.race([exited.then(() => true), timedOut]);
  timer.abort();
  return done;
}

/** A log from byte `from` on ("" while it does not exist). */
function readLog(logPath: string, from: number): Promise<string> {
  return readFile(logPath).then(
    (buf) => buf.subarray(from).toString("utf8"),
    () => "",
  );
}
