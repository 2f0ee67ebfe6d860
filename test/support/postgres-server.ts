import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { onFreePorts, ProcessStartError, logReady, startProcess, type RunningProcess } from "./process-fixture.js";

/** Where a PostgreSQL server answers. Serializable: the global setup hands it to test files. */
export interface PostgresEndpoint {
  /** postgres://postgres:<password>@127.0.0.1:<port>/<database>, the superuser on the server's own database. */
  readonly url: string;
  readonly port: number;
}

/** A real PostgreSQL server (Debian's package) on loopback, private to the caller. */
export interface PostgresServer extends PostgresEndpoint, AsyncDisposable {
  /** The cluster (initdb's output); kept across restart() and kill9(). */
  readonly dataDir: string;
  /** Every run of this server appends to it. */
  readonly logPath: string;
  /** The running postmaster's process id (it runs as the OS user `postgres` when we are root); 0 after kill9(). */
  readonly pid: number;
  /** A fresh database on this server (a random name unless given one); resolves to its URL. */
  createDatabase(name?: string): Promise<string>;
  /**
   * Shuts down ("fast": SIGINT, rolls back open transactions and disconnects
   * clients; "immediate": SIGQUIT, no checkpoint, recovery at the next start)
   * and starts again on the same port and data. Idempotent after kill9().
   */
  restart(mode?: "fast" | "immediate"): Promise<void>;
  /** SIGKILL to the postmaster and its backends, as a crash would; restart() brings it back. */
  kill9(): Promise<void>;
  /** Fast shutdown, then removes the temp dir (data included). Idempotent. */
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /** The database created for `url` (default "scaiwave"). */
  readonly database?: string;
  /** More `-c name=value` server settings, after the fixture's own. */
  readonly settings?: Readonly<Record<string, string>>;
}

const SUPERUSER = "postgres";
const PACKAGE_ROOT = "/usr/lib/postgresql";
// What PostgreSQL logs once it takes connections (after crash recovery, if any).
const READY_LINE = /database system is ready to accept connections/;
const SHUTDOWN_WAIT_MS = 30_000;
// restart() wants the same port back; if something holds it, retry this long.
const RESTART_PORT_WAIT_MS = 5_000;
const RESTART_RETRY_MS = 100;
const GONE_POLL_MS = 10;

const execFileAsync = promisify(execFile);

/**
 * The bin dir of the newest PostgreSQL Debian's packages installed
 * (/usr/lib/postgresql/<major>/bin; bookworm ships 15), or a clear error.
 */
export function postgresBinDir(root = PACKAGE_ROOT): string {
  const majors = (existsSync(root) ? readdirSync(root) : [])
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  if (majors.length === 0) {
    throw new Error(`PostgreSQL not found under ${root}/<major>/bin: run scripts/install-test-deps.sh (Debian's postgresql)`);
  }
  return join(root, majors[0]!, "bin");
}

/** How to run PostgreSQL's programs: as the OS user `postgres` when we are root (it refuses root), else as ourselves. */
interface RunAs {
  /** Put before the program and its arguments. */
  readonly prefix: readonly string[];
  /** Owner to give the temp dir, when we switch users. */
  readonly owner?: { uid: number; gid: number };
}

