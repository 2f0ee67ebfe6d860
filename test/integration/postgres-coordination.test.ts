import { afterEach, describe, expect, it, vi } from "vitest";
import pg from "pg";
import { createPostgresClient, createPostgresPool } from "../../src/adapters/postgres/pool.js";
import { migrate } from "../../src/adapters/postgres/migrate.js";
import { OUTBOX_RELAY_LOCK_KEY, PostgresOutboxStore } from "../../src/adapters/postgres/outbox.js";
import { PostgresStore } from "../../src/adapters/postgres/store.js";
import type { OutboundEvent } from "../../src/app/events.js";
import type { OutboxRelayLease } from "../../src/app/ports.js";
import { startCall } from "../../src/domain/call.js";
import { sharedPostgres } from "../support/shared-servers.js";

/**
 * What lets several instances share one PostgreSQL: one relay lease holder,
 * wake-ups for it from every instance's commits, due ring timeouts and
 * periodic runs each claimed by one instance, and outbox order = commit order.
 * Each "instance" here is a pool and an outbox store of its own, as a
 * process would have.
 */

const T0 = 1_700_000_000_000;

interface Instance {
  readonly store: PostgresStore;
  readonly outbox: PostgresOutboxStore;
  readonly pool: pg.Pool;
}

const opened: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function database(): Promise<string> {
  const url = await sharedPostgres().createDatabase();
  const pool = createPostgresPool({ url, onError: () => undefined });
  await migrate(pool);
  await pool.end();
  return url;
}

function instance(url: string): Instance {
  const pool = createPostgresPool({ url, max: 4, onError: () => undefined });
  const outbox = new PostgresOutboxStore(pool, () => createPostgresClient({ url }));
  opened.push(async () => {
    await outbox.close();
    await pool.end();
  });
  return { store: new PostgresStore(pool, { now: () => T0 }), outbox, pool };
}

async function acquire(of: Instance, onWritten: () => void = () => undefined): Promise<OutboxRelayLease | undefined> {
  const lease = await of.outbox.acquireRelay(onWritten);
  if (lease) opened.push(() => lease.release());
  return lease;
}

let eventNumber = 0;
function events(count: number, subject = "test.events"): OutboundEvent[] {
  return Array.from({ length: count }, () => ({ id: `evt-${++eventNumber}`, subject, payload: "{}", createdAt: T0 }));
}

