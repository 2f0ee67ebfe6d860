import type { Statement } from "better-sqlite3";
import type { OutboundEvent } from "../../app/events.js";
import type { OutboxRelayLease, OutboxStore, OutboxWriter } from "../../app/ports.js";
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
 * never publishes an event whose change could still roll back. SQLite serves
 * one instance, so the relay lease is always this process's: acquiring it
 * always succeeds and releasing it does nothing.
 */
export class SqliteOutboxStore implements OutboxStore {
  private readonly stmt: {
    pending: Statement<[number], OutboxRow>;
    markSent: Statement<[number, number]>;
    backlog: Statement<[], { pending: number; oldest: number | null }>;
    prune: Statement<[number]>;
  };

  private readonly lease: OutboxRelayLease;

  constructor(
    db: SqliteDatabase,
    readCommitted: <T>(read: () => T) => Promise<T> = (read) => Promise.resolve(read()),
  ) {
    const stmt = (this.stmt = {
      pending: db.prepare(
        "SELECT seq, id, subject, payload, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
      ),
      markSent: db.prepare("UPDATE outbox SET sent_at = ? WHERE seq = ?"),
      backlog: db.prepare("SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox WHERE sent_at IS NULL"),
      prune: db.prepare("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?"),
    });
    // One transaction for the whole batch, not one per event (a savepoint when a group is open).
    const markSentAll = db.transaction((seqs: readonly number[], at: number) => {
      for (const seq of seqs) stmt.markSent.run(at, seq);
    });
    this.lease = {
      pending: (limit) =>
        readCommitted(() =>
          stmt.pending.all(limit).map((r) => ({ seq: r.seq, id: r.id, subject: r.subject, payload: r.payload, createdAt: r.created_at })),
        ),
      markSent: (seqs, at) => {
        markSentAll(seqs, at);
        return Promise.resolve();
      },
      pruneSent: (before) => Promise.resolve(stmt.prune.run(before).changes),
      release: () => Promise.resolve(),
    };
  }

  acquireRelay(): Promise<OutboxRelayLease> {
    return Promise.resolve(this.lease);
  }

  backlog(): Promise<{ pending: number; oldestCreatedAt: number | undefined }> {
    const row = this.stmt.backlog.get();
    return Promise.resolve({ pending: row?.pending ?? 0, oldestCreatedAt: row?.oldest ?? undefined });
  }
}
