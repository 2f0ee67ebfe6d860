import type pg from "pg";
import type { OutboundEvent } from "../../app/events.js";
import type { OutboxEntry, OutboxRelayLease, OutboxStore, OutboxWriter, WebhookLog } from "../../app/ports.js";
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

/** The session advisory lock whose holder is the cluster's one outbox relay. */
export const OUTBOX_RELAY_LOCK_KEY = 0x5357_5245_4c59n; // "SWRELY"

/** Committed outbox rows are announced here (NOTIFY is delivered at COMMIT); the relay holder LISTENs. */
export const OUTBOX_CHANNEL = "scaiwave_outbox";

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
      // In the order given: seq follows the events' order within the change. The notification reaches the
      // relay lease holder (on any instance) when this transaction commits, not before.
      `WITH appended AS (
         INSERT INTO outbox (id, subject, payload, created_at)
         SELECT e.id, e.subject, e.payload, e.created_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS e(id, subject, payload, created_at, n)
         ORDER BY e.n
       )
       SELECT pg_notify('${OUTBOX_CHANNEL}', '')`,
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

/**
 * The outbox as the relay reads it, and the relay lease: a session advisory
 * lock taken on a connection of its own, through which the holder also reads
 * and marks the outbox. A holder that dies (even SIGKILL) closes its socket,
 * PostgreSQL ends the session and frees the lock, and the next standby's try
 * takes it. A holder whose connection broke finds out at its next query and
 * stops publishing; it holds nothing by then.
 */
export class PostgresOutboxStore implements OutboxStore {
  /** A standby keeps its connection between tries of the lock. */
  private standby: pg.Client | undefined;

  constructor(
    private readonly pool: pg.Pool,
    /** A new connection outside the pool, not yet connected (createPostgresClient). */
    private readonly newClient: () => pg.Client,
  ) {}

  async acquireRelay(onWritten: () => void): Promise<OutboxRelayLease | undefined> {
    const client = this.standby ?? (await this.connect());
    this.standby = undefined;
    try {
      const { rows } = await client.query<{ held: boolean }>(`SELECT pg_try_advisory_lock(${OUTBOX_RELAY_LOCK_KEY}) AS held`);
      if (rows[0]?.held !== true) {
        this.standby = client;
        return undefined;
      }
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      // The holder's marks and prunes need no WAL flush of their own: a mark lost with a crash of the server only
      // makes the next holder publish those events again, and JetStream drops repeats within its duplicate
      // window, as after a crash between an ack and its mark. Every flush saved is one the request path does not wait behind.
      await client.query("SET synchronous_commit = off");
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    client.on("notification", onWritten);
    return new PostgresRelayLease(client);
  }

  async backlog(): Promise<{ pending: number; oldestCreatedAt: number | undefined }> {
    const { rows } = await this.pool.query<{ pending: number; oldest: number | null }>(
      "SELECT count(*)::int AS pending, min(created_at) AS oldest FROM outbox WHERE sent_at IS NULL",
    );
    return { pending: rows[0]?.pending ?? 0, oldestCreatedAt: rows[0]?.oldest ?? undefined };
  }

  /** Closes the standby connection (the service is stopping). */
  async close(): Promise<void> {
    const client = this.standby;
    this.standby = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = this.newClient();
    // A connection that dies while idle emits 'error'; unheard, it would end the process. Its next query fails.
    client.on("error", () => {
      if (this.standby === client) this.standby = undefined;
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }
}

/** The holder's side: committed rows only, in `seq` order, which is commit order (see OUTBOX_ORDER_LOCK_KEY). */
class PostgresRelayLease implements OutboxRelayLease {
  private released: Promise<void> | undefined;

  constructor(private readonly client: pg.Client) {}

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { rows } = await this.client.query<{ seq: number; id: string; subject: string; payload: string; created_at: number }>(
      "SELECT seq, id, subject, payload, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1",
      [limit],
    );
    return rows.map((r) => ({ seq: r.seq, id: r.id, subject: r.subject, payload: r.payload, createdAt: r.created_at }));
  }

  async markSent(seqs: readonly number[], at: number): Promise<void> {
    await this.client.query("UPDATE outbox SET sent_at = $2 WHERE seq = ANY($1::bigint[])", [seqs, at]);
  }

  async pruneSent(before: number): Promise<number> {
    return (await this.client.query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1", [before])).rowCount ?? 0;
  }

  /** Ending the session frees the lock (and the LISTEN). */
  release(): Promise<void> {
    return (this.released ??= this.client.end().catch(() => undefined));
  }
}
