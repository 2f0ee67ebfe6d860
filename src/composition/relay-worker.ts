import { parentPort, workerData } from "node:worker_threads";
import { JetStreamPublisher, type PublisherStatus } from "../adapters/nats/jetstream-publisher.js";
import { OutboxRelay, type RelayRole } from "../adapters/nats/outbox-relay.js";
import { SqliteOutboxReader } from "../adapters/sqlite/outbox-reader.js";
import { OutboxStoreClient } from "../adapters/thread/outbox-over-port.js";
import type { Logger, OutboxStore } from "../app/ports.js";
import type { FromRelay, RelayWorkerData, ToRelay } from "./relay-messages.js";

/**
 * The relay thread's composition root: the outbox relay and its NATS
 * connection, off the thread that answers requests (publishing an event and
 * awaiting its ack cost more CPU than the rest of a join). Started by
 * RelayThread; everything it logs goes to the request thread's logger.
 */

const port = parentPort;
if (!port) throw new Error("relay-worker runs as a worker thread (started by RelayThread)");
const data = workerData as RelayWorkerData;
const post = (message: FromRelay) => port.postMessage(message);

const logger: Logger = {
  info: (fields, msg) => post({ type: "log", level: "info", fields: cloneable(fields), msg }),
  warn: (fields, msg) => post({ type: "log", level: "warn", fields: cloneable(fields), msg }),
  error: (fields, msg) => post({ type: "log", level: "error", fields: cloneable(fields), msg }),
};

// Messages that arrive meanwhile wait in the port: it starts delivering when the listener below is attached.
const { store, close: closeStore, handle } = await openOutbox(data.store);
const publisher = new JetStreamPublisher({ ...data.nats, logger });
const relay = new OutboxRelay({ store, publisher, clock: { now: () => Date.now() }, logger, pollIntervalMs: data.pollIntervalMs });

// The request thread reads role and NATS status from the last state sent: send it whenever it changes.
let lastState = "";
function reportState(): void {
  const state: { role: RelayRole; publisher: PublisherStatus } = { role: relay.role(), publisher: publisher.status() };
  const key = JSON.stringify(state);
  if (key === lastState) return;
  lastState = key;
  post({ type: "state", ...state });
}
const stateTimer = setInterval(reportState, 50);

port.on("message", (message: ToRelay | unknown) => {
  if (handle(message)) return;
  const control = message as ToRelay;
  if (control.type === "kick") relay.kick();
  else if (control.type === "stop") void stop(control.flushMs);
});

publisher.start();
relay.start();
reportState();

async function stop(flushMs: number): Promise<void> {
  try {
    await relay.stop(flushMs);
    await publisher.close();
    await closeStore();
  } finally {
    clearInterval(stateTimer);
    reportState();
    post({ type: "stopped" });
  }
}

async function openOutbox(config: RelayWorkerData["store"]): Promise<{
  store: OutboxStore;
  close(): Promise<void>;
  handle(message: unknown): boolean;
}> {
  if (config.kind !== "sqlite" && config.kind !== "postgresql") {
    throw new Error(`relay-worker: unknown store kind ${JSON.stringify((config as { kind?: unknown }).kind)}`);
  }
  if (config.kind === "sqlite") {
    const client = new OutboxStoreClient(port!);
    const handle = (message: unknown) => client.handle(message);
    // An in-memory database has no file another connection could open: everything goes through the port.
    if (config.path === ":memory:") return { store: client, close: () => Promise.resolve(), handle };
    const reader = new SqliteOutboxReader(config.path, client);
    return { store: reader, close: () => Promise.resolve(reader.close()), handle };
  }
  // Loaded only here, so that a SQLite service never loads the PostgreSQL driver (in either thread).
  const [{ createPostgresClient, createPostgresPool }, { PostgresOutboxStore }] = await Promise.all([
    import("../adapters/postgres/pool.js"),
    import("../adapters/postgres/outbox.js"),
  ]);
  const options = { url: config.url, statementTimeoutMs: config.statementTimeoutMs };
  // The pool only counts the backlog (twice a minute); the lease has a connection of its own.
  const pool = createPostgresPool({
    ...options,
    max: 1,
    onError: (err) => logger.warn({ err }, "the relay's PostgreSQL connection failed; the pool replaces it"),
  });
  const outbox = new PostgresOutboxStore(pool, () => createPostgresClient(options));
  return {
    store: outbox,
    close: async () => {
      await outbox.close();
      await pool.end();
    },
    handle: () => false,
  };
}

/** Log fields as the request thread's logger can take them: errors as plain objects (their class does not cross). */
function cloneable(fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Error ? errorFields(value) : value;
  return out;
}

function errorFields(err: Error): Record<string, unknown> {
  const { code } = err as { code?: unknown };
  return { type: err.name, message: err.message, stack: err.stack, ...(code !== undefined && { code }) };
}
