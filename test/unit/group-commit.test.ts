import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type SqliteDatabase } from "../../src/adapters/sqlite/database.js";
import { GroupCommit } from "../../src/adapters/sqlite/group-commit.js";
import { SqliteStore } from "../../src/adapters/sqlite/store.js";

// Group commit against a real SQLite file, watched from a second connection
// (what another process, or the store after a crash, would see).

let dir: string;
let db: SqliteDatabase;
let observer: Database.Database;
let commits: number;
let enlisted: Promise<void>[];
let group: GroupCommit;

const seen = () => (observer.prepare("SELECT v FROM t ORDER BY v").all() as { v: string }[]).map((r) => r.v);

/** A store-style write: enlist (keeping the commit it waits for), then a transaction (a SAVEPOINT inside the group). */
function write(value: string, fail = false): void {
  enlisted.push(group.enlist());
  db.transaction(() => {
    db.prepare("INSERT INTO t (v) VALUES (?)").run(value);
    if (fail) throw new Error("this request's change is invalid");
  }).immediate();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "group-commit-"));
  db = openDatabase(join(dir, "g.db"), []);
  db.exec(`CREATE TABLE t (v TEXT PRIMARY KEY);
           CREATE TABLE parent (id TEXT PRIMARY KEY);
           CREATE TABLE child (pid TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);`);
  observer = new Database(join(dir, "g.db"), { readonly: true });
  commits = 0;
  enlisted = [];
  group = new GroupCommit(db, { afterCommit: () => commits++ });
});

afterEach(() => {
  observer.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GroupCommit", () => {
  it("writes of one turn share one commit, visible to others only after it", async () => {
    write("a");
    write("b");
    expect(seen()).toEqual([]);
    await group.settled();
    expect(seen()).toEqual(["a", "b"]);
    expect(commits).toBe(1);
    await Promise.all(enlisted);
  });

  it("a failing request rolls back only its own change; the group still commits the others", async () => {
    write("a");
    expect(() => write("b", true)).toThrow(/invalid/);
    write("c");
    await group.settled();
    expect(seen()).toEqual(["a", "c"]);
  });

  it("whenIdle reads only committed rows: during an open group it waits for the commit", async () => {
    expect(await group.whenIdle(() => "no group: at once")).toBe("no group: at once");
    write("a");
    const read = group.whenIdle(() => (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n);
    expect(db.inTransaction).toBe(true);
    expect(await read).toBe(1);
    expect(db.inTransaction).toBe(false);
  });

  it("a failed COMMIT fails the requests of that group, stores nothing, and the next group works", async () => {
    write("a");
    enlisted.push(group.enlist());
    // Checked at COMMIT: a child whose parent does not exist.
    db.transaction(() => db.prepare("INSERT INTO child (pid) VALUES ('missing')").run()).immediate();
    await expect(group.settled()).rejects.toThrow(/FOREIGN KEY/);
    await expect(Promise.all(enlisted)).rejects.toThrow(/FOREIGN KEY/);
    expect(seen()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    write("b");
    await group.settled();
    expect(seen()).toEqual(["b"]);
  });

  it("does not commit while a unit of work holds the group; it commits once the unit is released", async () => {
    write("a");
    group.hold();
    const committed = group.settled();
    // The turn ends (setImmediate) with the unit still open: nothing is committed yet.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(seen()).toEqual([]);
    expect(db.inTransaction).toBe(true);
    group.release();
    await committed;
    expect(seen()).toEqual(["a"]);
  });

  it("the reads of a turn share one read transaction, which ends with the turn and wakes nobody", async () => {
    db.prepare("INSERT INTO t (v) VALUES ('x')").run();
    group.joinRead();
    expect(db.inTransaction).toBe(true);
    expect(db.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 1 });
    group.joinRead(); // a second read of the turn joins it
    await group.settled();
    expect(db.inTransaction).toBe(false);
    expect(commits).toBe(0);
  });

  it("a write in a turn that began with reads gets a write group of its own, even after another process wrote", async () => {
    const otherProcess = new Database(join(dir, "g.db"));
    try {
      group.joinRead();
      expect(db.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 0 });
      // The worker commits while this connection's read transaction is open: SQLite would refuse to upgrade it.
      otherProcess.prepare("INSERT INTO t (v) VALUES ('from-worker')").run();
      write("a");
      await group.settled();
      await Promise.all(enlisted);
      expect(seen()).toEqual(["a", "from-worker"]);
      expect(commits).toBe(1);
    } finally {
      otherProcess.close();
    }
  });
});

describe("SqliteStore on a group commit", () => {
  let store: SqliteStore;
  const rooms = () => (observer.prepare("SELECT room_id FROM rooms ORDER BY room_id").all() as { room_id: string }[]).map((r) => r.room_id);
  const putRoom = (roomId: string) => store.transaction((tx) => tx.directory.putRoom("acme", roomId, [{ userId: "alice", powerLevel: 0 }]));
  /** What a caller of `transaction` could see the moment its promise settled. */
  const whenSettled = (unit: Promise<unknown>) =>
    unit.then(
      () => ({ outcome: "resolved", inTransaction: db.inTransaction, committedRooms: rooms() }),
      (err: unknown) => ({ outcome: `rejected: ${String(err)}`, inTransaction: db.inTransaction, committedRooms: rooms() }),
    );

  beforeEach(() => {
    // The real schema in its own file, plus a deferred foreign key (checked only at COMMIT).
    observer.close();
    db.close();
    db = openDatabase(join(dir, "store.db"));
    db.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
             CREATE TABLE child (pid TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);`);
    observer = new Database(join(dir, "store.db"), { readonly: true });
    group = new GroupCommit(db, { afterCommit: () => commits++ });
    store = new SqliteStore(db, { now: () => Date.now(), groupCommit: group });
  });

  it("a transaction resolves only once its group has committed; the units of one turn still share one commit", async () => {
    const first = whenSettled(putRoom("room-1"));
    const second = whenSettled(putRoom("room-2"));
    expect(await first).toEqual({ outcome: "resolved", inTransaction: false, committedRooms: ["room-1", "room-2"] });
    expect(await second).toEqual({ outcome: "resolved", inTransaction: false, committedRooms: ["room-1", "room-2"] });
    expect(commits).toBe(1);
  });

  it("a transaction rejects when its group's COMMIT fails, as does every unit that wrote in that group; the next group works", async () => {
    const valid = whenSettled(putRoom("room-1"));
    const invalid = whenSettled(
      store.transaction(async () => {
        db.prepare("INSERT INTO child (pid) VALUES ('missing')").run();
      }),
    );
    const failed = { outcome: expect.stringMatching(/^rejected: .*FOREIGN KEY/), inTransaction: false, committedRooms: [] };
    expect(await invalid).toEqual(failed);
    expect(await valid).toEqual(failed);
    expect(await whenSettled(putRoom("room-3"))).toEqual({ outcome: "resolved", inTransaction: false, committedRooms: ["room-3"] });
  });

  it("a unit whose work fails rejects with its own error and does not fail the others of its group", async () => {
    const failing = whenSettled(
      store.transaction(async (tx) => {
        await tx.directory.putRoom("acme", "room-x", [{ userId: "alice", powerLevel: 0 }]);
        throw new Error("this request's change is invalid");
      }),
    );
    const valid = whenSettled(putRoom("room-1"));
    expect((await failing).outcome).toBe("rejected: Error: this request's change is invalid");
    expect(await valid).toEqual({ outcome: "resolved", inTransaction: false, committedRooms: ["room-1"] });
  });
});
