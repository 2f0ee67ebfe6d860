import Database, { type Statement } from "better-sqlite3";
import type { OutboxRelayLease, OutboxStore } from "../../app/ports.js";
import { BACKLOG_SQL, LAST_MARK_SQL, PENDING_SQL, toEntry, type OutboxRow } from "./outbox-store.js";

// At most one mark a batch is sent to the writer per this many ms (the last one always follows).
const MARK_INTERVAL_MS = 25;

/**
 * The relay thread's view of a SQLite outbox. It reads unsent events on a
 * connection of its own: in WAL mode that never waits for, or holds up, the
 * request thread's writes, and another connection sees committed rows only.
 * Marks are the one write, and SQLite's writer is the request thread's
 * connection, so they go to `owner` (the request thread's store, over the
 * port): at most one every MARK_INTERVAL_MS, without waiting for the answer.
 * A mark lost to a crash only means those events are published again, and
 * JetStream drops them as duplicates (same Nats-Msg-Id).
 */
export class SqliteOutboxReader implements OutboxStore {
  private readonly db: Database.Database;
  private readonly stmt: {
    pending: Statement<[number, number], OutboxRow>;
    lastMark: Statement<[], { seq: number }>;
    backlog: Statement<[number], { pending: number; oldest: number | null }>;
  };
  private sentUpTo = 0;
  private held: OutboxRelayLease | undefined;
  private unsentMark: { seq: number; at: number } | undefined;
  private markTimer: NodeJS.Timeout | undefined;

  constructor(
    path: string,
    private readonly owner: OutboxStore,
  ) {
    this.db = new Database(path, { fileMustExist: true });
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("query_only = ON");
    // It reads each event once, as it is written: a page cache would only hold memory (the default is 16 MB).
    this.db.pragma("cache_size = -512");
    this.stmt = {
      pending: this.db.prepare(PENDING_SQL),
      lastMark: this.db.prepare(LAST_MARK_SQL),
      backlog: this.db.prepare(BACKLOG_SQL),
    };
  }

  async acquireRelay(onWritten: () => void): Promise<OutboxRelayLease | undefined> {
    const held = await this.owner.acquireRelay(onWritten);
    if (!held) return undefined;
    this.held = held;
    this.sentUpTo = this.stmt.lastMark.get()!.seq;
    return {
      pending: (limit) => Promise.resolve(this.stmt.pending.all(this.sentUpTo, limit).map(toEntry)),
      markSent: (seqs, at) => {
        this.sentUpTo = Math.max(this.sentUpTo, ...seqs);
        this.unsentMark = { seq: this.sentUpTo, at };
        this.markTimer ??= setTimeout(() => this.sendMark(), MARK_INTERVAL_MS);
        return Promise.resolve();
      },
      pruneSent: (before) => {
        this.sendMark();
        return held.pruneSent(before);
      },
      release: () => {
        this.sendMark();
        this.held = undefined;
        return held.release();
      },
    };
  }

  backlog(): Promise<{ pending: number; oldestCreatedAt: number | undefined }> {
    const row = this.stmt.backlog.get(this.sentUpTo);
    return Promise.resolve({ pending: row?.pending ?? 0, oldestCreatedAt: row?.oldest ?? undefined });
  }

  /** Sends the last mark now (stop, release): nothing published stays unmarked. */
  close(): void {
    this.sendMark();
    this.db.close();
  }

  private sendMark(): void {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    const mark = this.unsentMark;
    this.unsentMark = undefined;
    // A failed mark is covered by the next one, or the events go out again after a restart (dropped as duplicates).
    if (mark && this.held) this.held.markSent([mark.seq], mark.at).catch(() => undefined);
  }
}
