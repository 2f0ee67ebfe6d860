import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PAGE_QUERIES } from "../../src/adapters/sqlite/call-repository.js";
import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { migrations } from "../../src/adapters/sqlite/migrations/index.js";
import { SqliteOutboxStore, SqliteOutboxWriter } from "../../src/adapters/sqlite/outbox-store.js";
import { SqliteStore } from "../../src/adapters/sqlite/store.js";

/** SQLite's own schema handling; what every store must do is in store-contract.test.ts. */

const LATEST = migrations.at(-1)!.version;

describe("openDatabase and migrations", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "calls-sqlite-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("brings an in-memory database to the latest schema version", () => {
    const db = openDatabase(":memory:");
    try {
      expect(LATEST).toBe(10);
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST);
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => (r as { name: string }).name);
      expect(tables).toEqual(["call_ended_sessions", "call_invitees", "call_participants", "call_parties", "calls", "media", "outbox_events", "outbox_marks", "recordings", "room_members", "rooms", "scheduled_jobs", "sqlite_sequence", "tenant_policies", "transcripts", "webhook_events"]);
      expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  it("creates the parent directory, and re-opening a file is idempotent and keeps the data", () => {
    const path = join(dir, "nested", "calls.db");
    const first = openDatabase(path);
    expect(first.pragma("user_version", { simple: true })).toBe(LATEST);
    expect(first.pragma("journal_mode", { simple: true })).toBe("wal");
    first.prepare("INSERT INTO rooms (tenant_id, room_id, updated_at) VALUES ('t1', 'r1', 0)").run();
    first.prepare("INSERT INTO room_members (tenant_id, room_id, user_id, power_level) VALUES ('t1', 'r1', 'alice', 100)").run();
    first.close();

    const second = openDatabase(path);
    try {
      expect(second.pragma("user_version", { simple: true })).toBe(LATEST);
      expect(second.prepare("SELECT power_level FROM room_members WHERE user_id = 'alice'").get()).toEqual({ power_level: 100 });
    } finally {
      second.close();
    }
    // And a third time, for good measure: still no migration re-run (CREATE TABLE would fail).
    openDatabase(path).close();
  });

  it("refuses a database written by a newer build, with a clear error", () => {
    const path = join(dir, "newer.db");
    const raw = new Database(path);
    raw.pragma(`user_version = ${LATEST + 41}`);
    raw.close();
    expect(() => openDatabase(path)).toThrow(
      `database schema version ${LATEST + 41} is newer than this build knows (${LATEST}); refusing to start`,
    );
    // Refused before anything was changed: the file is still in rollback-journal mode.
    const after = new Database(path);
    expect(after.pragma("journal_mode", { simple: true })).toBe("delete");
    after.close();
  });

  it("applies only the migrations above the stored version, each once", () => {
    const db = openDatabase(":memory:", [
      { version: 1, name: "one", sql: "CREATE TABLE one (x INTEGER);" },
      { version: 2, name: "two", sql: "CREATE TABLE two (x INTEGER);" },
    ]);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(2);
    } finally {
      db.close();
    }
  });

  it("a failing migration leaves the previous version and no partial schema", () => {
    const path = join(dir, "broken.db");
    const good = { version: 1, name: "one", sql: "CREATE TABLE one (x INTEGER);" };
    const bad = { version: 2, name: "two", sql: "CREATE TABLE two (x INTEGER); CREATE TABLE one (y INTEGER);" };
    expect(() => openDatabase(path, [good, bad])).toThrow(/table one already exists/);
    const raw = new Database(path);
    try {
      expect(raw.pragma("user_version", { simple: true })).toBe(1);
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'two'").get()).toBeUndefined();
    } finally {
      raw.close();
    }
  });

  it("maps an existing database's calls to per-member rings and history (migration 9)", async () => {
    const T = 1_700_000_000_000;
    const path = join(dir, "before-9.db");
    const old = openDatabase(path, migrations.filter((m) => m.version <= 8));
    const call = old.prepare(
      `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ring_deadline)
       VALUES (?, 't1', ?, 'audio', ?, 'alice', ?, ?, ?, ?)`,
    );
    const invitee = old.prepare("INSERT INTO call_invitees (call_id, user_id, state) VALUES (?, ?, ?)");
    const participant = old.prepare("INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on) VALUES (?, ?, ?, 0, 0)");
    // Ended: the caller gave up; nobody answered; answered by bob while carol's ring stopped.
    call.run("canceled", "r1", "ended", T, T + 5_000, "canceled", T + 45_000);
    invitee.run("canceled", "bob", "stopped");
    invitee.run("canceled", "carol", "rejected");
    call.run("no-answer", "r2", "ended", T + 1, T + 45_001, "no_answer", T + 45_001);
    invitee.run("no-answer", "bob", "stopped");
    call.run("answered", "r3", "ended", T + 2, T + 60_000, "all_left", T + 45_002);
    invitee.run("answered", "bob", "joined");
    invitee.run("answered", "carol", "stopped");
    // Live: still ringing; active with carol's phone still ringing.
    call.run("ringing", "r4", "ringing", T + 3, null, null, T + 45_003);
    invitee.run("ringing", "bob", "ringing");
    invitee.run("ringing", "carol", "rejected");
    participant.run("ringing", "alice", T + 3);
    call.run("active", "r5", "active", T + 4, null, null, T + 45_004);
    invitee.run("active", "bob", "joined");
    invitee.run("active", "carol", "ringing");
    participant.run("active", "alice", T + 4);
    participant.run("active", "bob", T + 5);
    participant.run("active", "dave", T + 6);
    old.close();

    const db = openDatabase(path);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST);
      expect(db.prepare("SELECT call_id, user_id, state, changed_at, ring_deadline FROM call_invitees ORDER BY call_id, user_id").all()).toEqual([
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
      expect(db.prepare("SELECT id, next_ring_at FROM calls ORDER BY id").all()).toEqual([
        { id: "active", next_ring_at: T + 45_004 },
        { id: "answered", next_ring_at: null },
        { id: "canceled", next_ring_at: null },
        { id: "no-answer", next_ring_at: null },
        { id: "ringing", next_ring_at: T + 45_003 },
      ]);
      expect(db.prepare("SELECT call_id, user_id, tenant_id, started_at, joined, missed_unseen FROM call_parties ORDER BY call_id, user_id").all()).toEqual([
        { call_id: "active", user_id: "alice", tenant_id: "t1", started_at: T + 4, joined: 1, missed_unseen: 0 },
        { call_id: "active", user_id: "bob", tenant_id: "t1", started_at: T + 4, joined: 1, missed_unseen: 0 },
        { call_id: "active", user_id: "carol", tenant_id: "t1", started_at: T + 4, joined: 0, missed_unseen: 0 },
        { call_id: "active", user_id: "dave", tenant_id: "t1", started_at: T + 4, joined: 1, missed_unseen: 0 },
        { call_id: "answered", user_id: "alice", tenant_id: "t1", started_at: T + 2, joined: 1, missed_unseen: 0 },
        { call_id: "answered", user_id: "bob", tenant_id: "t1", started_at: T + 2, joined: 1, missed_unseen: 0 },
        { call_id: "answered", user_id: "carol", tenant_id: "t1", started_at: T + 2, joined: 0, missed_unseen: 0 },
        { call_id: "canceled", user_id: "alice", tenant_id: "t1", started_at: T, joined: 1, missed_unseen: 0 },
        { call_id: "canceled", user_id: "bob", tenant_id: "t1", started_at: T, joined: 0, missed_unseen: 0 },
        { call_id: "canceled", user_id: "carol", tenant_id: "t1", started_at: T, joined: 0, missed_unseen: 0 },
        { call_id: "no-answer", user_id: "alice", tenant_id: "t1", started_at: T + 1, joined: 1, missed_unseen: 0 },
        { call_id: "no-answer", user_id: "bob", tenant_id: "t1", started_at: T + 1, joined: 0, missed_unseen: 0 },
        { call_id: "ringing", user_id: "alice", tenant_id: "t1", started_at: T + 3, joined: 1, missed_unseen: 0 },
        { call_id: "ringing", user_id: "bob", tenant_id: "t1", started_at: T + 3, joined: 0, missed_unseen: 0 },
        { call_id: "ringing", user_id: "carol", tenant_id: "t1", started_at: T + 3, joined: 0, missed_unseen: 0 },
      ]);
      // The store reads them as the domain's calls and history, and the ring timer finds both live ones.
      const store = new SqliteStore(db, { now: () => T });
      expect((await store.calls.findCall("t1", "active"))?.invitees).toEqual([
        { userId: "bob", state: "answered", changedAt: T + 4, ringDeadline: null },
        { userId: "carol", state: "ringing", changedAt: T + 4, ringDeadline: T + 45_004 },
      ]);
      expect(await store.calls.nextRingDeadline()).toBe(T + 45_003);
      expect(await store.transaction((tx) => tx.calls.claimRingingDue(T + 45_004, 10))).toEqual([
        { tenantId: "t1", callId: "ringing" },
        { tenantId: "t1", callId: "active" },
      ]);
      expect((await store.calls.listHistory("t1", "carol", { limit: 10 })).map((r) => [r.callId, r.inviteState, r.participantCount])).toEqual([
        ["active", "ringing", 3],
        ["ringing", "rejected", 1],
        ["answered", "missed", 2],
        ["canceled", "rejected", 1],
      ]);
      expect(await store.calls.countUnseenMissed("t1", "bob")).toBe(0);
      // The rebuilt table kept its constraints: states of the new set only, rows of existing calls only.
      expect(() => db.prepare("INSERT INTO call_invitees (call_id, user_id, state, changed_at) VALUES ('active', 'erin', 'stopped', 0)").run()).toThrow(/CHECK constraint failed/);
      expect(() => db.prepare("INSERT INTO call_invitees (call_id, user_id, state, changed_at) VALUES ('nope', 'erin', 'missed', 0)").run()).toThrow(/FOREIGN KEY constraint failed/);
      expect(db.pragma("foreign_key_check")).toEqual([]);
    } finally {
      db.close();
    }
  });

  it("moves an existing outbox to events and marks: sent stays sent, unsent stays unsent, in order (migration 10)", async () => {
    const path = join(dir, "before-10.db");
    const old = openDatabase(path, migrations.filter((m) => m.version <= 9));
    const event = old.prepare("INSERT INTO outbox (id, subject, payload, created_at, sent_at) VALUES (?, 's', ?, ?, ?)");
    // Two batches were published (at 100 and 200), two events wait.
    event.run("e1", "{}", 10, 100);
    event.run("e2", "{}", 11, 100);
    event.run("e3", "{}", 12, 200);
    event.run("e4", "{}", 13, null);
    event.run("e5", "{}", 14, null);
    old.close();

    const db = openDatabase(path);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(10);
      // The view keeps the old shape for operators: each event's sent_at is its batch's.
      expect(db.prepare("SELECT seq, id, sent_at FROM outbox ORDER BY seq").all()).toEqual([
        { seq: 1, id: "e1", sent_at: 100 },
        { seq: 2, id: "e2", sent_at: 100 },
        { seq: 3, id: "e3", sent_at: 200 },
        { seq: 4, id: "e4", sent_at: null },
        { seq: 5, id: "e5", sent_at: null },
      ]);
      // The relay resumes after e3: e4 and e5 are its backlog.
      expect(await new SqliteOutboxStore(db).backlog()).toEqual({ pending: 2, oldestCreatedAt: 13 });
    } finally {
      db.close();
    }
  });

  it("an outbox pruned down to its last event still gives new events higher seqs than every mark", async () => {
    const db = openDatabase(":memory:");
    try {
      const writer = new SqliteOutboxWriter(db);
      const outbox = new SqliteOutboxStore(db);
      const lease = await outbox.acquireRelay();
      const append = (id: string, at: number) => writer.append([{ id, subject: "s", payload: "{}", createdAt: at }]);
      await append("e1", 1);
      await append("e2", 2);
      await lease.markSent((await lease.pending(10)).map((e) => e.seq), 5);
      // Everything is sent and old: the newest event (and mark) stay, so the next seq cannot fall back under the mark.
      expect(await lease.pruneSent(1_000)).toBe(1);
      await append("e3", 6);
      expect((await lease.pending(10)).map((e) => e.id)).toEqual(["e3"]);
      expect(await outbox.backlog()).toEqual({ pending: 1, oldestCreatedAt: 6 });
    } finally {
      db.close();
    }
  });

  it("every table of a call's rows is deleted with the call", () => {
    const db = openDatabase(":memory:");
    try {
      const children = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[])
        .flatMap(({ name }) =>
          (db.pragma(`foreign_key_list(${name})`) as { table: string; on_delete: string }[])
            .filter((fk) => fk.table === "calls")
            .map((fk) => [name, fk.on_delete]),
        );
      expect(children).toEqual([
        ["call_ended_sessions", "CASCADE"],
        ["call_invitees", "CASCADE"],
        ["call_participants", "CASCADE"],
        ["call_parties", "CASCADE"],
        ["recordings", "CASCADE"],
      ]);
    } finally {
      db.close();
    }
  });

  it("reads a page of history or of a room's calls by walking an index, never scanning or sorting", () => {
    const db = openDatabase(":memory:");
    try {
      const params = { tenant_id: "t1", user_id: "bob", room_id: "r1", limit: 50, before_started_at: 1, before_id: "c1" };
      const plans = Object.fromEntries(
        Object.entries(PAGE_QUERIES).map(([name, sql]) => {
          const bound = Object.fromEntries(Object.entries(params).filter(([key]) => sql.includes(`@${key}`)));
          return [name, (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(bound) as { detail: string }[]).map((r) => r.detail)];
        }),
      );
      expect(plans["history"]?.[0]).toBe("SEARCH p USING INDEX call_parties_history (tenant_id=? AND user_id=?)");
      expect(plans["historyBefore"]?.[0]).toBe("SEARCH p USING INDEX call_parties_history (tenant_id=? AND user_id=? AND (started_at,call_id)<(?,?))");
      expect(plans["roomCalls"]).toEqual(["SEARCH calls USING INDEX calls_by_room (tenant_id=? AND room_id=?)"]);
      expect(plans["roomCallsBefore"]).toEqual(["SEARCH calls USING INDEX calls_by_room (tenant_id=? AND room_id=? AND (started_at,id)<(?,?))"]);
      for (const [name, steps] of Object.entries(plans)) {
        for (const step of steps) expect(step, name).not.toMatch(/^SCAN|TEMP B-TREE/);
      }
      expect(plans["history"]).toContain("SEARCH j USING COVERING INDEX call_parties_joined (call_id=?)");
    } finally {
      db.close();
    }
  });
});
