import { createServer } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createPostgresPool } from "../../src/adapters/postgres/pool.js";
import { deleteEndedWindows } from "../../src/adapters/postgres/rate-limits.js";
import { createRateLimiter } from "../../src/composition/rate-limiter.js";
import { CallError } from "../../src/domain/errors.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * Three instances on one PostgreSQL database count a user's requests
 * together: the budget is the same as on one instance, not three times it.
 */

const BURST = 10;
// 1 a minute with a burst of 10: a 10-minute window, which never ends within this file.
const LIMITS = { RATE_LIMIT_OTHER_PER_MINUTE: "1", RATE_LIMIT_OTHER_BURST: String(BURST) } as const;
const WINDOW_MS = 600_000;

let databaseUrl: string;
let instances: RunningService[] = [];
let database: pg.Pool;

beforeAll(async () => {
  databaseUrl = await sharedPostgres().createDatabase();
  instances = await Promise.all([1, 2, 3].map(() => startService(sharedLiveKit(), { DATABASE_URL: databaseUrl, ...LIMITS })));
  database = new pg.Pool({ connectionString: databaseUrl, max: 1 });
});

afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await database?.end();
});

/** ListCalls over REST (an `other`-class RPC) as a user, on one instance: the HTTP status and Retry-After. */
async function listCalls(instance: RunningService, token: string): Promise<{ status: number; retryAfter: string | null }> {
  const res = await fetch(`${instance.baseUrl}/v1/calls`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return { status: res.status, retryAfter: res.headers.get("retry-after") };
}

/** `count` requests one after the other, the i-th to instances[i % instances.length]. */
async function roundRobin(token: string, count: number, over: readonly RunningService[] = instances) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await listCalls(over[i % over.length]!, token));
  return answers;
}

const statuses = (answers: readonly { status: number }[]) => answers.map((a) => a.status);
const BURST_THEN_LIMITED = [...Array<number>(BURST).fill(200), ...Array<number>(5).fill(429)];

describe("rate limits shared by 3 instances on one PostgreSQL database", () => {
  it("a user's requests spread round-robin over the instances get exactly the burst, then 429 with Retry-After, as on one instance", async () => {
    const spread = await roundRobin(await userToken("alice"), BURST + 5);
    expect(statuses(spread)).toEqual(BURST_THEN_LIMITED);
    for (const { retryAfter } of spread.slice(BURST)) {
      const seconds = Number(retryAfter);
      expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= WINDOW_MS / 1000).toBe(true);
    }
    // Every instance now refuses alice.
    for (const instance of instances) expect((await listCalls(instance, await userToken("alice"))).status).toBe(429);

    // The same budget as a user who calls one instance only.
    expect(statuses(await roundRobin(await userToken("solo"), BURST + 5, [instances[0]!]))).toEqual(BURST_THEN_LIMITED);
  });

  it("requests sent at once to all instances still get exactly the burst", async () => {
    const token = await userToken("dave");
    const answers = await Promise.all(Array.from({ length: 3 * BURST }, (_, i) => listCalls(instances[i % 3]!, token)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(BURST);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(2 * BURST);
  });

  it("another user, and another tenant's user with the same user id, keep their own budgets", async () => {
    const alice = await userToken("alice");
    await roundRobin(alice, BURST);
    expect((await listCalls(instances[0]!, alice)).status).toBe(429);

    expect(statuses(await roundRobin(await userToken("bob"), BURST))).toEqual(Array(BURST).fill(200));
    expect(statuses(await roundRobin(await userToken("alice", "globex"), BURST))).toEqual(Array(BURST).fill(200));
  });

  it("the longest ids a token may carry (128-character tenant and user) are limited like any other", async () => {
    const token = await userToken("u".repeat(128), "t".repeat(128));
    expect(statuses(await roundRobin(token, BURST + 5))).toEqual(BURST_THEN_LIMITED);
  });

  it("keeps one row per user and class in rate_limits, and deleting ended windows gives their users a new budget", async () => {
    const erin = await userToken("erin");
    expect(statuses(await roundRobin(erin, BURST + 5, [instances[0]!]))).toEqual(BURST_THEN_LIMITED);
    // The instance that saw erin's window spent refused the 5 from memory: they never reached the database.
    const rows = await database.query<{ points: number }>("SELECT points FROM rate_limits WHERE key = 'other:acme/erin'");
    expect(rows.rows).toEqual([{ points: BURST }]);

    // No window has ended yet: the sweep deletes nothing; once they all have, it deletes every row.
    expect(await deleteEndedWindows(database, Date.now())).toBe(0);
    const count = Number((await database.query<{ n: string }>("SELECT count(*) AS n FROM rate_limits")).rows[0]!.n);
    expect(count).toBeGreaterThan(0);
    expect(await deleteEndedWindows(database, Date.now() + WINDOW_MS + 1)).toBe(count);
    // A new window for erin on the instances that did not remember the old one.
    expect((await listCalls(instances[1]!, erin)).status).toBe(200);
  });
});

describe("ended windows are deleted by requests", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("at most once every 5 minutes per instance: a request then deletes the rows of every ended window", async () => {
    // One connection: the sweep's DELETE runs before the upsert of the request that started it.
    const pool = createPostgresPool({ url: databaseUrl, max: 1, onError: () => {} });
    try {
      vi.useFakeTimers({ toFake: ["Date"] });
      const start = Date.now();
      const limiter = createRateLimiter(
        // 1 a second: a 1-second window.
        { initiate: { perMinute: 0, burst: 1 }, recording: { perMinute: 60, burst: 1 }, ring: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
        pool,
        { info: () => {}, warn: () => {}, error: () => {} },
      );
      const row = async (user: string) =>
        (await database.query<{ points: number }>("SELECT points FROM rate_limits WHERE key = $1", [`recording:acme/${user}`])).rows;

      await limiter.take("acme/sweep-a", "recording");
      vi.setSystemTime(start + 60_000);
      await limiter.take("acme/sweep-b", "recording");
      // sweep-a's window ended a minute ago, but the last sweep is not 5 minutes old.
      expect(await row("sweep-a")).toEqual([{ points: 1 }]);

      vi.setSystemTime(start + 5 * 60_000 + 1);
      await limiter.take("acme/sweep-c", "recording");
      expect(await row("sweep-a")).toEqual([]);
      expect(await row("sweep-b")).toEqual([]);
      expect(await row("sweep-c")).toEqual([{ points: 1 }]);
    } finally {
      await pool.end();
    }
  });
});

describe("PostgreSQL away", () => {
  it("a rate-limited request fails closed with SW_CALL_STORE_UNAVAILABLE, not through unlimited", async () => {
    const port = await closedPort();
    const pool = createPostgresPool({ url: `postgres://nobody:none@127.0.0.1:${port}/nothing`, connectTimeoutMs: 500, onError: () => {} });
    try {
      const limiter = createRateLimiter(
        { initiate: { perMinute: 30, burst: 10 }, recording: { perMinute: 0, burst: 1 }, ring: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
        pool,
        { info: () => {}, warn: () => {}, error: () => {} },
      );
      const err = await limiter.take("acme/alice", "initiate").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CallError);
      expect((err as CallError).code).toBe("SW_CALL_STORE_UNAVAILABLE");
      // A class without a limit never asks the database.
      await limiter.take("acme/alice", "other");
    } finally {
      await pool.end();
    }
  });
});

/** A loopback port nothing listens on (just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