async function runAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const entry = await execFileAsync("getent", ["passwd", "postgres"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  const [, , uid, gid] = entry.split(":");
  if (uid === undefined || gid === undefined) {
    throw new Error(
      "PostgreSQL refuses to run as root, and there is no OS user 'postgres' to run it as: " +
        "install Debian's postgresql package (scripts/install-test-deps.sh), which creates that user",
    );
  }
  return { prefix: ["runuser", "-u", "postgres", "--"], owner: { uid: Number(uid), gid: Number(gid) } };
}

/** A URL for another database on the same server, as the same user. */
export function databaseUrl(endpoint: PostgresEndpoint, database: string): string {
  const url = new URL(endpoint.url);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates a database on the server (a fresh random name unless given one) and returns its URL. */
export async function createDatabase(endpoint: PostgresEndpoint, name = `test_${randomBytes(8).toString("hex")}`): Promise<string> {
  assertPlainName(name);
  const client = new pg.Client({ connectionString: endpoint.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return databaseUrl(endpoint, name);
}

/** CREATE DATABASE takes no parameters: only plain names, so nothing needs quoting. */
function assertPlainName(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`postgres: database name "${name}" is not a plain lower-case identifier`);
}

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const database = options.database ?? "scaiwave";
  assertPlainName(database);
  const bin = postgresBinDir();
  const as = await runAs();
  const password = randomBytes(18).toString("hex");
  const dir = await mkdtemp(join(tmpdir(), "postgres-server-"));
  const dataDir = join(dir, "data");
  const logPath = join(dir, "postgres.log");

  const launch = (port: number) =>
    startProcess({
      name: "postgres",
      command: as.prefix[0] ?? join(bin, "postgres"),
      args: [
        ...as.prefix.slice(1),
        ...(as.prefix.length > 0 ? [join(bin, "postgres")] : []),
        "-D",
        dataDir,
        "-p",
        String(port),
        ...settingArgs({
          listen_addresses: "127.0.0.1",
          // The socket stays in the temp dir (the default, /var/run/postgresql, is shared with a system cluster).
          unix_socket_directories: dir,
          fsync: "on",
          ...options.settings,
        }),
      ],
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      logPath,
      ready: logReady(READY_LINE),
      // The fixture's own stop() reaches only runuser (which makes it a SIGTERM to postgres): it ends a failed
      // start; every other stop signals the postmaster itself (see shutDown).
    });

  let run: RunningProcess | undefined;
  let pid = 0;
  let port = 0;
  const started = async (running: RunningProcess) => {
    run = running;
    pid = await postmasterPid(dataDir);
  };
  try {
    if (as.owner) await chown(dir, as.owner.uid, as.owner.gid);
    await initdb(bin, as, dir, dataDir, password);
    await onFreePorts(1, async ([p]) => {
      await started(await launch(p!));
      port = p!;
    });
  } catch (err) {
    await run?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  // If the test process ends without stop(), don't leave the cluster behind: runuser would not pass a SIGKILL on.
  const killOnExit = () => void killCluster(pid);
  process.on("exit", killOnExit);

  const endpoint: PostgresEndpoint = { url: `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/${database}`, port };
  const admin = new pg.Client({ connectionString: databaseUrl(endpoint, "postgres") });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
  } catch (err) {
    await shutDown(run!, pid, "SIGINT");
    process.off("exit", killOnExit);
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await admin.end().catch(() => {});
  }

  // restart/kill9/stop run one at a time, in call order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const result = queue.then(op);
    queue = result.catch(() => {});
    return result;
  };
  let stopping: Promise<void> | undefined;

  const restart = (mode: "fast" | "immediate" = "fast"): Promise<void> =>
    serial(async () => {
      if (stopping) throw new Error("postgres: restart() after stop()");
      await shutDown(run!, pid, mode === "fast" ? "SIGINT" : "SIGQUIT");
      const deadline = Date.now() + RESTART_PORT_WAIT_MS;
      for (;;) {
        try {
          await started(await launch(port));
          return;
        } catch (err) {
          // The port is the API: wait for whoever holds it.
          if (!(err instanceof ProcessStartError && err.portTaken) || Date.now() > deadline) throw err;
          await delay(RESTART_RETRY_MS);
        }
      }
    });

  const kill9 = (): Promise<void> =>
    serial(async () => {
      await killCluster(pid);
      pid = 0;
      // runuser exits once its child has.
      await run!.exited;
      await run!.stop();
    });

  const stop = (): Promise<void> =>
    (stopping ??= serial(async () => {
      await shutDown(run!, pid, "SIGINT");
      process.off("exit", killOnExit);
      await rm(dir, { recursive: true, force: true });
    }));

  return {
    ...endpoint,
    dataDir,
    logPath,
    get pid() {
      return pid;
    },
    createDatabase: (name?: string) => createDatabase(endpoint, name),
    restart,
    kill9,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function settingArgs(settings: Readonly<Record<string, string>>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}

/** A new cluster in dataDir: superuser `postgres` with a password (SCRAM for every connection), UTF-8, C collation. */
async function initdb(bin: string, as: RunAs, dir: string, dataDir: string, password: string): Promise<void> {
  const pwfile = join(dir, "superuser-password");
  await writeFile(pwfile, password, { mode: 0o600 });
  try {
    if (as.owner) await chown(pwfile, as.owner.uid, as.owner.gid);
    const [command, ...args] = [
      ...as.prefix,
      join(bin, "initdb"),
      "-D",
      dataDir,
      "-U",
      SUPERUSER,
      `--pwfile=${pwfile}`,
      "--auth=scram-sha-256",
      "--encoding=UTF8",
      // Byte order for text, as SQLite compares it.
      "--locale=C",
      "--no-instructions",
    ];
    await execFileAsync(command!, args, { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" } }).catch((err: unknown) => {
      const output = err as { stdout?: string; stderr?: string; message?: string };
      throw new Error(`initdb failed: ${output.message ?? String(err)}\n${output.stdout ?? ""}${output.stderr ?? ""}`, {
        cause: err,
      });
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** The postmaster's pid: the first line of postmaster.pid, written before it reports ready. */
async function postmasterPid(dataDir: string): Promise<number> {
  const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n", 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`postgres: no pid in ${dataDir}/postmaster.pid`);
  return pid;
}

/**
 * Signals the postmaster itself: runuser would turn any signal into SIGTERM
 * (PostgreSQL's "smart" shutdown, which waits for every client to leave) and
 * SIGKILL it 2 s later. Falls back to SIGKILL if it does not go within 30 s.
 */
async function shutDown(run: RunningProcess, pid: number, signal: "SIGINT" | "SIGQUIT"): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
    const timer = new AbortController();
    const timedOut = delay(SHUTDOWN_WAIT_MS, "timeout" as const, { signal: timer.signal }).catch(() => "aborted" as const);
    const outcome = await Promise.race([run.exited.then(() => "exited" as const), timedOut]);
    timer.abort();
    if (outcome === "timeout") await killCluster(pid);
  }
  await run.stop();
}

/**
 * SIGKILL to the postmaster first (so it starts nothing new), then to its
 * children; resolves once none is left running (a zombie holds no shared memory).
 */
function killCluster(pid: number): Promise<void> {
  if (pid <= 0) return Promise.resolve();
  const children = childPids(pid);
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return waitGone([pid, ...children]);
}

function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat?.ppid === parent) pids.push(Number(entry));
  }
  return pids;
}

/** State and parent of a process from /proc/<pid>/stat (undefined once it is gone). */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    // "pid (comm) state ppid …"; comm may contain spaces and parentheses, so split after its last ")".
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: state ?? "", ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Polls: processes that are not our children give no event when they end. */
async function waitGone(pids: readonly number[]): Promise<void> {
  for (;;) {
    const left = pids.filter((p) => {
      const state = procStat(p)?.state;
      return state !== undefined && state !== "Z" && state !== "X";
    });
    if (left.length === 0) return;
    await delay(GONE_POLL_MS);
  }
}
