import type { Statement } from "better-sqlite3";
import type { WebhookLog } from "../../app/ports.js";
import type { SqliteDatabase } from "./database.js";

/** Processed LiveKit webhook ids; the primary key makes a retry a no-op. */
export class SqliteWebhookLog implements WebhookLog {
  private readonly stmt: { insert: Statement<[string, number]>; prune: Statement<[number]> };

  constructor(db: SqliteDatabase) {
    this.stmt = {
      insert: db.prepare("INSERT INTO webhook_events (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"),
      prune: db.prepare("DELETE FROM webhook_events WHERE received_at < ?"),
    };
  }

  record(eventId: string, receivedAt: number): Promise<boolean> {
    return Promise.resolve(this.stmt.insert.run(eventId, receivedAt).changes > 0);
  }

  prune(before: number): Promise<number> {
    return Promise.resolve(this.stmt.prune.run(before).changes);
  }
}