describe("the relay lease on PostgreSQL", () => {
  it("is held by one instance at a time; released, the next instance takes it", async () => {
    const url = await database();
    const [a, b, c] = [instance(url), instance(url), instance(url)];
    const leaseA = await acquire(a);
    expect(leaseA).toBeDefined();
    expect(await acquire(b)).toBeUndefined();
    expect(await acquire(c)).toBeUndefined();
    await leaseA!.release();
    const leaseB = await acquire(b);
    expect(leaseB).toBeDefined();
    expect(await acquire(c)).toBeUndefined();
    expect(await acquire(a)).toBeUndefined();
  });

  it("is freed when its holder's session dies (as with kill -9), and the dead lease fails instead of publishing on", async () => {
    const url = await database();
    const [a, b] = [instance(url), instance(url)];
    const leaseA = (await acquire(a))!;
    await a.store.transaction((tx) => tx.outbox.append(events(1)));
    expect(await leaseA.pending(10)).toHaveLength(1);
    // PostgreSQL ends the holder's session, as it does when the holder's socket closes.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    opened.push(() => admin.end());
    // The server is shared with other test files: only this database's relay lock, by its key.
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid`,
      [OUTBOX_RELAY_LOCK_KEY.toString()],
    );
    expect(rows[0]?.n).toBe(1);
    await vi.waitFor(async () => expect(await acquire(b)).toBeDefined(), { timeout: 10_000, interval: 50 });
    await expect(leaseA.pending(10)).rejects.toThrow();
  });

  it("wakes the holder when any instance commits events, and not before the commit", async () => {
    const url = await database();
    const [a, b] = [instance(url), instance(url)];
    let wakeUps = 0;
    const lease = (await acquire(a, () => wakeUps++))!;
    const client = await b.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("INSERT INTO outbox (id, subject, payload, created_at) VALUES ('e-open', 's', '{}', 1)");
      await client.query("SELECT pg_notify('scaiwave_outbox', '')");
      // Uncommitted: no wake-up, nothing to read.
      await a.pool.query("SELECT 1");
      expect(wakeUps).toBe(0);
      expect(await lease.pending(10)).toEqual([]);
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    await b.store.transaction((tx) => tx.outbox.append(events(2)));
    await vi.waitFor(() => expect(wakeUps).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
    expect(await lease.pending(10)).toHaveLength(2);
  });
});

describe("outbox order on PostgreSQL", () => {
  it("is commit order: a writer that took its seq later but commits first waits for the earlier one", async () => {
    const url = await database();
    const [a, b] = [instance(url), instance(url)];
    const lease = (await acquire(a))!;
    let releaseFirst!: () => void;
    const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstAppended!: () => void;
    const firstHasAppended = new Promise<void>((resolve) => (firstAppended = resolve));
    const first = a.store.transaction(async (tx) => {
      await tx.outbox.append(events(2, "first"));
      firstAppended();
      await firstMayCommit;
    });
    await firstHasAppended;
    let secondCommitted = false;
    const second = b.store.transaction((tx) => tx.outbox.append(events(2, "second"))).then(() => (secondCommitted = true));
    // The second writer is blocked until the first commits: the relay never sees "second" ahead of "first".
    await vi.waitFor(async () => {
      const { rows } = await b.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(rows[0]?.n).toBe(1);
    });
    expect(secondCommitted).toBe(false);
    expect(await lease.pending(10)).toEqual([]);
    releaseFirst();
    await Promise.all([first, second]);
    expect((await lease.pending(10)).map((e) => e.subject)).toEqual(["first", "first", "second", "second"]);
  });
});

describe("claims shared by instances on PostgreSQL", () => {
  it("a due ring timeout is claimed by one instance: concurrent sweeps get disjoint calls", async () => {
    const url = await database();
    const [a, b] = [instance(url), instance(url)];
    for (let i = 0; i < 6; i++) {
      const { call } = startCall({ id: `c${i}`, tenantId: "t1", roomId: `r${i}`, type: "audio", initiatorId: "alice", memberIds: ["alice", "bob"], now: T0, ringTimeoutMs: 1_000 });
      await a.store.transaction((tx) => tx.calls.insertCall(call));
    }
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((resolve) => (releaseA = resolve));
    let aClaimed!: (ids: string[]) => void;
    const claimedByA = new Promise<string[]>((resolve) => (aClaimed = resolve));
    const sweepA = a.store.transaction(async (tx) => {
      aClaimed((await tx.calls.claimRingingDue(T0 + 5_000, 4)).map((k) => k.callId));
      await aMayCommit;
    });
    const fromA = await claimedByA;
    // B does not wait for A's rows: it takes the others at once.
    const fromB = (await b.store.transaction((tx) => tx.calls.claimRingingDue(T0 + 5_000, 10))).map((k) => k.callId);
    releaseA();
    await sweepA;
    expect(fromA).toHaveLength(4);
    expect(fromB).toHaveLength(2);
    expect(new Set([...fromA, ...fromB]).size).toBe(6);
  });

  it("each run of a periodic job is claimed by exactly one of the instances asking at once", async () => {
    const url = await database();
    const instances = [instance(url), instance(url), instance(url)];
    await instances[0]!.store.transaction((tx) => tx.schedule.register("reconcile", T0));
    for (let round = 0; round < 10; round++) {
      const now = T0 + round * 30_000;
      const claims = await Promise.all(
        instances.map((it, i) => it.store.transaction((tx) => tx.schedule.claim("reconcile", now, 30_000, `instance-${i}`))),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
    }
  });
});
