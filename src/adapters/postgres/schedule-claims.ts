import type { ScheduleClaims } from "../../app/ports.js";
import type { Queryable } from "./queryable.js";

/**
 * A periodic job's run, claimed by moving its next run forward in one
 * UPDATE. Two instances claiming at once serialize on the row; the second
 * re-reads the moved `next_run_at` (READ COMMITTED) and updates nothing.
 */
export class PostgresScheduleClaims implements ScheduleClaims {
  constructor(private readonly db: Queryable) {}

  async register(job: string, firstRunAt: number): Promise<void> {
    await this.db.query(
      "INSERT INTO scheduled_jobs (name, next_run_at, claimed_by, claimed_at) VALUES ($1, $2, '', 0) ON CONFLICT (name) DO NOTHING",
      [job, firstRunAt],
    );
  }

  async claim(job: string, now: number, intervalMs: number, holder: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      "UPDATE scheduled_jobs SET next_run_at = $1, claimed_by = $2, claimed_at = $3 WHERE name = $4 AND next_run_at <= $3",
      [now + intervalMs, holder, now, job],
    );
    return rowCount === 1;
  }
}
