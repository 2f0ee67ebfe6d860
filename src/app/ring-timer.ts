import type { CallRepository, Clock, Logger } from "./ports.js";

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

  constructor(
    /** Ends every call past its deadline (CallsUseCases.expireUnanswered); returns how many. */
    private readonly expireUnanswered: () => number,
    private readonly repository: CallRepository,
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

  private fire(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.armedFor = Number.POSITIVE_INFINITY;
    try {
      const ended = this.expireUnanswered();
      if (ended > 0) this.logger.info({ ended }, "unanswered calls ended (no_answer)");
    } catch (err) {
      this.logger.error({ err }, "ring timeout sweep failed; retrying");
    }
    const next = this.repository.nextRingDeadline();
    // Never re-arm in the past: a call that could not be ended is tried again in 50 ms.
    if (next !== undefined) this.schedule(Math.max(next, this.clock.now() + 50));
  }
}
