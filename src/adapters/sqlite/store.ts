import type { Statement } from "better-sqlite3";
import type { Store, StoreReads, StoreTransaction } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { SqliteCallRepository } from "./call-repository.js";
import type { SqliteDatabase } from "./database.js";
import { SqliteDirectoryRepository } from "./directory-repository.js";
import type { GroupCommit } from "./group-commit.js";
import { SqliteOutboxWriter } from "./outbox-store.js";
import { SqliteRecordingRepository } from "./recording-repository.js";
import { SqliteScheduleClaims } from "./schedule-claims.js";
import { SqliteTranscriptRepository } from "./transcript-repository.js";
import { SqliteWebhookLog } from "./webhook-log.js";

/** A unit of work's commit when it ran in a transaction of its own (already done). */
const COMMITTED = Promise.resolve();

/**
 * The store on one SQLite connection. A transaction is a SAVEPOINT: inside
 * the open group commit when the service runs one (the group's single COMMIT
 * makes it durable; see GroupCommit), else inside a BEGIN IMMEDIATE of its
 * own. Either way `transaction` resolves only once its change is committed,
 * and rejects if the COMMIT failed. One connection has one transaction stack,
 * so units of work run one at a time, in the order they were asked for; the
 * statements are synchronous, so each takes microseconds unless its work
 * awaits something other than the store.
 */
export class SqliteStore implements Store {
  readonly calls: SqliteCallRepository;
  readonly recordings: SqliteRecordingRepository;
  readonly transcripts: SqliteTranscriptRepository;
  readonly directory: SqliteDirectoryRepository;
  private readonly bound: StoreTransaction;
  /** A unit of work is running; the ones asked for meanwhile wait here, in order. */
  private active = false;
  private readonly waiting: (() => void)[] = [];
  private readonly stmt: Record<"begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo" | "ping", Statement>;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: { readonly now: () => number; readonly groupCommit?: GroupCommit },
  ) {
    this.calls = new SqliteCallRepository(db);
    this.recordings = new SqliteRecordingRepository(db);
    this.transcripts = new SqliteTranscriptRepository(db);
    this.directory = new SqliteDirectoryRepository(db, options.now);
    this.bound = {
      calls: this.calls,
      recordings: this.recordings,
      transcripts: this.transcripts,
      directory: this.directory,
      webhooks: new SqliteWebhookLog(db),
      outbox: new SqliteOutboxWriter(db),
      schedule: new SqliteScheduleClaims(db),
    };
    this.stmt = {
      begin: db.prepare("BEGIN IMMEDIATE"),
      commit: db.prepare("COMMIT"),
      rollback: db.prepare("ROLLBACK"),
      savepoint: db.prepare("SAVEPOINT unit_of_work"),
      release: db.prepare("RELEASE unit_of_work"),
      rollbackTo: db.prepare("ROLLBACK TO unit_of_work"),
      ping: db.prepare("SELECT 1"),
    };
  }

  /** Another process holding the write lock past `busy_timeout` fails the unit of work with SW_CALL_STORE_UNAVAILABLE. */
  async transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    try {
      const unit = await this.inTurn(() => this.run(work));
      // Awaited after the turn is handed on (and the group's hold released): the next units join the same group,
      // which commits once they are done too.
      await unit.committed;
      return unit.result;
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code !== "SQLITE_BUSY") throw err;
      throw new CallError(CallErrorCode.StoreUnavailable, "the database is busy; try again shortly", { cause: err });
    }
  }

  /**
   * One connection: the reads run in the open group's transaction, or in a
   * read-only group they open, shared with the other reads of this turn
   * (one read transaction, not one per statement). What they see may be a
   * group's uncommitted writes, as any read here: the request answers after
   * that group commits.
   */
  read<T>(work: (reads: StoreReads) => Promise<T>): Promise<T> {
    this.options.groupCommit?.joinRead();
    return work(this);
  }

  ping(): Promise<void> {
    this.stmt.ping.get();
    return Promise.resolve();
  }

  /** Usually nothing is running and `unit` starts at once; otherwise it waits its turn (handed over in order). */
  private async inTurn<R>(unit: () => Promise<R>): Promise<R> {
    if (this.active) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active = true;
    try {
      return await unit();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active = false;
    }
  }

  /** Runs `work` in a savepoint; resolves with its result and the commit that makes it durable (already done without a group). */
  private async run<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<{ result: T; committed: Promise<void> }> {
    const group = this.options.groupCommit;
    const committed = group ? group.enlist() : COMMITTED;
    const own = !this.db.inTransaction;
    if (own) this.stmt.begin.run();
    group?.hold();
    this.stmt.savepoint.run();
    try {
      const result = await work(this.bound);
      this.stmt.release.run();
      if (own) this.stmt.commit.run();
      return { result, committed };
    } catch (err) {
      if (this.db.inTransaction) {
        this.stmt.rollbackTo.run();
        this.stmt.release.run();
        if (own) this.stmt.rollback.run();
      }
      throw err;
    } finally {
      group?.release();
    }
  }
}
