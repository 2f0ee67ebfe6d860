import { setTimeout as delay } from "node:timers/promises";
import {
  connect,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type NatsConnection,
  type StreamConfig,
} from "nats";
import type { Logger } from "../../app/ports.js";
import { withoutCredentials } from "../../config-parsers.js";
import { PublishAcks, type AckedMessage } from "./publish-acks.js";

export { withoutCredentials };

export interface StreamOptions {
  readonly name: string;
  readonly subjects: readonly string[];
  /** `limits` keeps events for consumers to read (max age); `workqueue` deletes a job once acknowledged. */
  readonly retention: "limits" | "workqueue";
  readonly maxAgeSeconds: number;
  /** JetStream drops a second message with the same Nats-Msg-Id within this window. */
  readonly duplicateWindowSeconds: number;
  /** `num_replicas`: copies kept on as many servers of a JetStream cluster (1 on a single server). */
  readonly replicas: number;
}

export interface JetStreamPublisherOptions {
  /** Every server of the cluster (or the one server): the client connects to one, and to another when it goes away. */
  readonly servers: readonly string[];
  readonly streams: readonly StreamOptions[];
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
}

export interface PublisherStatus {
  readonly connected: boolean;
  readonly streamReady: boolean;
  readonly lastError: string | undefined;
}

export interface OutboundMessage {
  readonly subject: string;
  readonly payload: string;
  /** `Nats-Msg-Id`: JetStream drops a repeat within the duplicate window. */
  readonly msgId: string;
}

export interface PublishOutcome {
  /** How many messages, from the start of the batch, JetStream acknowledged. */
  readonly acked: number;
  /** Why the next one failed, when not all were acknowledged. */
  readonly error?: unknown;
}

/** Publishes to JetStream, awaiting the acks. */
export interface EventPublisher {
  /**
   * Publishes `messages` in order, pipelined: all are written before any ack
   * is awaited, so a batch costs about one round trip instead of one per
   * message. Every message after the first of its stream in the batch carries
   * `Nats-Expected-Last-Msg-Id` (its predecessor's id), so if a message is
   * lost (a connection drop) JetStream refuses its successors instead of
   * storing them ahead of it: the stream keeps commit order.
   */
  publishInOrder(messages: readonly OutboundMessage[]): Promise<PublishOutcome>;
  status(): PublisherStatus;
}

/**
 * Keeps one NATS connection (reconnecting forever; the service runs without
 * NATS and events wait in the outbox), makes sure the stream exists with the
 * configured subjects and retention, and publishes with `Nats-Msg-Id`.
 * JetStream messages reach core NATS subscribers of the subject too.
 */
export class JetStreamPublisher implements EventPublisher {
  private nc: NatsConnection | undefined;
  /** Publishes and awaits acks on core NATS (see PublishAcks for why not nats.js's `js.publish`). */
  private acks: PublishAcks | undefined;
  private streamReady = false;
  private connected = false;
  private lastError: string | undefined;
  private closed = false;
  private connecting: Promise<void> | undefined;
  /** Cuts the reconnect backoff short on close. */
  private readonly closing = new AbortController();
  /** The servers as logs and errors may show them. */
  private readonly where: string;

  constructor(private readonly options: JetStreamPublisherOptions) {
    this.where = withoutCredentials(options.servers.join(","));
  }

  /** Starts connecting in the background. */
  start(): void {
    this.connecting ??= this.connectLoop();
  }

  status(): PublisherStatus {
    return { connected: this.connected, streamReady: this.streamReady, lastError: this.lastError };
  }

