import { setTimeout as delay } from "node:timers/promises";
import type { Clock, Logger, OutboxRelayLease, OutboxStore } from "../../app/ports.js";
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
  /** How often a standby tries to take the relay lease: about the takeover time when the holder dies. */
  readonly standbyRetryMs?: number;
}

/** Whether this instance publishes the outbox now (it holds the relay lease), waits to, or has stopped. */
export type RelayRole = "publishing" | "standby" | "stopped";

/**
 * Moves committed events from the outbox to JetStream, strictly in commit
 * order, on the one instance of the cluster that holds the relay lease (the
 * others stand by and try to take it every `standbyRetryMs`). Each batch is published pipelined (one round trip, not one per
 * event; see EventPublisher.publishInOrder for how order survives a lost
 * message) and the acknowledged prefix is marked sent in one transaction;
 * publishing resumes from the first unacknowledged event. A crash between ack
 * and mark re-publishes events with the same Nats-Msg-Id, which JetStream
 * drops as duplicates; the same holds for a takeover, where the new holder
 * starts at the first event the old one did not mark sent.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly retentionMs: number;
  private readonly standbyRetryMs: number;
  private lease: OutboxRelayLease | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private running: Promise<void> | undefined;
  private stopping = false;
  private lastPrune = 0;
  private lastBacklogCheck = 0;
  private leaseTried = false;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 256;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.retentionMs = options.retentionMs ?? 60 * 60 * 1000;
    this.standbyRetryMs = options.standbyRetryMs ?? 500;
  }

  role(): RelayRole {
    if (this.running === undefined || this.stopping) return "stopped";
    return this.lease ? "publishing" : "standby";
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
   * A relay still starting (its first try for the lease, or its first NATS
   * connection, not over yet: a SIGTERM right after start) is waited for
   * within the same time. Whatever is left stays in the outbox for the next
   * start.
   */
  async stop(flushMs = 5000): Promise<void> {
    const deadline = this.options.clock.now() + flushMs;
    const flushing = async () => {
      if (this.running === undefined || this.options.clock.now() >= deadline) return false;
      if (this.starting()) return true;
      return (
        this.lease !== undefined &&
        this.options.publisher.status().connected &&
        (await this.lease.pending(1).catch(() => [])).length > 0
      );
    };
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
    let standbyLogged = false;
    while (!this.stopping) {
      this.kicked = false;
      try {
        const lease = this.lease ?? (await this.acquire());
        storeFailures = 0;
        if (!lease) {
          if (!standbyLogged) this.options.logger.info({}, "outbox relay on standby: another instance publishes the events");
          standbyLogged = true;
          await this.sleep(this.standbyRetryMs, false);
          continue;
        }
        standbyLogged = false;
        failures = await this.step(lease, failures);
      } catch (err) {
        // The store is away (a database restart) or the lease's connection broke: nothing was lost, the events
        // wait in the outbox. Give the lease up (whoever gets it next resumes where the marks end) and retry.
        await this.dropLease();
        storeFailures++;
        if (storeFailures === 1 || storeFailures % 50 === 0) {
          this.options.logger.warn({ err, failures: storeFailures }, "reading the outbox failed; retrying with backoff");
        }
        await this.sleep(Math.min(1000, 100 * 2 ** Math.min(storeFailures - 1, 6)), false);
      }
    }
    await this.dropLease();
  }

  /** The first try for the lease, or the first NATS connection, is not over yet. */
  private starting(): boolean {
    const status = this.options.publisher.status();
    return !this.leaseTried || (!status.connected && status.lastError === undefined);
  }

  private async acquire(): Promise<OutboxRelayLease | undefined> {
    const lease = await this.options.store.acquireRelay(() => this.kick()).finally(() => (this.leaseTried = true));
    if (lease) {
      this.lease = lease;
      this.options.logger.info({}, "outbox relay lease taken: this instance publishes the events");
    }
    return lease;
  }

  private async dropLease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }

  /** One batch: read, publish, mark. Returns the count of consecutive publish failures. */
  private async step(lease: OutboxRelayLease, failures: number): Promise<number> {
    const batch = await lease.pending(this.batchSize);
    if (batch.length === 0) {
      await this.housekeeping(lease);
      await this.sleep(this.pollIntervalMs, true);
      return failures;
    }
    const { acked, error } = await this.options.publisher.publishInOrder(
      batch.map((event) => ({ subject: event.subject, payload: event.payload, msgId: event.id })),
    );
    // If marking fails, the acknowledged events are published again later: JetStream drops them as duplicates.
    if (acked > 0) await lease.markSent(batch.slice(0, acked).map((event) => event.seq), this.options.clock.now());
    // Done, or progress made (the rest are retried at once from the first unacknowledged event).
    if (error === undefined || acked > 0) return 0;
    const failed = failures + 1;
    if (failed === 1 || failed % 50 === 0) {
      this.options.logger.warn({ err: error, failures: failed }, "publishing events to NATS failed; retrying with backoff");
    }
    await this.housekeeping(lease);
    // Kicks do not shorten a backoff: new events cannot overtake the failed one anyway.
    await this.sleep(Math.min(1000, 100 * 2 ** Math.min(failed - 1, 6)), false);
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

  /** Prunes old sent events (only the lease holder: once for the cluster) and reports a stuck backlog, at most once a minute / half-minute. */
  private async housekeeping(lease: OutboxRelayLease): Promise<void> {
    const now = this.options.clock.now();
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      await lease.pruneSent(now - this.retentionMs);
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
