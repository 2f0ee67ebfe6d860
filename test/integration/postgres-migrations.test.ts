import type pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/adapters/postgres/migrate.js";
import { migrations, type PostgresMigration } from "../../src/adapters/postgres/migrations/index.js";
import { createPostgresPool } from "../../src/adapters/postgres/pool.js";
import { PostgresStore } from "../../src/adapters/postgres/store.js";
import { databaseUrl } from "../support/postgres-server.js";
import { sharedPostgres } from "../support/shared-servers.js";

const LATEST = migrations.at(-1)!.version;
const NOW = 1_764_000_000_000; // Unix ms, past what an int4 holds

const pools: pg.Pool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end()));
});

/** A pool on a fresh database of the shared server; each test gets its own. */
async function freshPool(): Promise<pg.Pool> {
  const url = await sharedPostgres().createDatabase();
  return pool(url);
}

function pool(url: string): pg.Pool {
  const p = createPostgresPool({
    url,
    max: 2,
    onError: (err) => {
      throw err;
    },
  });
  pools.push(p);
  return p;
}

async function versions(db: pg.Pool): Promise<{ version: number; name: string }[]> {
  return (await db.query<{ version: number; name: string }>("SELECT version, name FROM schema_migrations ORDER BY version")).rows;
}

describe("migrate()", () => {
  it("brings a fresh database to the latest version, and a second run finds nothing to do", async () => {
    const db = await freshPool();
    expect(await migrate(db)).toEqual({ from: 0, to: LATEST, applied: migrations.map((m) => m.version) });
    expect(await versions(db)).toEqual(migrations.map(({ version, name }) => ({ version, name })));
    const tables = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      "call_ended_sessions",
      "call_invitees",
      "call_participants",
      "call_parties",
      "calls",
      "media",
      "outbox",
      "rate_limits",
      "recordings",
      "room_members",
      "rooms",
      "scheduled_jobs",
      "schema_migrations",
      "tenant_policies",
      "transcripts",
      "webhook_events",
    ]);
    expect(await migrate(db)).toEqual({ from: LATEST, to: LATEST, applied: [] });
  });

  it("8 instances starting together on one fresh database all succeed, and each migration runs exactly once", async () => {
    const url = await sharedPostgres().createDatabase();
    // After the real schema, migrations that only insert: run twice, they would leave a second row, not fail.
    const probes: PostgresMigration[] = [
      { version: LATEST + 1, name: "probe-table", sql: "CREATE TABLE migration_probe (version INTEGER NOT NULL)" },
      { version: LATEST + 2, name: "probe-a", sql: `INSERT INTO migration_probe VALUES (${LATEST + 2})` },
      { version: LATEST + 3, name: "probe-b", sql: `INSERT INTO migration_probe VALUES (${LATEST + 3})` },
    ];
    const list = [...migrations, ...probes];
    const instances = Array.from({ length: 8 }, () => pool(url));
    const outcomes = await Promise.all(instances.map((db) => migrate(db, list)));

    expect(outcomes.every((o) => o.to === LATEST + 3)).toBe(true);
    expect(outcomes.flatMap((o) => o.applied).sort((a, b) => a - b)).toEqual(list.map((m) => m.version));
    // One instance applied everything; the others waited for the lock and found the schema current.
    expect(outcomes.filter((o) => o.applied.length > 0)).toHaveLength(1);
    const db = instances[0]!;
    expect((await versions(db)).map((v) => v.version)).toEqual(list.map((m) => m.version));
    const probed = await db.query<{ version: number }>("SELECT version FROM migration_probe ORDER BY version");
    expect(probed.rows).toEqual([{ version: LATEST + 2 }, { version: LATEST + 3 }]);
  });

  it("refuses a database whose schema is newer than this build knows, changing nothing", async () => {
    const db = await freshPool();
    await migrate(db);
    await db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, 'from-a-newer-build')", [LATEST + 1]);
    const newer = [...migrations, { version: LATEST + 2, name: "never-applied", sql: "CREATE TABLE never (x INTEGER)" }];

    await expect(migrate(db)).rejects.toThrow(
      `database schema version ${LATEST + 1} is newer than this build knows (${LATEST}); refusing to start`,
    );
    await expect(migrate(db, newer.slice(0, -1))).rejects.toThrow(/newer than this build knows/);
    expect((await versions(db)).map((v) => v.version)).toEqual([...migrations.map((m) => m.version), LATEST + 1]);
  });

  it("a failing migration names itself, rolls back all of its own changes and keeps the ones before it", async () => {
    const db = await freshPool();
    const broken: PostgresMigration = {
      version: LATEST + 1,
      name: "broken",
      sql: "CREATE TABLE half_done (x INTEGER); SELECT no_such_column FROM calls",
    };
    await expect(migrate(db, [...migrations, broken])).rejects.toThrow(
      `schema migration ${LATEST + 1} (broken) failed: column "no_such_column" does not exist`,
    );
    expect((await versions(db)).map((v) => v.version)).toEqual(migrations.map((m) => m.version));
    expect((await db.query("SELECT to_regclass('half_done') AS t")).rows).toEqual([{ t: null }]);
    // The lock went with the failed run's connection: the next start is not kept waiting.
    expect(await migrate(db)).toEqual({ from: LATEST, to: LATEST, applied: [] });
  });
});

