import type { RelayRole } from "../adapters/nats/outbox-relay.js";
import type { PublisherStatus, StreamOptions } from "../adapters/nats/jetstream-publisher.js";

/** What the relay thread is started with (structured-cloned into it). */
export interface RelayWorkerData {
  readonly nats: {
    readonly servers: readonly string[];
    readonly streams: readonly StreamOptions[];
    readonly publishTimeoutMs: number;
  };
  /** How often the relay looks for events no commit woke it for. */
  readonly pollIntervalMs: number;
  /**
   * PostgreSQL: the thread takes the relay lease, reads and marks the outbox
   * on connections of its own. SQLite: it reads the file at `path` on a
   * connection of its own and sends its marks to the request thread's store
   * over the port (see SqliteOutboxReader, OutboxStoreServer).
   */
  readonly store:
    | { readonly kind: "postgresql"; readonly url: string; readonly statementTimeoutMs: number }
    | { readonly kind: "sqlite"; readonly path: string };
}

/** Request thread → relay thread. */
export type ToRelay =
  /** New events were committed: publish them now. */
  | { readonly type: "kick" }
  /** Flush what can be flushed within `flushMs`, then close everything and answer `stopped`. */
  | { readonly type: "stop"; readonly flushMs: number };

/** Relay thread → request thread (besides the outbox calls of OutboxStoreClient). */
export type FromRelay =
  | { readonly type: "state"; readonly role: RelayRole; readonly publisher: PublisherStatus }
  | { readonly type: "log"; readonly level: "info" | "warn" | "error"; readonly fields: Record<string, unknown>; readonly msg: string }
  | { readonly type: "stopped" };
