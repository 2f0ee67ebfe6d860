import type pg from "pg";
import type { OutboundEvent } from "../../app/events.js";
import type { OutboxEntry, OutboxStore, OutboxWriter, WebhookLog } from "../../app/ports.js";
import type { Queryable } from "./queryable.js";

/**
 * The transaction-scoped advisory lock that orders outbox writers. `seq` is
 * taken at INSERT, but transactions commit in their own order: without this,
 * the relay could publish seq 8 and later find seq 7 committed behind it.
 * A writer takes it at its first append and holds it to COMMIT, so outbox
 * rows commit in `seq` order (appends come last in a unit of work, so the
 * lock is held briefly).
 */
export const OUTBOX_ORDER_LOCK_KEY = 0x5357_4f55_5442n; // "SWOUTB"

/** The one writer of outbox rows, inside a store transaction. */
export class PostgresOutboxWriter implements OutboxWriter {
  private locked = false;

  /** Whether this transaction appended anything. */
  get wrote(): boolean {
    return this.locked;
  }

  constructor(private readonly db: Queryable) {}

  async append(events: readonly OutboundEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (!this.locked) {
      await this.db.query(`SELECT pg_advisory_xact_lock(${OUTBOX_ORDER_LOCK_KEY})`);
      this.locked = true;
    }
    await this.db.query(
      // In the order given: seq follows the events' order within the change.
      `INSERT INTO outbox (id, subject, payload, created_at)
       SELECT e.id, e.subject, e.payload, e.created_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS e(id, subject, payload, created_at, n)
       ORDER BY e.n`,
      [events.map((e) => e.id), events.map((e) => e.subject), events.map((e) => e.payload), events.map((e) => e.createdAt)],
    );
  }
}

/** Processed LiveKit webhook ids; the primary key makes a retry (or the same webhook on two instances) a no-op. */
export class PostgresWebhookLog implements WebhookLog {
  constructor(private readonly db: Queryable) {}

  async record(eventId: string, receivedAt: number): Promise<boolean> {
    const inserted = await this.db.query("INSERT INTO webhook_events (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [eventId, receivedAt]);
    return inserted.rowCount === 1;
  }

  async prune(before: number): Promise<number> {
    return (await this.db.query("DELETE FROM webhook_events WHERE received_at < $1", [before])).rowCount ?? 0;
  }
}

/** The outbox as the relay reads it: committed rows only, in `seq` order, which is commit order (see the lock above). */
export class PostgresOutboxStore implements OutboxStore {
  constructor(private readonly pool: pg.Pool) {}

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { rows } = await this.pool.query<{ seq: number; id: string; subject: string; payload: string; created_at: number }>(
      "SELECT seq, id, subject, payload, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1",
      [limit],
    );
    return rows.map((r) => ({ seq: r.seq, id: r.id, subject: r.subject, payload: r.payload, createdAt: r.created_at }));
  }

  async markSent(seqs: readonly number[], at: number): Promise<void> {
    await this.pool.query("UPDATE outbox SET sent_at = $2 WHERE seq = ANY($1::bigint[])", [seqs, at]);
  }

  async backlog(): Promise<{ pending: number; oldestCreatedAt: number | undefined }> {
    const { rows } = await this.pool.query<{ pending: number; oldest: number | null }>(
      "SELECT count(*)::int AS pending, min(created_at) AS oldest FROM outbox WHERE sent_at IS NULL",
    );
    return { pending: rows[0]?.pending ?? 0, oldestCreatedAt: rows[0]?.oldest ?? undefined };
  }

  async pruneSent(before: number): Promise<number> {
    return (await this.pool.query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1", [before])).rowCount ?? 0;
  }
}
