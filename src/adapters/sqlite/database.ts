import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { migrations, type Migration } from "./migrations/index.js";

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating if needed) the store and brings its schema up to date.
 * WAL lets readers run beside the single writer; `busy_timeout` makes a
 * second process wait for the write lock instead of failing with SQLITE_BUSY.
 */
export function openDatabase(path: string, list: readonly Migration[] = migrations): SqliteDatabase {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    // Refuse a newer schema before changing anything in the file (journal mode included).
    assertKnownVersion(db, list);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db, list);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function assertKnownVersion(db: SqliteDatabase, list: readonly Migration[]): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = list.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this build knows (${latest}); refusing to start`);
  }
}

/** Schema version lives in `PRAGMA user_version`; each migration runs in its own transaction. */
export function migrate(db: SqliteDatabase, list: readonly Migration[]): void {
  assertKnownVersion(db, list);
  const current = db.pragma("user_version", { simple: true }) as number;
  for (const migration of list) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}
