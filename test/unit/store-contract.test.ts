import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { SqliteOutboxStore } from "../../src/adapters/sqlite/outbox-store.js";
import { SqliteStore } from "../../src/adapters/sqlite/store.js";
import { storeContract, T0 } from "../support/store-contract.js";

storeContract("SQLite", () => {
  const db = openDatabase(":memory:");
  return Promise.resolve({
    store: new SqliteStore(db, { now: () => T0 }),
    outbox: new SqliteOutboxStore(db),
    count: (table, callId) =>
      Promise.resolve((db.prepare(`SELECT count(*) AS n FROM ${table} WHERE call_id = ?`).get(callId) as { n: number }).n),
    // SQLite counts every row an INSERT, UPDATE or DELETE statement wrote, equal values or not.
    rowsWritten: async (work) => {
      const total = () => (db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
      const before = total();
      await work();
      return total() - before;
    },
    close: () => {
      db.close();
      return Promise.resolve();
    },
  });
});
