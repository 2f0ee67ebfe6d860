import type { CallReads, Clock, Logger } from "./ports.js";

/**
 * Fires the ring timeout. The deadlines live in the store, so after a restart
 * the timer re-arms from there and a call still ends on time. A timer is armed
 * for the earliest deadline; a poll (every second by default) also catches
 * deadlines written by another process sharing the store.
 */
export class RingTimer {
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;
  private poll: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The sweep in progress: sweeps never overlap; a fire during one runs again after it. */
  private sweeping: Promise<void> | undefined;
  private again = false;

  constructor(
    /** Ends every call past its deadline (CallsUseCases.expireUnanswered); resolves with how many. */
    private readonly expireUnanswered: () => Promise<number>,
    private readonly repository: CallReads,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly pollIntervalMs = 1000,
  ) {}

  start(): void {
    this.fire();
    this.poll = setInterval(() => this.fire(), this.pollIntervalMs);
    this.poll.unref();
  }

  /** A new call rings until `deadline`. */
  schedule(deadline: number): void {
    if (this.stopped || deadline >= this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(() => this.fire(), Math.max(0, deadline - this.clock.now()));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
  }

  /** Resolves when no sweep is running (shutdown waits for it). */
  async idle(): Promise<void> {
    while (this.sweeping) await this.sweeping;
  }

  private fire(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.armedFor = Number.POSITIVE_INFINITY;
    if (this.sweeping) {
      this.again = true;
      return;
    }
    this.sweeping = this.sweep().finally(() => {
      this.sweeping = undefined;
      if (this.again) {
        this.again = false;
        this.fire();
      }
    });
  }

  private async sweep(): Promise<void> {
    let retry = false;
    try {
      const ended = await this.expireUnanswered();
      if (ended > 0) this.logger.info({ ended }, "unanswered calls ended (no_answer)");
    } catch (err) {
      retry = true;
      this.logger.error({ err }, "ring timeout sweep failed; retrying");
    }
    if (this.stopped) return;
    try {
      const next = await this.repository.nextRingDeadline();
      // Never re-arm in the past: a call that could not be ended is tried again in 50 ms.
      if (next !== undefined) this.schedule(Math.max(next, this.clock.now() + 50));
      else if (retry) this.schedule(this.clock.now() + 50);
    } catch (err) {
      this.logger.error({ err }, "could not read the next ring deadline; the poll retries");
    }
  }
}
