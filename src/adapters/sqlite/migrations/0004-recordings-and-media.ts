/** Recordings of calls and the media entries their files become. */
export const sql = /* sql */ `
CREATE TABLE recordings (
  id            TEXT PRIMARY KEY,
  call_id       TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  tenant_id     TEXT NOT NULL,
  room_id       TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('starting', 'recording', 'stopping', 'ready', 'failed')),
  audio         INTEGER NOT NULL,
  video         INTEGER NOT NULL,
  transcript    INTEGER NOT NULL,
  egress_id     TEXT UNIQUE,
  file_key      TEXT NOT NULL,
  requested_by  TEXT NOT NULL,
  started_at    INTEGER NOT NULL,
  ended_at      INTEGER,
  error         TEXT,
  stop_deadline INTEGER NOT NULL
) WITHOUT ROWID;

-- One active recording per call; a second start fails here.
CREATE UNIQUE INDEX recordings_one_active_per_call ON recordings (call_id) WHERE status IN ('starting', 'recording');
CREATE INDEX recordings_by_call ON recordings (call_id, started_at);
CREATE INDEX recordings_active_by_deadline ON recordings (stop_deadline) WHERE status IN ('starting', 'recording');

CREATE TABLE media (
  id           TEXT PRIMARY KEY,
  recording_id TEXT NOT NULL UNIQUE REFERENCES recordings (id) ON DELETE CASCADE,
  bucket       TEXT NOT NULL,
  key          TEXT NOT NULL,
  mime_type    TEXT NOT NULL,
  size_bytes   INTEGER NOT NULL,
  duration_ms  INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER NOT NULL
) WITHOUT ROWID;
`;
