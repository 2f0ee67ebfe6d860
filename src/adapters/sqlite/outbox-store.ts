import type { Statement } from "better-sqlite3";
import type { OutboxEntry, OutboxStore } from "../../app/ports.js";
import type { SqliteDatabase } from "./database.js";

interface OutboxRow {
  seq: number;
  id: string;
  subject: string;
  payload: string;
  created_at: number;
}

/** The outbox table: the relay reads unsent rows in `seq` (commit) order. */
export class SqliteOutboxStore implements OutboxStore {
  private readonly stmt: {
    pending: Statement<[number], OutboxRow>;
    markSent: Statement<[number, number]>;
    backlog: Statement<[], { pending: number; oldest: number | null }>;
    prune: Statement<[number]>;
  };

  private readonly markSentAll: (seqs: readonly number[], at: number) => void;

  constructor(db: SqliteDatabase) {
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

  pending(limit: number): OutboxEntry[] {
    return this.stmt.pending
      .all(limit)
      .map((r) => ({ seq: r.seq, id: r.id, subject: r.subject, payload: r.payload, createdAt: r.created_at }));
  }

  /** One transaction for the whole batch, not one per event (a savepoint when a group is open). */
  markSent(seqs: readonly number[], at: number): void {
    this.markSentAll(seqs, at);
  }

  backlog(): { pending: number; oldestCreatedAt: number | undefined } {
    const row = this.stmt.backlog.get();
    return { pending: row?.pending ?? 0, oldestCreatedAt: row?.oldest ?? undefined };
  }

  pruneSent(before: number): number {
    return this.stmt.prune.run(before).changes;
  }
}
