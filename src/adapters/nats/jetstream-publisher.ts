import { setTimeout as delay } from "node:timers/promises";
import {
  connect,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type NatsConnection,
  type StreamConfig,
} from "nats";
import type { Logger } from "../../app/ports.js";

export interface StreamOptions {
  readonly name: string;
  readonly subjects: readonly string[];
  /** `limits` keeps events for consumers to read (max age); `workqueue` deletes a job once acknowledged. */
  readonly retention: "limits" | "workqueue";
  readonly maxAgeSeconds: number;
  /** JetStream drops a second message with the same Nats-Msg-Id within this window. */
  readonly duplicateWindowSeconds: number;
}

export interface JetStreamPublisherOptions {
  readonly url: string;
  readonly streams: readonly StreamOptions[];
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
}

export interface PublisherStatus {
  readonly connected: boolean;
  readonly streamReady: boolean;
  readonly lastError: string | undefined;
}

/** Publishes to JetStream, awaiting the ack. */
export interface EventPublisher {
  publish(subject: string, payload: string, msgId: string): Promise<void>;
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
  private js: JetStreamClient | undefined;
  private streamReady = false;
  private connected = false;
  private lastError: string | undefined;
  private closed = false;
  private connecting: Promise<void> | undefined;
  /** Cuts the reconnect backoff short on close. */
  private readonly closing = new AbortController();

  constructor(private readonly options: JetStreamPublisherOptions) {}

  /** Starts connecting in the background. */
  start(): void {
    this.connecting ??= this.connectLoop();
  }

  status(): PublisherStatus {
    return { connected: this.connected, streamReady: this.streamReady, lastError: this.lastError };
  }

  async publish(subject: string, payload: string, msgId: string): Promise<void> {
    const js = this.js;
    if (!js || !this.connected) throw new Error(`not connected to NATS at ${this.options.url}`);
    try {
      if (!this.streamReady) await this.ensureStreams();
      await js.publish(subject, payload, { msgID: msgId, timeout: this.options.publishTimeoutMs });
    } catch (err) {
      // A NATS server that lost its store also lost the stream: re-create it on the next try.
      this.streamReady = false;
      this.lastError = err instanceof Error ? err.message : String(err);
      throw err;
    }
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
    const { logger, url } = this.options;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const nc = await connect({
          servers: url,
          name: "scaiwave-calls",
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 2000,
        });
        if (this.closed) {
          await nc.close();
          return;
        }
        this.nc = nc;
        this.js = nc.jetstream();
        this.connected = true;
        logger.info({ nats: url }, "connected to NATS");
        void this.watch(nc);
        await this.ensureStreams().catch((err: unknown) => {
          logger.warn({ err }, "could not create the NATS streams yet; will retry");
        });
        return;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        if (attempt === 0 || attempt % 20 === 0) logger.warn({ err, nats: url }, "NATS unreachable; events wait in the outbox");
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
        this.options.logger.warn({ nats: this.options.url }, "disconnected from NATS; reconnecting");
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.streamReady = false;
        this.options.logger.info({ nats: this.options.url }, "reconnected to NATS");
      }
    }
  }

  /** Creates each stream, or brings an existing one's subjects and limits up to the configuration. */
  private async ensureStreams(): Promise<void> {
    const nc = this.nc;
    if (!nc) throw new Error("not connected");
    const jsm = await nc.jetstreamManager({ timeout: this.options.publishTimeoutMs });
    for (const { name, subjects, maxAgeSeconds, duplicateWindowSeconds, retention } of this.options.streams) {
      const config: Partial<StreamConfig> = {
        subjects: [...subjects],
        max_age: nanos(maxAgeSeconds * 1000),
        duplicate_window: nanos(duplicateWindowSeconds * 1000),
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

function isStreamNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "");
}
