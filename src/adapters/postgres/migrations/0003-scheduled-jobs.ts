/**
 * Periodic work (reconciliation with LiveKit, the recording time limit) as
 * rows: an instance runs a job only after moving its `next_run_at` forward in
 * one statement, so each run happens on exactly one instance of the cluster.
 */
export const sql = /* sql */ `
CREATE TABLE scheduled_jobs (
  name TEXT PRIMARY KEY,
  next_run_at BIGINT NOT NULL,
  claimed_by TEXT NOT NULL,
  claimed_at BIGINT NOT NULL
);
`;
