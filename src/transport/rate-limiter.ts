import { CallError, CallErrorCode } from "../domain/errors.js";

/** Classes of RPCs with their own budget: starting calls and recordings are costly (LiveKit rooms, egress). */
export type RateClass = "initiate" | "recording" | "other";

export interface RateLimit {
  /** Sustained requests per minute. */
  readonly perMinute: number;
  /** Requests allowed at once on top of that. */
  readonly burst: number;
}

/** Thrown when a bucket is empty; carries when to retry (HTTP Retry-After). */
export class RateLimitedError extends CallError {
  constructor(readonly retryAfterSeconds: number) {
    super(CallErrorCode.RateLimited, `too many requests; retry in ${retryAfterSeconds} s`);
  }
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Token buckets per user and RPC class, in memory (per instance: a cluster
 * allows instances × limit, which is what such limits are for: protecting
 * this instance and LiveKit from one client's burst). Idle buckets are dropped.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly limits: Readonly<Record<RateClass, RateLimit | undefined>>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token or throws RateLimitedError. */
  take(userKey: string, rateClass: RateClass): void {
    const limit = this.limits[rateClass];
    if (!limit) return;
    const now = this.now();
    this.sweep(now);
    const key = `${rateClass}:${userKey}`;
    const perMs = limit.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, updatedAt: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    throw new RateLimitedError(Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)));
  }

  /** Full buckets hold no information: forget them, at most once a minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      const rateClass = key.slice(0, key.indexOf(":")) as RateClass;
      const limit = this.limits[rateClass];
      if (!limit || bucket.tokens + (now - bucket.updatedAt) * (limit.perMinute / 60_000) >= limit.burst) this.buckets.delete(key);
    }
  }
}
