import type pg from "pg";

/** The pool (reads outside a transaction) or one checked-out client (inside one): both answer `query`. */
export type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;
