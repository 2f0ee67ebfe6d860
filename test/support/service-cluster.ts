import type { EnvVar } from "../../src/config.js";
import { spawnService, type ServiceProcess } from "./service-process.js";
import { liveKitEnv, type LiveKitEndpoint } from "./service.js";
import { TEST_JWT_SECRET } from "./tokens.js";

/** One instance of a cluster: its own process of the real entry point, on a port of its own. */
export interface ClusterInstance {
  readonly index: number;
  /** Its current process (a new one after restart()). */
  readonly process: ServiceProcess;
  readonly baseUrl: string;
  readonly port: number;
  /** Whether the current process is still running. */
  readonly alive: boolean;
}

/** N service processes on one PostgreSQL database and one NATS (server or cluster), as operators run them. */
export interface ServiceCluster extends AsyncDisposable {
  readonly instances: readonly ClusterInstance[];
  /** The instances whose process runs now. */
  live(): ClusterInstance[];
  /** The index of the instance publishing the outbox (its /readyz says `relay: publishing`), if any answers so. */
  relayHolder(): Promise<number | undefined>;
  /** SIGKILL: the process dies at once, as on a crash. Resolves once it is gone. */
  kill(index: number): Promise<void>;
  /** SIGTERM: a graceful stop; resolves with the exit code once it is gone. */
  terminate(index: number): Promise<number | string>;
  /** Starts the instance again on its port, on the same database. */
  restart(index: number): Promise<void>;
  /** Stops every instance still running (SIGTERM, then SIGKILL after a grace). */
  stop(): Promise<void>;
}

export interface ServiceClusterOptions {
  readonly instances: number;
  readonly livekit: LiveKitEndpoint;
  /** The shared database: `sharedPostgres().createDatabase()`. */
  readonly databaseUrl: string;
  /** One URL or a comma-separated list (a NATS cluster). */
  readonly natsUrl: string;
  readonly env?: Partial<Record<EnvVar, string>>;
}

const STOP_GRACE_MS = 15_000;

export async function startServiceCluster(options: ServiceClusterOptions): Promise<ServiceCluster> {
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    NATS_URL: options.natsUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ...liveKitEnv(options.livekit),
    RATE_LIMIT_INITIATE_PER_MINUTE: "0",
    RATE_LIMIT_RECORDING_PER_MINUTE: "0",
    RATE_LIMIT_RING_PER_MINUTE: "0",
    RATE_LIMIT_OTHER_PER_MINUTE: "0",
    LOG_LEVEL: "info",
    ...(options.env as Record<string, string> | undefined),
  };
  const slots: { process: ServiceProcess; port: number }[] = [];
  const spawnOn = async (port: number) => spawnService({ ...env, PORT: String(port) });
  try {
    // One after another: the first migrates the schema, the others find it done (either way is safe).
    for (let i = 0; i < options.instances; i++) {
      const process = await spawnService(env);
      slots.push({ process, port: Number(new URL(process.baseUrl).port) });
    }
  } catch (err) {
    await Promise.all(slots.map((s) => stopProcess(s.process)));
    throw err;
  }

  const isAlive = (p: ServiceProcess) => p.child.exitCode === null && p.child.signalCode === null;
  const instances: ClusterInstance[] = slots.map((slot, index) => ({
    index,
    get process() {
      return slot.process;
    },
    get baseUrl() {
      return slot.process.baseUrl;
    },
    get port() {
      return slot.port;
    },
    get alive() {
      return isAlive(slot.process);
    },
  }));
  const slot = (index: number) => {
    const s = slots[index];
    if (!s) throw new Error(`no instance ${index}`);
    return s;
  };

  const stop = async () => {
    await Promise.all(slots.map((s) => stopProcess(s.process)));
  };
  return {
    instances,
    live: () => instances.filter((i) => i.alive),
    relayHolder: async () => {
      const roles = await Promise.all(instances.map((i) => (i.alive ? relayRole(i.baseUrl) : Promise.resolve(undefined))));
      const index = roles.indexOf("publishing");
      return index < 0 ? undefined : index;
    },
    kill: async (index) => {
      const { process } = slot(index);
      process.child.kill("SIGKILL");
      await process.exited;
    },
    terminate: async (index) => {
      const { process } = slot(index);
      process.child.kill("SIGTERM");
      return process.exited;
    },
    restart: async (index) => {
      const s = slot(index);
      if (isAlive(s.process)) throw new Error(`instance ${index} is still running`);
      s.process = await spawnOn(s.port);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** What the instance's /readyz says of its relay: "publishing", "standby", or undefined when it does not answer. */
export async function relayRole(baseUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { dependencies?: { nats?: { relay?: string } } };
    return body.dependencies?.nats?.relay;
  } catch {
    return undefined;
  }
}

async function stopProcess(process: ServiceProcess): Promise<void> {
  if (process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.child.kill("SIGTERM");
  const timer = setTimeout(() => process.child.kill("SIGKILL"), STOP_GRACE_MS);
  await process.exited;
  clearTimeout(timer);
}
