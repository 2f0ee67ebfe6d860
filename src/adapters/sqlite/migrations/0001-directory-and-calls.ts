/** Rooms, members and tenant policies (the directory replica), and calls. */
export const sql = /* sql */ `
CREATE TABLE tenant_policies (
  tenant_id             TEXT PRIMARY KEY,
  recordings_enabled    INTEGER NOT NULL,
  transcription_enabled INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE rooms (
  tenant_id  TEXT NOT NULL,
  room_id    TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, room_id)
) WITHOUT ROWID;

CREATE TABLE room_members (
  tenant_id   TEXT NOT NULL,
  room_id     TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  power_level INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, room_id, user_id),
  FOREIGN KEY (tenant_id, room_id) REFERENCES rooms (tenant_id, room_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE calls (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL,
  room_id      TEXT NOT NULL,
  type         TEXT NOT NULL CHECK (type IN ('audio', 'video')),
  status       TEXT NOT NULL CHECK (status IN ('ringing', 'active', 'ended')),
  initiator_id TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  end_reason   TEXT
) WITHOUT ROWID;

-- One live call per room: a concurrent second initiate fails here and joins the first.
CREATE UNIQUE INDEX calls_one_live_per_room ON calls (tenant_id, room_id) WHERE status <> 'ended';

CREATE TABLE call_participants (
  call_id   TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id   TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  audio_on  INTEGER NOT NULL,
  video_on  INTEGER NOT NULL,
  PRIMARY KEY (call_id, user_id)
) WITHOUT ROWID;

CREATE TABLE call_invitees (
  call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  state   TEXT NOT NULL CHECK (state IN ('ringing', 'joined', 'rejected', 'stopped')),
  PRIMARY KEY (call_id, user_id)
) WITHOUT ROWID;
`;
