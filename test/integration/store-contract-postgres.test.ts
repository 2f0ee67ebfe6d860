import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { createPostgresClient, createPostgresPool } from "../../src/adapters/postgres/pool.js";
import { migrate } from "../../src/adapters/postgres/migrate.js";
import { PostgresOutboxStore } from "../../src/adapters/postgres/outbox.js";
import { PostgresStore } from "../../src/adapters/postgres/store.js";
import { sharedPostgres } from "../support/shared-servers.js";
import { storeContract, T0 } from "../support/store-contract.js";

storeContract("PostgreSQL", async () => {
  const url = await sharedPostgres().createDatabase();
  const pool = createPostgresPool({ url, max: 4, onError: () => undefined });
  await migrate(pool);
  return {
    store: new PostgresStore(pool, { now: () => T0 }),
    outbox: new PostgresOutboxStore(pool, () => createPostgresClient({ url })),
    count: async (table, callId) =>
      (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE call_id = $1`, [callId])).rows[0]?.n ?? 0,
    // Each row version names the transaction that wrote it (xmin): an update, even to equal values, makes a new one.
    rowsWritten: async (work) => {
      const before = await rowVersions(pool);
      await work();
      const after = await rowVersions(pool);
      let written = [...before.keys()].filter((key) => !after.has(key)).length;
      for (const [key, version] of after) if (before.get(key) !== version) written++;
      return written;
    },
    close: () => pool.end(),
  };
});

async function rowVersions(pool: pg.Pool): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ key: string; version: string }>(
    `SELECT 'calls ' || id AS key, xmin::text AS version FROM calls
     UNION ALL SELECT 'participant ' || call_id || ' ' || user_id, xmin::text FROM call_participants
     UNION ALL SELECT 'invitee ' || call_id || ' ' || user_id, xmin::text FROM call_invitees
     UNION ALL SELECT 'ended session ' || call_id || ' ' || sid, xmin::text FROM call_ended_sessions
     UNION ALL SELECT 'party ' || call_id || ' ' || user_id, xmin::text FROM call_parties`,
  );
  return new Map(rows.map((r) => [r.key, r.version]));
}

describe("a PostgreSQL read unit", () => {
  let pool: pg.Pool;
  let store: PostgresStore;
  beforeAll(async () => {
    pool = createPostgresPool({ url: await sharedPostgres().createDatabase(), max: 4, onError: () => undefined });
    await migrate(pool);
    store = new PostgresStore(pool, { now: () => T0 });
  });
  afterAll(() => pool?.end());

  it("reads one snapshot: a change committed between its reads does not show in the later ones", async () => {
    await store.transaction((tx) => tx.directory.putRoom("t1", "room-1", [{ userId: "alice", powerLevel: 100 }]));
    const { first, second } = await store.read(async (reads) => {
      const first = await reads.directory.listMemberIds("t1", "room-1");
      // Committed on another connection while the read unit is open.
      await store.transaction((tx) => tx.directory.putMember("t1", "room-1", { userId: "bob", powerLevel: 0 }));
      return { first, second: await reads.directory.listMemberIds("t1", "room-1") };
    });
    expect(first).toEqual(["alice"]);
    expect(second).toEqual(["alice"]);
    expect(await store.directory.listMemberIds("t1", "room-1")).toEqual(["alice", "bob"]);
  });

  it("cannot write: its transaction is read-only", async () => {
    // The port gives a read unit no writes; a repository reached around it is refused by PostgreSQL.
    const error = await store
      .read((reads) => (reads.directory as unknown as { putMember: (t: string, r: string, m: object) => Promise<void> }).putMember("t1", "room-9", { userId: "eve", powerLevel: 0 }))
      .then(() => undefined, (err: unknown) => err);
    expect(String(error)).toMatch(/read-only transaction/);
    expect(await store.directory.listMemberIds("t1", "room-9")).toEqual([]);
  });
});
