/**
 * Periodic work (reconciliation with LiveKit, the recording time limit) as
 * rows, as on PostgreSQL: a run is claimed by moving `next_run_at` forward.
 */
export const sql = /* sql */ `
CREATE TABLE scheduled_jobs (
  name TEXT PRIMARY KEY,
  next_run_at INTEGER NOT NULL,
  claimed_by TEXT NOT NULL,
  claimed_at INTEGER NOT NULL
);
`;
