import { createPostgresClient, createPostgresPool } from "../../src/adapters/postgres/pool.js";
import { migrate } from "../../src/adapters/postgres/migrate.js";
import { PostgresOutboxStore } from "../../src/adapters/postgres/outbox.js";
import { PostgresStore } from "../../src/adapters/postgres/store.js";
import { sharedPostgres } from "../support/shared-servers.js";
import { storeContract, T0 } from "../support/store-contract.js";

storeContract("PostgreSQL", async () => {
  const url = await sharedPostgres().createDatabase();
  const pool = createPostgresPool({ url, max: 4, onError: () => undefined });
  await migrate(pool);
  return {
    store: new PostgresStore(pool, { now: () => T0 }),
    outbox: new PostgresOutboxStore(pool, () => createPostgresClient({ url })),
    count: async (table, callId) =>
      (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE call_id = $1`, [callId])).rows[0]?.n ?? 0,
    close: () => pool.end(),
  };
});