  async publishInOrder(messages: readonly OutboundMessage[]): Promise<PublishOutcome> {
    const acks = this.acks;
    if (!acks || !this.connected) return { acked: 0, error: new Error(`not connected to NATS at ${this.where}`) };
    try {
      if (!this.streamReady) await this.ensureStreams();
    } catch (error) {
      return this.failed(0, error);
    }
    const previousInStream = new Map<string, string>();
    const chained = messages.map(({ subject, payload, msgId }): AckedMessage => {
      const stream = this.streamOf(subject);
      const expectedLastMsgId = previousInStream.get(stream);
      previousInStream.set(stream, msgId);
      return { subject, payload, msgId, expectedLastMsgId };
    });
    // Written synchronously, in order, on one connection: JetStream stores them in this order.
    const results = await acks.publish(chained, this.options.publishTimeoutMs);
    const firstFailure = results.findIndex((r) => r !== null);
    if (firstFailure < 0) return { acked: messages.length };
    return this.failed(firstFailure, results[firstFailure]);
  }

  private failed(acked: number, error: unknown): PublishOutcome {
    // A NATS server that lost its store also lost the stream: re-create it on the next try.
    this.streamReady = false;
    this.lastError = error instanceof Error ? error.message : String(error);
    return { acked, error };
  }

  /** The configured stream whose subjects match (events and jobs go to different streams). */
  private streamOf(subject: string): string {
    return this.options.streams.find((s) => s.subjects.some((pattern) => subjectMatches(pattern, subject)))?.name ?? "";
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    await this.connecting;
  }

  private async connectLoop(): Promise<void> {
    const { logger } = this.options;
    const where = this.where;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const nc = await connect({
          servers: [...this.options.servers],
          name: "scaiwave-calls",
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 2000,
          // No Error (a stack trace) per request only to decorate timeouts (the stream management requests).
          noAsyncTraces: true,
        });
        if (this.closed) {
          await nc.close();
          return;
        }
        this.nc = nc;
        this.acks = new PublishAcks(nc);
        this.connected = true;
        logger.info({ nats: where, server: nc.getServer() }, "connected to NATS");
        void this.watch(nc);
        await this.ensureStreams().catch((err: unknown) => {
          this.lastError = err instanceof Error ? err.message : String(err);
          logger.warn({ err }, "could not create the NATS streams yet; will retry");
        });
        return;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        if (attempt === 0 || attempt % 20 === 0) logger.warn({ err, nats: where }, "NATS unreachable; events wait in the outbox");
        await delay(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)), undefined, { signal: this.closing.signal }).catch(
          () => undefined,
        );
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.options.logger.warn({ nats: this.where }, "disconnected from NATS; reconnecting");
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.streamReady = false;
        // Possibly to another server of the cluster (host:port only, never credentials).
        this.options.logger.info({ nats: this.where, server: nc.getServer() }, "reconnected to NATS");
      }
    }
  }

  /** Creates each stream, or brings an existing one's subjects and limits up to the configuration. */
  private async ensureStreams(): Promise<void> {
    const nc = this.nc;
    if (!nc) throw new Error("not connected");
    const jsm = await nc.jetstreamManager({ timeout: this.options.publishTimeoutMs });
    for (const { name, subjects, maxAgeSeconds, duplicateWindowSeconds, retention, replicas } of this.options.streams) {
      const config: Partial<StreamConfig> = {
        subjects: [...subjects],
        max_age: nanos(maxAgeSeconds * 1000),
        duplicate_window: nanos(duplicateWindowSeconds * 1000),
        // JetStream refuses more replicas than it has servers ("no suitable peers for placement"): the error reaches /readyz.
        num_replicas: replicas,
      };
      try {
        await jsm.streams.info(name);
        await jsm.streams.update(name, config);
      } catch (err) {
        if (!isStreamNotFound(err)) throw err;
        await jsm.streams.add({
          name,
          ...config,
          storage: StorageType.File,
          retention: retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
        });
      }
    }
    this.streamReady = true;
  }
}

/** NATS subject wildcards: `*` is one token, a final `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split(".");
  const have = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    if (want[i] === ">") return have.length > i;
    if (i >= have.length || (want[i] !== "*" && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}

function isStreamNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "");
}
