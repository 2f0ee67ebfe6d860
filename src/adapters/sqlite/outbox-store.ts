import type { Statement } from "better-sqlite3";
import type { OutboundEvent } from "../../app/events.js";
import type { OutboxEntry, OutboxRelayLease, OutboxStore, OutboxWriter } from "../../app/ports.js";
import type { SqliteDatabase } from "./database.js";

export interface OutboxRow {
  seq: number;
  id: string;
  subject: string;
  payload: string;
  created_at: number;
}

/** Unsent events are those above the last mark, in seq (commit) order. */
export const PENDING_SQL = "SELECT seq, id, subject, payload, created_at FROM outbox_events WHERE seq > ? ORDER BY seq LIMIT ?";
export const LAST_MARK_SQL = "SELECT coalesce(max(sent_seq), 0) AS seq FROM outbox_marks";
export const BACKLOG_SQL = "SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox_events WHERE seq > ?";

export function toEntry(r: OutboxRow): OutboxEntry {
  return { seq: r.seq, id: r.id, subject: r.subject, payload: r.payload, createdAt: r.created_at };
}

// Pruning deletes this many events per statement, yielding between them, so it never holds the thread for long.
const PRUNE_CHUNK = 2_000;

/** The one writer of outbox rows, used inside the store's transactions. */
export class SqliteOutboxWriter implements OutboxWriter {
  private readonly insert: Statement<[string, string, string, number]>;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare("INSERT INTO outbox_events (id, subject, payload, created_at) VALUES (?, ?, ?, ?)");
  }

  append(events: readonly OutboundEvent[]): Promise<void> {
    for (const e of events) this.insert.run(e.id, e.subject, e.payload, e.createdAt);
    return Promise.resolve();
  }
}

/**
 * The outbox as the relay sees it, on the connection that writes it. An event
 * is sent once a mark covers it: the relay publishes in seq order and appends
 * one mark (highest seq published, when) per batch, instead of updating every
 * event's row. The last mark is kept in memory too (this connection is the
 * only writer), so counting the backlog is a range scan of the unsent events.
 *
 * Reads wait until no group commit is open (`readCommitted`), so the relay
 * never publishes an event whose change could still roll back. SQLite serves
 * one instance, so the relay lease is always this process's: acquiring it
 * always succeeds and releasing it does nothing.
 */
export class SqliteOutboxStore implements OutboxStore {
  private readonly stmt: {
    pending: Statement<[number, number], OutboxRow>;
    mark: Statement<[number, number]>;
    backlog: Statement<[number], { pending: number; oldest: number | null }>;
    lastMarkBefore: Statement<[number], { seq: number | null }>;
    pruneEvents: Statement<[number, number]>;
    pruneMarks: Statement<[number]>;
  };

  private sentUpTo: number;
  private readonly lease: OutboxRelayLease;

  constructor(
    db: SqliteDatabase,
    readCommitted: <T>(read: () => T) => Promise<T> = (read) => Promise.resolve(read()),
    /** Called before each write: with group commit, it puts the write into a write group (see GroupCommit.enlist). */
    private readonly beforeWrite: () => void = () => undefined,
  ) {
    const stmt = (this.stmt = {
      pending: db.prepare(PENDING_SQL),
      mark: db.prepare("INSERT INTO outbox_marks (sent_seq, sent_at) VALUES (?, ?)"),
      backlog: db.prepare(BACKLOG_SQL),
      lastMarkBefore: db.prepare("SELECT max(sent_seq) AS seq FROM outbox_marks WHERE sent_at < ?"),
      // Never the newest event: a rowid table gives the next event max(seq) + 1, which must stay above every mark.
      pruneEvents: db.prepare(
        `DELETE FROM outbox_events WHERE seq IN (
           SELECT seq FROM outbox_events WHERE seq <= ? AND seq < (SELECT max(seq) FROM outbox_events) ORDER BY seq LIMIT ?)`,
      ),
      // Never the newest mark: it is where the relay resumes.
      pruneMarks: db.prepare("DELETE FROM outbox_marks WHERE sent_seq < ? AND sent_seq < (SELECT max(sent_seq) FROM outbox_marks)"),
    });
    this.sentUpTo = (db.prepare(LAST_MARK_SQL).get() as { seq: number }).seq;
    this.lease = {
      pending: (limit) => readCommitted(() => stmt.pending.all(this.sentUpTo, limit).map(toEntry)),
      markSent: (seqs, at) => {
        this.markSentUpTo(Math.max(...seqs), at);
        return Promise.resolve();
      },
      pruneSent: (before) => this.pruneSent(before),
      release: () => Promise.resolve(),
    };
  }

  acquireRelay(): Promise<OutboxRelayLease> {
    return Promise.resolve(this.lease);
  }

  /** Records that every event up to `seq` is published (a savepoint in the open group commit, if any). */
  markSentUpTo(seq: number, at: number): void {
    if (!(seq > this.sentUpTo)) return;
    this.beforeWrite();
    this.stmt.mark.run(seq, at);
    this.sentUpTo = seq;
  }

  backlog(): Promise<{ pending: number; oldestCreatedAt: number | undefined }> {
    const row = this.stmt.backlog.get(this.sentUpTo);
    return Promise.resolve({ pending: row?.pending ?? 0, oldestCreatedAt: row?.oldest ?? undefined });
  }

  /** Deletes events sent before `before` (and their marks), a chunk at a time; returns how many events. */
  private async pruneSent(before: number): Promise<number> {
    const upTo = this.stmt.lastMarkBefore.get(before)?.seq;
    if (upTo === null || upTo === undefined) return 0;
    let deleted = 0;
    for (;;) {
      this.beforeWrite();
      const { changes } = this.stmt.pruneEvents.run(upTo, PRUNE_CHUNK);
      deleted += changes;
      if (changes < PRUNE_CHUNK) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.beforeWrite();
    this.stmt.pruneMarks.run(upTo);
    return deleted;
  }
}
