import { setTimeout as delay } from "node:timers/promises";
import { AckPolicy, connect, DeliverPolicy, nanos, type JsMsg, type NatsConnection } from "nats";
import type { Logger } from "../../app/ports.js";

export interface JobConsumerOptions {
  /** Every server of the cluster (or the one server). */
  readonly servers: readonly string[];
  readonly stream: string;
  readonly subject: string;
  /** Durable consumer name: every worker process shares it, so each job goes to one of them. */
  readonly durable: string;
  readonly concurrency: number;
  readonly maxAttempts: number;
  /** Unacknowledged this long (a crashed worker), a job is delivered again. */
  readonly ackWaitMs: number;
  /** Retry n waits retryBaseMs × 2^(n-1). */
  readonly retryBaseMs: number;
  readonly logger: Logger;
}

export type JobHandler = (payload: unknown, attempt: number, lastAttempt: boolean, signal: AbortSignal) => Promise<unknown>;

/**
 * Pulls jobs from a JetStream work-queue stream with bounded concurrency:
 * ack on success, nak with exponential backoff on failure, and a heartbeat
 * (`working`) while a long job runs so it is not redelivered under it.
 */
export class JobConsumer {
  private nc: NatsConnection | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: JobConsumerOptions,
    private readonly handler: JobHandler,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
    await this.nc?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.consume();
      } catch (err) {
        if (this.stopped) return;
        if (attempt % 20 === 0) logger.warn({ err }, "job consumer cannot reach NATS; retrying");
        await delay(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)), undefined, { signal: this.abort.signal }).catch(
          () => undefined,
        );
      }
    }
  }

  private async consume(): Promise<void> {
    const o = this.options;
    this.nc ??= await connect({ servers: [...o.servers], name: `scaiwave-calls-${o.durable}`, reconnect: true, maxReconnectAttempts: -1 });
    const jsm = await this.nc.jetstreamManager();
    await jsm.consumers.add(o.stream, {
      durable_name: o.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: o.subject,
      ack_wait: nanos(o.ackWaitMs),
      max_deliver: o.maxAttempts,
      max_ack_pending: o.concurrency,
    });
    const consumer = await this.nc.jetstream().consumers.get(o.stream, o.durable);
    const messages = await consumer.consume({ max_messages: o.concurrency });
    const stop = () => void messages.stop();
    this.abort.signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const msg of messages) {
        while (this.inFlight.size >= o.concurrency) await Promise.race(this.inFlight);
        const job = this.handle(msg).finally(() => this.inFlight.delete(job));
        this.inFlight.add(job);
      }
    } finally {
      // consume() runs again after a failure: one listener per live iterator, not one per attempt.
      this.abort.signal.removeEventListener("abort", stop);
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    const o = this.options;
    const attempt = msg.info.deliveryCount;
    const heartbeat = setInterval(() => msg.working(), Math.max(1000, o.ackWaitMs / 3));
    try {
      await this.handler(msg.json(), attempt, attempt >= o.maxAttempts, this.abort.signal);
      msg.ack();
    } catch {
      // The handler logged it; wait before the next attempt.
      msg.nak(o.retryBaseMs * 2 ** (attempt - 1));
    } finally {
      clearInterval(heartbeat);
    }
  }
}
