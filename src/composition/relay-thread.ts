import { Worker } from "node:worker_threads";
import type { PublisherStatus } from "../adapters/nats/jetstream-publisher.js";
import type { RelayRole } from "../adapters/nats/outbox-relay.js";
import { OutboxStoreServer } from "../adapters/thread/outbox-over-port.js";
import type { Logger, OutboxStore } from "../app/ports.js";
import type { FromRelay, RelayWorkerData, ToRelay } from "./relay-messages.js";

export interface RelayThreadOptions {
  readonly data: RelayWorkerData;
  /** SQLite: the store the relay thread reads and marks through this thread (undefined on PostgreSQL). */
  readonly outbox: OutboxStore | undefined;
  readonly logger: Logger;
  /** How soon a relay thread that died is started again. */
  readonly restartDelayMs?: number;
}

/** How long past its flush a stopping relay thread may take to close NATS and the store. */
const STOP_GRACE_MS = 5000;

const NOT_CONNECTED: PublisherStatus = { connected: false, streamReady: false, lastError: "the outbox relay is not running" };

/**
 * The outbox relay, run in a worker thread (relay-worker.ts): this thread
 * answers requests and only kicks it after commits. Role and NATS status are
 * what the thread last reported. A thread that dies is logged and started
 * again; events wait in the outbox meanwhile, and the new thread resumes at
 * the first one not marked sent (JetStream drops repeats by Nats-Msg-Id).
 */
export class RelayThread {
  private worker: Worker | undefined;
  private server: OutboxStoreServer | undefined;
  private state: { role: RelayRole; publisher: PublisherStatus } = { role: "stopped", publisher: NOT_CONNECTED };
  private stopping = false;
  private stopped: (() => void) | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RelayThreadOptions) {}

  /** publishing, standby, or stopped (also while the thread starts or restarts). */
  role(): RelayRole {
    return this.worker ? this.state.role : "stopped";
  }

  /** The relay thread's NATS connection and streams. */
  publisherStatus(): PublisherStatus {
    return this.worker ? this.state.publisher : NOT_CONNECTED;
  }

  start(): void {
    if (this.worker || this.stopping) return;
    const worker = startWorker(this.options.data);
    this.worker = worker;
    this.server = this.options.outbox && new OutboxStoreServer(this.options.outbox, worker);
    worker.on("message", (message: unknown) => this.onMessage(message));
    worker.on("error", (err) => this.options.logger.error({ err }, "the outbox relay thread failed"));
    worker.on("exit", (code) => this.onExit(worker, code));
  }

  /**
   * New events were committed: publish them now rather than at the next poll.
   * Only SQLite needs telling; on PostgreSQL the thread LISTENs and hears every
   * commit of every instance, this one's included.
   */
  kick(): void {
    if (this.options.outbox) this.post({ type: "kick" });
  }

  /** Publishes what it can within `flushMs` (NATS permitting), then ends the thread; the rest waits in the outbox. */
  async stop(flushMs = 5000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const done = new Promise<void>((resolve) => {
      this.stopped = resolve;
      worker.once("exit", () => resolve());
    });
    this.post({ type: "stop", flushMs });
    // A thread that does not answer in time (NATS closing slowly, a store query hanging) is ended anyway.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, flushMs + STOP_GRACE_MS)))]);
    clearTimeout(timer);
    this.worker = undefined;
    await worker.terminate();
  }

  private post(message: ToRelay): void {
    this.worker?.postMessage(message);
  }

  private onMessage(message: unknown): void {
    if (this.server?.handle(message)) return;
    const event = message as FromRelay;
    switch (event.type) {
      case "state":
        this.state = { role: event.role, publisher: event.publisher };
        return;
      case "log":
        this.options.logger[event.level]({ thread: "relay", ...event.fields }, event.msg);
        return;
      case "stopped":
        this.stopped?.();
        return;
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.server = undefined;
    this.state = { role: "stopped", publisher: NOT_CONNECTED };
    if (this.stopping) return;
    this.options.logger.error({ code }, "the outbox relay thread exited; starting it again (events wait in the outbox)");
    this.restartTimer = setTimeout(() => this.start(), this.options.restartDelayMs ?? 1000);
  }
}

/**
 * The built service runs relay-worker.js; from the sources (tests, `npm run
 * dev`) the thread registers tsx first, since a worker does not inherit the
 * loader of the thread that started it.
 */
function startWorker(workerData: RelayWorkerData): Worker {
  const entry = new URL(import.meta.url.endsWith(".ts") ? "./relay-worker.ts" : "./relay-worker.js", import.meta.url);
  const options = { workerData, resourceLimits: { maxOldGenerationSizeMb: 64 } };
  if (entry.pathname.endsWith(".js")) return new Worker(entry, options);
  const bootstrap = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
