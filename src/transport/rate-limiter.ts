import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { CallError, CallErrorCode } from "../domain/errors.js";

/** Classes of RPCs with their own budget: starting calls and recordings are costly (LiveKit rooms, egress). */
export type RateClass = "initiate" | "recording" | "ring" | "other";

export interface RateLimit {
  /** Sustained requests per minute (0: no limit). */
  readonly perMinute: number;
  /** Requests allowed at once. */
  readonly burst: number;
}

/** Thrown when a budget is spent; carries when to retry (HTTP Retry-After). */
export class RateLimitedError extends CallError {
  constructor(readonly retryAfterSeconds: number) {
    super(CallErrorCode.RateLimited, `too many requests; retry in ${retryAfterSeconds} s`);
  }
}

/** Takes one request from a caller's budget of a class, or rejects with RateLimitedError (429 + Retry-After). */
export interface RateLimiter {
  take(key: string, rateClass: RateClass): Promise<void>;
}

/** A rate-limiter-flexible window: `points` requests per `duration` seconds. */
export interface RateWindow {
  readonly points: number;
  readonly duration: number;
}

/**
 * Our (perMinute, burst) as rate-limiter-flexible's fixed window: `burst`
 * requests per `burst / perMinute` minutes. The sustained rate is
 * `perMinute` and at most `burst` pass at once, except across a window's
 * edge: a client that spends one window's budget at its very end and the next
 * one's at its start gets up to 2 × burst through in a moment. (The library's
 * stores count fixed windows; its BurstyRateLimiter stacks a second window on
 * a first, i.e. perMinute + burst a minute, which fits our settings worse.)
 *
 * The PostgreSQL store writes `Date.now() + duration × 1000` into a BIGINT,
 * so the window is a whole number of milliseconds (at least 1, within a few
 * of the exact window) that stays whole through `duration` in seconds:
 * 1001 / 1000 × 1000 is 1000.9999999999999 in floating point.
 */
export function fixedWindow({ perMinute, burst }: RateLimit): RateWindow {
  let ms = Math.max(1, Math.round((burst * 60_000) / perMinute));
  while ((ms / 1000) * 1000 !== ms) ms++;
  return { points: burst, duration: ms / 1000 };
}

/** The window of each limited class; a class with `perMinute` 0 has none (never limited). */
export function rateWindows(limits: Readonly<Record<RateClass, RateLimit>>): Partial<Record<RateClass, RateWindow>> {
  const windows: Partial<Record<RateClass, RateWindow>> = {};
  for (const rateClass of Object.keys(limits) as RateClass[]) {
    const limit = limits[rateClass];
    if (limit.perMinute > 0) windows[rateClass] = fixedWindow(limit);
  }
  return windows;
}

/**
 * A RateLimiter over one rate-limiter-flexible limiter per class (in memory,
 * or in a store shared by every instance). A spent budget becomes
 * RateLimitedError; any other failure (the store's) goes through `failure`.
 */
export class WindowRateLimiter implements RateLimiter {
  constructor(
    private readonly byClass: Readonly<Partial<Record<RateClass, RateLimiterAbstract>>>,
    private readonly failure: (err: unknown) => unknown = (err) => err,
  ) {}

  async take(key: string, rateClass: RateClass): Promise<void> {
    const limiter = this.byClass[rateClass];
    if (!limiter) return;
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw this.failure(rejection);
    }
  }
}

/** Per-instance budgets in this process's memory (the SQLite service runs as one instance). */
export function memoryRateLimiter(limits: Readonly<Record<RateClass, RateLimit>>): RateLimiter {
  const byClass: Partial<Record<RateClass, RateLimiterAbstract>> = {};
  for (const [rateClass, window] of Object.entries(rateWindows(limits)) as [RateClass, RateWindow][]) {
    byClass[rateClass] = new RateLimiterMemory({ keyPrefix: rateClass, ...window });
  }
  return new WindowRateLimiter(byClass);
}
