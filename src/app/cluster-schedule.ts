import type { Clock, Logger, Store } from "./ports.js";

export interface ClusterScheduleDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Names this instance in the claims (for operators reading `scheduled_jobs`). */
  readonly holder: string;
  /** How often each instance asks whether a run is due (default 1 s): a run starts at most this late. */
  readonly checkEveryMs?: number;
}

/**
 * Periodic work that must run once per interval for the whole cluster, not
 * once per instance: reconciliation with LiveKit, the recording time limit.
 * Each instance asks every second; the one whose claim moves the job's next
 * run forward runs it. Nothing is tied to the instance that ran it last: if
 * it dies, the next due run is claimed by whichever instance asks first.
 */
export class ClusterSchedule {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: ClusterScheduleDeps) {}

  /** Runs `run` once every `intervalMs` across the cluster; the first run is one interval from the job's first registration. */
  every(job: string, intervalMs: number, run: () => Promise<unknown>): void {
    const { store, clock, logger, holder } = this.deps;
    let registered = false;
    let busy = false;
    const tick = async () => {
      if (busy || this.stopped) return;
      busy = true;
      try {
        const now = clock.now();
        if (!registered) {
          await store.transaction((tx) => tx.schedule.register(job, now + intervalMs));
          registered = true;
        }
        if (await store.transaction((tx) => tx.schedule.claim(job, now, intervalMs, holder))) await run();
      } catch (err) {
        logger.warn({ err, job }, "a periodic job failed; its next run retries");
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => {
      const running = tick();
      this.inFlight.add(running);
      void running.finally(() => this.inFlight.delete(running));
    }, Math.min(intervalMs, this.deps.checkEveryMs ?? 1000));
    timer.unref();
    this.timers.push(timer);
  }

  /** No run starts after this; resolves when the runs in progress are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.inFlight);
  }
}
