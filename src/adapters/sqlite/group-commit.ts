import type { SqliteDatabase } from "./database.js";

/**
 * Group commit: the writes of every request handled in one turn of the event
 * loop share one SQLite transaction, committed once (in a setImmediate) instead
 * of once per request. BEGIN and COMMIT were the largest single cost in the
 * join profile.
 *
 * The store (SqliteStore) enlists each unit of work: the first one of a turn
 * opens `BEGIN IMMEDIATE`, and each unit then runs as a SAVEPOINT inside it,
 * so a failing request rolls back only its own changes; the group does not
 * commit while a unit is open (`hold`/`release`). Nothing may leave the
 * process before the commit, so:
 * - `enlist()` returns the commit of the group joined, and the store's unit of
 *   work resolves only once it has committed (after releasing its hold): a
 *   request that wrote answers after its writes are durable, and a failed
 *   COMMIT fails exactly the units that wrote in that group;
 * - requests also answer only after `settled()`: what they read may be
 *   another request's write, still in the open group;
 * - the outbox relay is kicked after each commit, and reads on a connection
 *   of its own (committed rows only); reads of the outbox on this connection
 *   (an in-memory database) go through `whenIdle()`, which runs a read only
 *   when no group is open.
 */
interface Group {
  readonly committed: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  /** Opened by a read (BEGIN DEFERRED); a write starts a group of its own instead of joining it. */
  readonly readOnly: boolean;
}

export class GroupCommit {
  private open: Group | undefined;
  private readonly idleReads: (() => void)[] = [];
  /** Units of work in progress: the group cannot commit under them (their savepoint is open). */
  private holds = 0;
  private commitDeferred = false;
  private readonly begin;
  private readonly beginRead;
  private readonly commitStatement;
  private readonly rollback;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly hooks: {
      /** Told after every commit (wakes the outbox relay). */
      readonly afterCommit: () => void;
    },
  ) {
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.beginRead = db.prepare("BEGIN DEFERRED");
    this.commitStatement = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
  }

  /**
   * Joins the open group, or opens one that commits at the end of this turn.
   * Returns that group's commit (rejects if the COMMIT fails): await it only
   * after {@link release}, or the group cannot commit.
   */
  enlist(): Promise<void> {
    // Someone else's explicit transaction (migrations, a test): leave it alone; its owner commits it.
    if (!this.open && this.db.inTransaction) return Promise.resolve();
    // Not in a read's transaction: another process (the worker) may have written since it began, and SQLite
    // would refuse to turn it into a write. Reads need no commit, so it ends here and a write group begins.
    if (this.open?.readOnly) this.finish(this.open);
    return (this.open ?? this.openGroup(false)).committed;
  }

  /**
   * A read joins the open group, or opens a read-only one (BEGIN DEFERRED):
   * the statements of every read in this turn then share one read
   * transaction instead of starting one each (a GetCall's six reads: ~22 →
   * ~10 µs). Nothing to await: reads need no commit.
   */
  joinRead(): void {
    if (this.open || this.db.inTransaction) return;
    this.openGroup(true);
  }

  private openGroup(readOnly: boolean): Group {
    (readOnly ? this.beginRead : this.begin).run();
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const committed = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    committed.catch(() => undefined); // observed by whoever awaits settled(); never unhandled
    const group: Group = { committed, resolve, reject, readOnly };
    this.open = group;
    setImmediate(() => this.commit(group));
    return group;
  }

  /**
   * Resolves when the open group (if any) has committed: what a request read
   * may be another request's uncommitted write. Rejects if that COMMIT fails
   * (a write that joined the group without enlisting, a single statement, is
   * covered this way too).
   */
  settled(): Promise<void> {
    return this.open ? this.open.committed : Promise.resolve();
  }

  /** Runs `read` when no group is open (now, synchronously, if none is), so it sees committed rows only. */
  whenIdle<T>(read: () => T): Promise<T> {
    if (!this.open) {
      try {
        return Promise.resolve(read());
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.idleReads.push(() => {
        try {
          resolve(read());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** A unit of work begins in the open group: its commit waits until {@link release}. */
  hold(): void {
    this.holds++;
  }

  release(): void {
    this.holds--;
    if (this.holds === 0 && this.commitDeferred) {
      this.commitDeferred = false;
      const group = this.open;
      setImmediate(() => this.commit(group));
    }
  }

  /** The end of `group`'s turn (a read-only group may have ended already, when a write came). */
  private commit(group: Group | undefined): void {
    if (!group || group !== this.open) return;
    if (this.holds > 0) {
      this.commitDeferred = true;
      return;
    }
    this.finish(group);
    if (!group.readOnly) this.hooks.afterCommit();
    for (const read of this.idleReads.splice(0)) read();
  }

  private finish(group: Group): void {
    this.open = undefined;
    try {
      if (!this.db.open) throw new Error("the database was closed before the group committed");
      this.commitStatement.run();
      group.resolve();
    } catch (err) {
      if (this.db.open && this.db.inTransaction) this.rollback.run();
      group.reject(err);
    }
  }
}
