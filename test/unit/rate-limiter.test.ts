import { describe, expect, it } from "vitest";
import { RateLimitedError, RateLimiter } from "../../src/transport/rate-limiter.js";

describe("RateLimiter (token bucket per user and class)", () => {
  it("allows the burst, then one request per refill interval, and says when to retry", () => {
    let now = 0;
    const limiter = new RateLimiter({ initiate: { perMinute: 6, burst: 2 }, recording: undefined, other: undefined }, () => now);
    limiter.take("u1", "initiate");
    limiter.take("u1", "initiate");
    const err = (() => {
      try {
        limiter.take("u1", "initiate");
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).code).toBe("SW_CALL_RATE_LIMITED");
    expect((err as RateLimitedError).retryAfterSeconds).toBe(10);
    now += 10_000; // one token back (6 per minute)
    expect(() => limiter.take("u1", "initiate")).not.toThrow();
    expect(() => limiter.take("u1", "initiate")).toThrow(RateLimitedError);
  });

  it("keeps users and classes apart, and a class without a limit is never limited", () => {
    const limiter = new RateLimiter({ initiate: { perMinute: 1, burst: 1 }, recording: undefined, other: { perMinute: 1, burst: 1 } }, () => 0);
    limiter.take("u1", "initiate");
    // u1's initiate bucket is empty, so the passes below show the buckets are kept apart.
    expect(() => limiter.take("u1", "initiate")).toThrow(RateLimitedError);
    expect(() => limiter.take("u2", "initiate")).not.toThrow();
    expect(() => limiter.take("u1", "other")).not.toThrow();
    for (let i = 0; i < 100; i++) limiter.take("u1", "recording");
  });

  it("never lets a bucket grow past its burst while idle", () => {
    let now = 0;
    const limiter = new RateLimiter({ initiate: { perMinute: 60, burst: 3 }, recording: undefined, other: undefined }, () => now);
    now += 3_600_000;
    for (let i = 0; i < 3; i++) limiter.take("u1", "initiate");
    expect(() => limiter.take("u1", "initiate")).toThrow(RateLimitedError);
  });
});
