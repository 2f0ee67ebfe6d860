import type { Statement } from "better-sqlite3";
import type { ScheduleClaims } from "../../app/ports.js";
import type { SqliteDatabase } from "./database.js";

/** A periodic job's run, claimed by moving its next run forward (as on PostgreSQL). */
export class SqliteScheduleClaims implements ScheduleClaims {
  private readonly stmt: { register: Statement<[string, number]>; claim: Statement<[number, string, number, string, number]> };

  constructor(db: SqliteDatabase) {
    this.stmt = {
      register: db.prepare(
        "INSERT INTO scheduled_jobs (name, next_run_at, claimed_by, claimed_at) VALUES (?, ?, '', 0) ON CONFLICT (name) DO NOTHING",
      ),
      claim: db.prepare("UPDATE scheduled_jobs SET next_run_at = ?, claimed_by = ?, claimed_at = ? WHERE name = ? AND next_run_at <= ?"),
    };
  }

  register(job: string, firstRunAt: number): Promise<void> {
    this.stmt.register.run(job, firstRunAt);
    return Promise.resolve();
  }

  claim(job: string, now: number, intervalMs: number, holder: string): Promise<boolean> {
    return Promise.resolve(this.stmt.claim.run(now + intervalMs, holder, now, job, now).changes > 0);
  }
}
