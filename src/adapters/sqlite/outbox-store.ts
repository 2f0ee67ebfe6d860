import type { Statement } from "better-sqlite3";
import type { OutboundEvent } from "../../app/events.js";
import type { OutboxEntry, OutboxStore, OutboxWriter } from "../../app/ports.js";
import type { SqliteDatabase } from "./database.js";

interface OutboxRow {
  seq: number;
  id: string;
  subject: string;
  payload: string;
  created_at: number;
}

/** The one writer of outbox rows, used inside the store's transactions. */
export class SqliteOutboxWriter implements OutboxWriter {
  private readonly insert: Statement<[string, string, string, number]>;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare("INSERT INTO outbox (id, subject, payload, created_at) VALUES (?, ?, ?, ?)");
  }

  append(events: readonly OutboundEvent[]): Promise<void> {
    for (const e of events) this.insert.run(e.id, e.subject, e.payload, e.createdAt);
    return Promise.resolve();
  }
}

/**
 * The outbox table as the relay sees it: unsent rows in `seq` (commit) order.
 * Reads wait until no group commit is open (`readCommitted`), so the relay
 * never publishes an event whose change could still roll back.
 */
export class SqliteOutboxStore implements OutboxStore {
  private readonly stmt: {
    pending: Statement<[number], OutboxRow>;
    markSent: Statement<[number, number]>;
    backlog: Statement<[], { pending: number; oldest: number | null }>;
    prune: Statement<[number]>;
  };

  private readonly markSentAll: (seqs: readonly number[], at: number) => void;

  constructor(
    db: SqliteDatabase,
    private readonly readCommitted: <T>(read: () => T) => Promise<T> = (read) => Promise.resolve(read()),
  ) {
    this.stmt = {
      pending: db.prepare(
        "SELECT seq, id, subject, payload, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
      ),
      markSent: db.prepare("UPDATE outbox SET sent_at = ? WHERE seq = ?"),
      backlog: db.prepare("SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox WHERE sent_at IS NULL"),
      prune: db.prepare("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?"),
    };
    this.markSentAll = db.transaction((seqs: readonly number[], at: number) => {
      for (const seq of seqs) this.stmt.markSent.run(at, seq);
    });
  }

  pending(limit: number): Promise<OutboxEntry[]> {
    return this.readCommitted(() =>
      this.stmt.pending
        .all(limit)
        .map((r) => ({ seq: r.seq, id: r.id, subject: r.subject, payload: r.payload, createdAt: r.created_at })),
    );
  }

  /** One transaction for the whole batch, not one per event (a savepoint when a group is open). */
  markSent(seqs: readonly number[], at: number): Promise<void> {
    this.markSentAll(seqs, at);
    return Promise.resolve();
  }

  backlog(): Promise<{ pending: number; oldestCreatedAt: number | undefined }> {
    const row = this.stmt.backlog.get();
    return Promise.resolve({ pending: row?.pending ?? 0, oldestCreatedAt: row?.oldest ?? undefined });
  }

  pruneSent(before: number): Promise<number> {
    return Promise.resolve(this.stmt.prune.run(before).changes);
  }
}
