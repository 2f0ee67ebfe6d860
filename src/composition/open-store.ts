import type { Pool } from "pg";
import { openDatabase, type SqliteDatabase } from "../adapters/sqlite/database.js";
import { GroupCommit } from "../adapters/sqlite/group-commit.js";
import { SqliteOutboxStore } from "../adapters/sqlite/outbox-store.js";
import { SqliteStore } from "../adapters/sqlite/store.js";
import type { Clock, Logger, OutboxStore, Store } from "../app/ports.js";
import type { Config } from "../config.js";

/** The selected store, with what the rest of the service needs to run it. */
export interface OpenedStore {
  readonly kind: "sqlite" | "postgresql";
  readonly store: Store;
  /** The relay's side of the outbox. */
  readonly outbox: OutboxStore;
  /**
   * Resolves once nothing a request read can still roll back (SQLite's open group commit; PostgreSQL reads committed
   * rows only). What a request wrote is committed when its `store.transaction` resolves, on either store.
   */
  readonly settle: () => Promise<void>;
  /** The SQLite connection (tests and tools look inside); undefined on PostgreSQL. */
  readonly db: SqliteDatabase | undefined;
  /** Pool figures for /metrics and /readyz (PostgreSQL). */
  readonly pool: (() => { readonly total: number; readonly idle: number; readonly waiting: number; readonly errors: number }) | undefined;
  /** The PostgreSQL pool, for what shares the database besides the store (rate limits); undefined on SQLite. */
  readonly postgresPool: Pool | undefined;
  close(): Promise<void>;
}

/**
 * `DATABASE_URL` selects PostgreSQL (schema migrated under an advisory lock
 * before anything else runs); without it, SQLite at `DATABASE_PATH`.
 * `outboxWritten` is told after every commit that wrote events.
 */
export async function openStore(config: Config, clock: Clock, logger: Logger, outboxWritten: () => void): Promise<OpenedStore> {
  const pg = config.postgres;
  if (pg) {
    // Loaded only here, so that a SQLite service never loads the PostgreSQL driver (in either thread).
    const [{ createPostgresClient, createPostgresPool }, { migrate }, { PostgresOutboxStore }, { PostgresStore }] = await Promise.all([
      import("../adapters/postgres/pool.js"),
      import("../adapters/postgres/migrate.js"),
      import("../adapters/postgres/outbox.js"),
      import("../adapters/postgres/store.js"),
    ]);
    let errors = 0;
    const pool = createPostgresPool({
      url: pg.url,
      max: pg.poolSize,
      statementTimeoutMs: pg.statementTimeoutMs,
      onError: (err) => {
        errors++;
        logger.warn({ err }, "a PostgreSQL connection failed; the pool replaces it");
      },
    });
    try {
      const outcome = await migrate(pool);
      if (outcome.applied.length > 0) logger.info({ from: outcome.from, to: outcome.to }, "PostgreSQL schema migrated");
    } catch (err) {
      await pool.end();
      throw err;
    }
    const outbox = new PostgresOutboxStore(pool, () =>
      createPostgresClient({ url: pg.url, statementTimeoutMs: pg.statementTimeoutMs }),
    );
    return {
      kind: "postgresql",
      store: new PostgresStore(pool, { now: () => clock.now(), onOutboxCommit: outboxWritten }),
      outbox,
      // A unit of work has committed when store.transaction resolves: nothing is left to wait for.
      settle: () => Promise.resolve(),
      db: undefined,
      pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, errors }),
      postgresPool: pool,
      close: async () => {
        await outbox.close();
        await pool.end();
      },
    };
  }

  const db = openDatabase(config.databasePath);
  // Group commit: the units of work of one event-loop turn share one transaction.
  const groupCommit = new GroupCommit(db, { afterCommit: outboxWritten });
  return {
    kind: "sqlite",
    store: new SqliteStore(db, { now: () => clock.now(), groupCommit }),
    // Read here (an in-memory database), the relay reads only when no group is open: it never sees a change that
    // could still roll back. Its marks and pruning write in a write group.
    outbox: new SqliteOutboxStore(
      db,
      (read) => groupCommit.whenIdle(read),
      () => void groupCommit.enlist(),
    ),
    // A request's own writes are committed when its transactions resolve; what it read may be in the open group.
    settle: () => groupCommit.settled(),
    db,
    pool: undefined,
    postgresPool: undefined,
    close: async () => {
      await groupCommit.settled().catch(() => undefined);
      db.close();
    },
  };
}
