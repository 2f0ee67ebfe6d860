import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fixedWindow, memoryRateLimiter, RateLimitedError, type RateLimiter } from "../../src/transport/rate-limiter.js";

/** The error a take rejects with, or undefined when it passes. */
const refusal = (limiter: RateLimiter, key: string, rateClass: "initiate" | "recording" | "other") =>
  limiter.take(key, rateClass).then(
    () => undefined,
    (err: unknown) => err,
  );

describe("fixedWindow: (perMinute, burst) as rate-limiter-flexible's window", () => {
  it("allows the burst per burst / perMinute minutes: the same sustained rate", () => {
    expect(fixedWindow({ perMinute: 30, burst: 10 })).toEqual({ points: 10, duration: 20 });
    expect(fixedWindow({ perMinute: 10, burst: 5 })).toEqual({ points: 5, duration: 30 });
    expect(fixedWindow({ perMinute: 600, burst: 100 })).toEqual({ points: 100, duration: 10 });
    expect(fixedWindow({ perMinute: 1, burst: 10 })).toEqual({ points: 10, duration: 600 });
  });

  it("keeps the window a whole number of milliseconds (the PostgreSQL store writes its end into a BIGINT), at least one", () => {
    for (let perMinute = 1; perMinute <= 400; perMinute++) {
      for (const burst of [1, 3, 7, 100]) {
        const { points, duration } = fixedWindow({ perMinute, burst });
        expect(points).toBe(burst);
        expect(Number.isInteger(duration * 1000)).toBe(true);
        // Within a few milliseconds of the exact window.
        expect(Math.abs(duration * 1000 - (burst * 60_000) / perMinute)).toBeLessThan(5);
      }
    }
    expect(fixedWindow({ perMinute: 1_000_000, burst: 1 })).toEqual({ points: 1, duration: 0.001 });
  });
});

describe("memoryRateLimiter (one instance's budgets)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    vi.setSystemTime(Date.parse("2026-01-01T12:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lets the burst through at once, then answers RateLimitedError with the seconds until the window ends", async () => {
    // 6 a minute, 2 at once: 2 per 20 s.
    const limiter = memoryRateLimiter({ initiate: { perMinute: 6, burst: 2 }, recording: { perMinute: 0, burst: 1 }, ring: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } });
    expect(await Promise.all([refusal(limiter, "u1", "initiate"), refusal(limiter, "u1", "initiate")])).toEqual([undefined, undefined]);
    const err = await refusal(limiter, "u1", "initiate");
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).code).toBe("SW_CALL_RATE_LIMITED");
    expect((err as RateLimitedError).retryAfterSeconds).toBe(20);

    vi.advanceTimersByTime(14_500);
    expect(((await refusal(limiter, "u1", "initiate")) as RateLimitedError).retryAfterSeconds).toBe(6);

    // When the window ends, the next burst passes.
    vi.advanceTimersByTime(5_500);
    expect(await refusal(limiter, "u1", "initiate")).toBeUndefined();
    expect(await refusal(limiter, "u1", "initiate")).toBeUndefined();
    expect(await refusal(limiter, "u1", "initiate")).toBeInstanceOf(RateLimitedError);
  });

  it("never says retry in less than a second", async () => {
    const limiter = memoryRateLimiter({ initiate: { perMinute: 1_000_000, burst: 1 }, recording: { perMinute: 0, burst: 1 }, ring: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } });
    await limiter.take("u1", "initiate");
    expect(((await refusal(limiter, "u1", "initiate")) as RateLimitedError).retryAfterSeconds).toBe(1);
  });

  it("keeps users and classes apart, and a class with no limit (perMinute 0) is never limited", async () => {
    const limiter = memoryRateLimiter({ initiate: { perMinute: 1, burst: 1 }, recording: { perMinute: 0, burst: 1 }, ring: { perMinute: 0, burst: 1 }, other: { perMinute: 1, burst: 1 } });
    await limiter.take("acme/u1", "initiate");
    // u1's initiate budget is spent, so the passes below show the budgets are kept apart.
    expect(await refusal(limiter, "acme/u1", "initiate")).toBeInstanceOf(RateLimitedError);
    expect(await refusal(limiter, "acme/u2", "initiate")).toBeUndefined();
    expect(await refusal(limiter, "globex/u1", "initiate")).toBeUndefined();
    expect(await refusal(limiter, "acme/u1", "other")).toBeUndefined();
    for (let i = 0; i < 100; i++) await limiter.take("acme/u1", "recording");
  });

  it("never lets an idle user save up more than the burst", async () => {
    const limiter = memoryRateLimiter({ initiate: { perMinute: 60, burst: 3 }, recording: { perMinute: 0, burst: 1 }, ring: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } });
    await limiter.take("u1", "initiate");
    vi.advanceTimersByTime(3_600_000);
    for (let i = 0; i < 3; i++) await limiter.take("u1", "initiate");
    expect(await refusal(limiter, "u1", "initiate")).toBeInstanceOf(RateLimitedError);
  });
});
