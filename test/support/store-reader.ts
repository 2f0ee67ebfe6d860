import Database from "better-sqlite3";
import pg from "pg";

/** Where a service keeps its state: a SQLite file, or a PostgreSQL database (TEST_STORE=postgresql). */
export interface StoreEnv {
  readonly DATABASE_PATH: string;
  readonly DATABASE_URL?: string | undefined;
}

/**
 * Reads a service's store directly, as an operator would, whichever engine it
 * is: `sql` must be portable (CAST(… AS INTEGER), CASE, no `::`).
 */
export async function queryStore<T>(store: StoreEnv, sql: string): Promise<T[]> {
  if (store.DATABASE_URL) {
    const client = new pg.Client({ connectionString: store.DATABASE_URL });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const db = new Database(store.DATABASE_PATH, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}
