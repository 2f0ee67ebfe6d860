import { setTimeout as delay } from "node:timers/promises";
import type { Clock, Logger, OutboxStore } from "../../app/ports.js";
import type { EventPublisher } from "./jetstream-publisher.js";

export interface OutboxRelayOptions {
  readonly store: OutboxStore;
  readonly publisher: EventPublisher;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly batchSize?: number;
  /** How often to look for events even when nobody kicked (other processes, missed kicks). */
  readonly pollIntervalMs?: number;
  /** Sent events are kept this long for operators, then deleted. */
  readonly retentionMs?: number;
}

/**
 * Moves committed events from the outbox to JetStream, strictly in commit
 * order. Each batch is published pipelined (one round trip, not one per
 * event; see EventPublisher.publishInOrder for how order survives a lost
 * message) and the acknowledged prefix is marked sent in one transaction;
 * publishing resumes from the first unacknowledged event. A crash between ack
 * and mark re-publishes events with the same Nats-Msg-Id, which JetStream
 * drops as duplicates.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly retentionMs: number;
  private wake: (() => void) | undefined;
  private kicked = false;
  private running: Promise<void> | undefined;
  private stopping = false;
  private lastPrune = 0;
  private lastBacklogCheck = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 256;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.retentionMs = options.retentionMs ?? 60 * 60 * 1000;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** New events were committed: publish them now rather than at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /**
   * Flushes what it can within `flushMs` while NATS is connected, then stops.
   * Whatever is left stays in the outbox for the next start.
   */
  async stop(flushMs = 5000): Promise<void> {
    const deadline = this.options.clock.now() + flushMs;
    const flushing = async () =>
      this.running !== undefined &&
      this.options.publisher.status().connected &&
      this.options.clock.now() < deadline &&
      (await this.options.store.pending(1).catch(() => [])).length > 0;
    while (await flushing()) {
      this.kick();
      await delay(20);
    }
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let storeFailures = 0;
    while (!this.stopping) {
      this.kicked = false;
      try {
        failures = await this.step(failures);
        storeFailures = 0;
      } catch (err) {
        // The store is away (a database restart): nothing was lost, the events wait in it. Back off and read again.
        storeFailures++;
        if (storeFailures === 1 || storeFailures % 50 === 0) {
          this.options.logger.warn({ err, failures: storeFailures }, "reading the outbox failed; retrying with backoff");
        }
        await this.sleep(Math.min(5000, 100 * 2 ** Math.min(storeFailures - 1, 6)), false);
      }
    }
  }

  /** One batch: read, publish, mark. Returns the count of consecutive publish failures. */
  private async step(failures: number): Promise<number> {
    const batch = await this.options.store.pending(this.batchSize);
    if (batch.length === 0) {
      await this.housekeeping();
      await this.sleep(this.pollIntervalMs, true);
      return failures;
    }
    const { acked, error } = await this.options.publisher.publishInOrder(
      batch.map((event) => ({ subject: event.subject, payload: event.payload, msgId: event.id })),
    );
    // If marking fails, the acknowledged events are published again later: JetStream drops them as duplicates.
    if (acked > 0) await this.options.store.markSent(batch.slice(0, acked).map((event) => event.seq), this.options.clock.now());
    // Done, or progress made (the rest are retried at once from the first unacknowledged event).
    if (error === undefined || acked > 0) return 0;
    const failed = failures + 1;
    if (failed === 1 || failed % 50 === 0) {
      this.options.logger.warn({ err: error, failures: failed }, "publishing events to NATS failed; retrying with backoff");
    }
    await this.housekeeping();
    // Kicks do not shorten a backoff: new events cannot overtake the failed one anyway.
    await this.sleep(Math.min(5000, 100 * 2 ** Math.min(failed - 1, 6)), false);
    return failed;
  }

  private sleep(ms: number, wakeOnKick: boolean): Promise<void> {
    if (wakeOnKick && this.kicked) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        if (wakeOnKick || this.stopping) done();
      };
    }).finally(() => {
      this.wake = undefined;
    });
  }

  /** Prunes old sent events and reports a stuck backlog, each at most once a minute / half-minute. */
  private async housekeeping(): Promise<void> {
    const now = this.options.clock.now();
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      await this.options.store.pruneSent(now - this.retentionMs);
    }
    // Counting the backlog walks every unsent row: at most every half-minute, never per batch.
    if (now - this.lastBacklogCheck > 30_000) {
      this.lastBacklogCheck = now;
      const { pending, oldestCreatedAt } = await this.options.store.backlog();
      if (pending > 0 && oldestCreatedAt !== undefined && now - oldestCreatedAt > 5_000) {
        this.options.logger.warn({ pending, oldestAgeMs: now - oldestCreatedAt }, "outbox backlog: events are waiting for NATS");
      }
    }
  }
}
