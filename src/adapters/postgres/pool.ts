import pg from "pg";

export interface PostgresPoolOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  /** Connections at most (default 10). */
  readonly max?: number;
  /** Server-side limit on each statement, ms (default: none). The server enforces it and answers an error. */
  readonly statementTimeoutMs?: number;
  /**
   * An idle connection failed (the server restarted, the network dropped):
   * the pool drops it and connects afresh for the next query. Without a
   * listener, pg's pool would throw the error out of the process.
   */
  readonly onError: (err: Error) => void;
  /**
   * How long a request waits for a connection (a new one to a server that is
   * away, or a free one from a full pool) before it fails; default 2000 ms.
   */
  readonly connectTimeoutMs?: number;
  /** pg's pipeline mode: a connection sends queries without waiting for the previous answer. */
  readonly pipeline?: boolean;
}

const INT8_OID = 20;

/**
 * BIGINT columns hold Unix milliseconds, sizes and the outbox seq: read as
 * numbers (pg's default is a string), exact up to 2^53. A larger value would
 * lose digits, so it fails the query instead.
 */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${text} does not fit in a JavaScript number`);
  return n;
}

/** A node-postgres pool with the store's type parsing; the parsers are this pool's own, pg's globals are untouched. */
export function createPostgresPool(options: PostgresPoolOptions): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(options), max: options.max ?? 10, ...(options.pipeline ? { pipeline: true } : {}) });
  pool.on("error", options.onError);
  return pool;
}

/**
 * A connection of its own, outside the pool, with the pool's settings: for
 * what lives as long as its session (the relay lease is a session advisory
 * lock; LISTEN hears only on the connection that asked). TCP keepalive makes
 * a silently dropped network fail the connection instead of hanging it.
 */
export function createPostgresClient(options: Omit<PostgresPoolOptions, "max" | "pipeline" | "onError">): pg.Client {
  return new pg.Client({ ...clientConfig(options), keepAlive: true });
}

function clientConfig(options: Omit<PostgresPoolOptions, "max" | "pipeline" | "onError">): pg.ClientConfig {
  return {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID && format !== "binary" ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
    },
  };
}
