import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { natsBinaryPath } from "./nats-server.js";
import { onFreePorts, ProcessStartError, startProcess, type Readiness, type RunningProcess } from "./process-fixture.js";

/** A real JetStream cluster of nats-server processes on loopback, private to the caller. */
export interface NatsCluster extends AsyncDisposable {
  /** Each node's client URL (nats://127.0.0.1:<port>), by node index. */
  readonly urls: readonly string[];
  /** Each node's `server_name`, by node index: what stream info's `cluster.leader` names. */
  readonly names: readonly string[];
  /** Each node's monitoring endpoint (http://127.0.0.1:<port>: `/connz`, `/jsz`, `/healthz`), by node index. */
  readonly monitorUrls: readonly string[];
  /** The node named `name` (as stream info gives it). */
  indexOf(name: string): number;
  /** SIGKILLs node `i` (no goodbye to the cluster) and resolves once it is gone; its store stays. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on its ports and store; resolves once it is back in the JetStream cluster and current. */
  restart(i: number): Promise<void>;
  /** Stops every node and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

interface NodePorts {
  readonly client: number;
  readonly cluster: number;
  readonly monitor: number;
}

const CLUSTER_NAME = "scaiwave-test";
// restart() wants the node's own ports back; if something holds one, retry this long.
const RESTART_PORT_WAIT_MS = 5_000;
const RESTART_RETRY_MS = 100;

export async function startNatsCluster({ nodes = 3 }: { nodes?: number } = {}): Promise<NatsCluster> {
  const binary = natsBinaryPath();
  const dir = await mkdtemp(join(tmpdir(), "nats-cluster-"));
  const names = Array.from({ length: nodes }, (_, i) => `n${i}`);
  let ports: NodePorts[] = [];
  const running: (RunningProcess | undefined)[] = [];

  const launch = async (i: number): Promise<RunningProcess> => {
    const node = ports[i]!;
    const storeDir = join(dir, names[i]!);
    await mkdir(storeDir, { recursive: true });
    // nats-server reads JSON as its configuration format.
    const config = {
      server_name: names[i],
      listen: `127.0.0.1:${node.client}`,
      http: `127.0.0.1:${node.monitor}`,
      jetstream: { store_dir: storeDir },
      cluster: {
        name: CLUSTER_NAME,
        listen: `127.0.0.1:${node.cluster}`,
        routes: ports.filter((_, j) => j !== i).map((other) => `nats-route://127.0.0.1:${other.cluster}`),
      },
    };
    const configPath = join(dir, `${names[i]}.conf`);
    await writeFile(configPath, JSON.stringify(config, null, 2));
    return startProcess({
      name: `nats-server ${names[i]}`,
      command: binary,
      args: ["-c", configPath],
      logPath: join(dir, `${names[i]}.log`),
      ready: clusterNodeReady(node),
    });
  };

  try {
    await onFreePorts(nodes * 3, async (free) => {
      ports = names.map((_, i) => ({ client: free[3 * i]!, cluster: free[3 * i + 1]!, monitor: free[3 * i + 2]! }));
      // A failed attempt's stores remember peers on other ports: start clean.
      await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
      // Together: no node is ready (a meta leader elected) before a quorum of them runs.
      const started = await Promise.allSettled(names.map((_, i) => launch(i)));
      const failed = started.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) => s.reason as unknown);
      if (failed.length === 0) {
        started.forEach((s, i) => (running[i] = (s as PromiseFulfilledResult<RunningProcess>).value));
        return;
      }
      await Promise.all(started.flatMap((s) => (s.status === "fulfilled" ? [s.value.stop()] : [])));
      // A taken port first: onFreePorts then tries other ports.
      throw failed.find((err) => err instanceof ProcessStartError && err.portTaken) ?? failed[0];
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const node = (i: number): number => {
    if (!Number.isInteger(i) || i < 0 || i >= nodes) throw new Error(`nats cluster: no node ${i} (there are ${nodes})`);
    return i;
  };

  let stopping: Promise<void> | undefined;

  const kill = async (i: number): Promise<void> => {
    const run = running[node(i)];
    running[i] = undefined;
    if (!run) return;
    run.child.kill("SIGKILL");
    await run.exited;
  };

  const restart = async (i: number): Promise<void> => {
    if (stopping) throw new Error("nats cluster: restart() after stop()");
    const current = running[node(i)];
    if (current && current.child.exitCode === null && current.child.signalCode === null) return;
    const deadline = Date.now() + RESTART_PORT_WAIT_MS;
    for (;;) {
      try {
        running[i] = await launch(i);
        return;
      } catch (err) {
        // The node's ports are its identity in the cluster (routes, client URL): wait for them.
        if (!(err instanceof ProcessStartError && err.portTaken) || Date.now() > deadline) throw err;
        await delay(RESTART_RETRY_MS);
      }
    }
  };

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await Promise.all(running.flatMap((run) => (run ? [run.stop()] : [])));
      running.fill(undefined);
      await rm(dir, { recursive: true, force: true });
    })());

  return {
    urls: ports.map((p) => `nats://127.0.0.1:${p.client}`),
    names,
    monitorUrls: ports.map((p) => `http://127.0.0.1:${p.monitor}`),
    indexOf: (name) => {
      const i = names.indexOf(name);
      if (i < 0) throw new Error(`nats cluster: no node named ${JSON.stringify(name)}`);
      return i;
    },
    kill,
    restart,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * A node is ready when it is ours (another process may have taken the monitor
 * port), the JetStream meta group has a leader it knows, and `/healthz` is
 * green: on a cluster node that means in contact with the meta leader and
 * every stream and consumer replica it holds is current (a restarted node has
 * caught up).
 */
function clusterNodeReady(node: NodePorts): Readiness {
  const base = `http://127.0.0.1:${node.monitor}`;
  const getJson = async (path: string): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2_000) });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return undefined;
    }
    return res.json();
  };
  return async () => {
    try {
      const varz = (await getJson("/varz")) as { port?: number } | undefined;
      if (varz?.port !== node.client) return false;
      const jsz = (await getJson("/jsz")) as { meta_cluster?: { leader?: string } } | undefined;
      if (!jsz?.meta_cluster?.leader) return false;
      return (await getJson("/healthz")) !== undefined;
    } catch {
      return false;
    }
  };
}
