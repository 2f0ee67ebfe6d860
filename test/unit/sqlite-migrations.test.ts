import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { migrations } from "../../src/adapters/sqlite/migrations/index.js";

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
      expect(LATEST).toBe(8);
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST);
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => (r as { name: string }).name);
      expect(tables).toEqual(["call_ended_sessions", "call_invitees", "call_participants", "calls", "media", "outbox", "recordings", "room_members", "rooms", "scheduled_jobs", "sqlite_sequence", "tenant_policies", "transcripts", "webhook_events"]);
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
});