describe("the PostgreSQL schema", () => {
  async function migrated(): Promise<pg.Pool> {
    const db = await freshPool();
    await migrate(db);
    return db;
  }

  const insertCall = (db: pg.Pool, id: string, roomId: string, status: "ringing" | "active" | "ended") =>
    db.query(
      `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ring_deadline)
       VALUES ($1, 'tenant-1', $2, 'video', $3, 'alice', $4, $4)`,
      [id, roomId, status, NOW],
    );

  const insertRecording = (db: pg.Pool, id: string, callId: string, status: string) =>
    db.query(
      `INSERT INTO recordings (id, call_id, tenant_id, room_id, status, audio, video, transcript, file_key, requested_by,
         started_at, stop_deadline)
       VALUES ($1, $2, 'tenant-1', 'room-1', $3, true, true, false, $1 || '.mp4', 'alice', $4, $4)`,
      [id, callId, status, NOW],
    );

  it("allows one live call per room; ended calls do not count", async () => {
    const db = await migrated();
    await insertCall(db, "call-1", "room-1", "ringing");
    await expect(insertCall(db, "call-2", "room-1", "active")).rejects.toMatchObject({
      code: "23505",
      constraint: "calls_one_live_per_room",
    });
    await insertCall(db, "call-other-room", "room-2", "active");
    await db.query("UPDATE calls SET status = 'ended', ended_at = $1 WHERE id = 'call-1'", [NOW + 1]);
    await insertCall(db, "call-2", "room-1", "active");
    await insertCall(db, "call-3", "room-1", "ended");
    const live = await db.query("SELECT id FROM calls WHERE room_id = 'room-1' AND status <> 'ended'");
    expect(live.rows).toEqual([{ id: "call-2" }]);
  });

  it("allows one active recording per call; finished recordings do not count", async () => {
    const db = await migrated();
    await insertCall(db, "call-1", "room-1", "active");
    await insertRecording(db, "rec-1", "call-1", "starting");
    await expect(insertRecording(db, "rec-2", "call-1", "recording")).rejects.toMatchObject({
      code: "23505",
      constraint: "recordings_one_active_per_call",
    });
    await db.query("UPDATE recordings SET status = 'ready' WHERE id = 'rec-1'");
    await insertRecording(db, "rec-2", "call-1", "recording");
    await insertRecording(db, "rec-3", "call-1", "failed");
    await db.query("UPDATE recordings SET status = 'stopping' WHERE id = 'rec-2'");
    await insertRecording(db, "rec-4", "call-1", "starting");
  });

  it("records a webhook event id once", async () => {
    const db = await migrated();
    await db.query("INSERT INTO webhook_events (id, received_at) VALUES ('EV_1', $1)", [NOW]);
    await expect(db.query("INSERT INTO webhook_events (id, received_at) VALUES ('EV_1', $1)", [NOW + 5])).rejects.toMatchObject({
      code: "23505",
      constraint: "webhook_events_pkey",
    });
    const onConflict = await db.query(
      "INSERT INTO webhook_events (id, received_at) VALUES ('EV_1', $1) ON CONFLICT (id) DO NOTHING",
      [NOW + 5],
    );
    expect(onConflict.rowCount).toBe(0);
  });

  it("rejects values the store never writes (unknown statuses, old invitee states)", async () => {
    const db = await migrated();
    await expect(insertCall(db, "call-1", "room-1", "paused" as "active")).rejects.toMatchObject({
      code: "23514",
      constraint: "calls_status_check",
    });
    await insertCall(db, "call-1", "room-1", "ringing");
    await expect(
      db.query("INSERT INTO call_invitees (call_id, user_id, state, changed_at) VALUES ('call-1', 'bob', 'stopped', $1)", [NOW]),
    ).rejects.toMatchObject({ code: "23514", constraint: "call_invitees_state_check" });
  });

  it("every table of a call's rows is deleted with the call", async () => {
    const db = await migrated();
    const { rows } = await db.query<{ child: string; on_delete: string }>(
      `SELECT conrelid::regclass::text AS child, confdeltype AS on_delete FROM pg_constraint
       WHERE contype = 'f' AND confrelid = 'calls'::regclass ORDER BY child`,
    );
    expect(rows).toEqual(
      ["call_ended_sessions", "call_invitees", "call_participants", "call_parties", "recordings"].map((child) => ({ child, on_delete: "c" })),
    );
  });

  it("maps an existing database's calls to per-member rings and history (migration 5)", async () => {
    const T = NOW;
    const db = await freshPool();
    await migrate(db, migrations.filter((m) => m.version <= 4));
    const call = (id: string, roomId: string, status: string, startedAt: number, endedAt: number | null, endReason: string | null, ringDeadline: number) =>
      db.query(
        `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ring_deadline)
         VALUES ($1, 't1', $2, 'audio', $3, 'alice', $4, $5, $6, $7)`,
        [id, roomId, status, startedAt, endedAt, endReason, ringDeadline],
      );
    const invitee = (callId: string, userId: string, state: string) =>
      db.query("INSERT INTO call_invitees (call_id, user_id, state) VALUES ($1, $2, $3)", [callId, userId, state]);
    const participant = (callId: string, userId: string, at: number) =>
      db.query("INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on) VALUES ($1, $2, $3, false, false)", [callId, userId, at]);
    await call("canceled", "r1", "ended", T, T + 5_000, "canceled", T + 45_000);
    await invitee("canceled", "bob", "stopped");
    await invitee("canceled", "carol", "rejected");
    await call("no-answer", "r2", "ended", T + 1, T + 45_001, "no_answer", T + 45_001);
    await invitee("no-answer", "bob", "stopped");
    await call("answered", "r3", "ended", T + 2, T + 60_000, "all_left", T + 45_002);
    await invitee("answered", "bob", "joined");
    await invitee("answered", "carol", "stopped");
    await call("ringing", "r4", "ringing", T + 3, null, null, T + 45_003);
    await invitee("ringing", "bob", "ringing");
    await invitee("ringing", "carol", "rejected");
    await participant("ringing", "alice", T + 3);
    await call("active", "r5", "active", T + 4, null, null, T + 45_004);
    await invitee("active", "bob", "joined");
    await invitee("active", "carol", "ringing");
    await participant("active", "alice", T + 4);
    await participant("active", "bob", T + 5);
    await participant("active", "dave", T + 6);

    expect(await migrate(db)).toMatchObject({ from: 4, applied: [5] });
    expect((await db.query("SELECT call_id, user_id, state, changed_at, ring_deadline FROM call_invitees ORDER BY call_id, user_id")).rows).toEqual([
      { call_id: "active", user_id: "bob", state: "answered", changed_at: T + 4, ring_deadline: null },
      { call_id: "active", user_id: "carol", state: "ringing", changed_at: T + 4, ring_deadline: T + 45_004 },
      { call_id: "answered", user_id: "bob", state: "answered", changed_at: T + 60_000, ring_deadline: null },
      { call_id: "answered", user_id: "carol", state: "missed", changed_at: T + 60_000, ring_deadline: null },
      { call_id: "canceled", user_id: "bob", state: "canceled", changed_at: T + 5_000, ring_deadline: null },
      { call_id: "canceled", user_id: "carol", state: "rejected", changed_at: T + 5_000, ring_deadline: null },
      { call_id: "no-answer", user_id: "bob", state: "missed", changed_at: T + 45_001, ring_deadline: null },
      { call_id: "ringing", user_id: "bob", state: "ringing", changed_at: T + 3, ring_deadline: T + 45_003 },
      { call_id: "ringing", user_id: "carol", state: "rejected", changed_at: T + 3, ring_deadline: null },
    ]);
    expect((await db.query("SELECT id, next_ring_at FROM calls ORDER BY id")).rows).toEqual([
      { id: "active", next_ring_at: T + 45_004 },
      { id: "answered", next_ring_at: null },
      { id: "canceled", next_ring_at: null },
      { id: "no-answer", next_ring_at: null },
      { id: "ringing", next_ring_at: T + 45_003 },
    ]);
    const parties = await db.query<{ call_id: string; user_id: string; joined: boolean; missed_unseen: boolean }>(
      "SELECT call_id, user_id, joined, missed_unseen FROM call_parties ORDER BY call_id, user_id",
    );
    expect(parties.rows.map((p) => `${p.call_id}/${p.user_id}${p.joined ? " joined" : ""}${p.missed_unseen ? " unseen" : ""}`)).toEqual([
      "active/alice joined",
      "active/bob joined",
      "active/carol",
      "active/dave joined",
      "answered/alice joined",
      "answered/bob joined",
      "answered/carol",
      "canceled/alice joined",
      "canceled/bob",
      "canceled/carol",
      "no-answer/alice joined",
      "no-answer/bob",
      "ringing/alice joined",
      "ringing/bob",
      "ringing/carol",
    ]);
    const store = new PostgresStore(db, { now: () => T });
    expect(await store.calls.nextRingDeadline()).toBe(T + 45_003);
    expect((await store.calls.listHistory("t1", "carol", { limit: 10 })).map((r) => [r.callId, r.inviteState, r.participantCount])).toEqual([
      ["active", "ringing", 3],
      ["ringing", "rejected", 1],
      ["answered", "missed", 2],
      ["canceled", "rejected", 1],
    ]);
  });

  it("hands back Unix ms and the outbox seq as numbers, flags as booleans, segments as JSON", async () => {
    const db = await migrated();
    await insertCall(db, "call-1", "room-1", "active");
    await db.query(
      `INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on) VALUES ('call-1', 'alice', $1, true, false)`,
      [NOW],
    );
    await db.query("INSERT INTO outbox (id, subject, payload, created_at) VALUES ('ev-1', 's', '{\"b\":1,\"a\":2}', $1)", [NOW]);
    await insertRecording(db, "rec-1", "call-1", "ready");
    await db.query(
      "INSERT INTO transcripts (recording_id, call_id, tenant_id, room_id, status, updated_at) VALUES ('rec-1', 'call-1', 't', 'r', 'pending', $1)",
      [NOW],
    );

    const call = (await db.query("SELECT started_at, ring_deadline, ended_at FROM calls")).rows[0];
    expect(call).toEqual({ started_at: NOW, ring_deadline: NOW, ended_at: null });
    expect((await db.query("SELECT joined_at, audio_on, video_on FROM call_participants")).rows).toEqual([
      { joined_at: NOW, audio_on: true, video_on: false },
    ]);
    // The payload is kept byte for byte (JSONB would reorder its keys).
    expect((await db.query("SELECT seq, payload, created_at FROM outbox")).rows).toEqual([
      { seq: 1, payload: '{"b":1,"a":2}', created_at: NOW },
    ]);
    expect((await db.query("SELECT segments, attempts FROM transcripts")).rows).toEqual([{ segments: [], attempts: 0 }]);
    expect((await db.query("SELECT count(*) AS n FROM calls")).rows).toEqual([{ n: 1 }]);
  });

  it("fails a read of a BIGINT too large for a JavaScript number instead of rounding it", async () => {
    const db = await migrated();
    await expect(db.query("SELECT 9007199254740993::bigint AS n")).rejects.toThrow(
      "BIGINT 9007199254740993 does not fit in a JavaScript number",
    );
    expect((await db.query("SELECT 9007199254740991::bigint AS n")).rows).toEqual([{ n: 9007199254740991 }]);
  });

  it("orders identifiers byte by byte, as SQLite does, in a database whose own collation does not", async () => {
    // The shared server's databases collate as C; production's may not: en-US (ICU) puts "alice" before "Alice".
    const name = `icu_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const admin = pool(sharedPostgres().url);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
    const db = pool(databaseUrl(sharedPostgres(), name));
    await migrate(db);
    await insertCall(db, "call-1", "room-1", "active");
    for (const user of ["bob", "Zoe", "alice", "Alice"]) {
      await db.query(
        "INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on) VALUES ('call-1', $1, $2, true, true)",
        [user, NOW],
      );
    }
    const byDatabase = await db.query("SELECT x FROM unnest(ARRAY['bob', 'Zoe', 'alice', 'Alice']) AS x ORDER BY x");
    expect(byDatabase.rows.map((r: { x: string }) => r.x)).toEqual(["alice", "Alice", "bob", "Zoe"]);
    const rows = await db.query("SELECT user_id FROM call_participants ORDER BY joined_at, user_id");
    expect(rows.rows.map((r: { user_id: string }) => r.user_id)).toEqual(["Alice", "Zoe", "alice", "bob"]);
  });
});
