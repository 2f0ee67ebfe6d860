/**
 * The whole schema, as SQLite's migrations 1–6 leave it, table by table:
 * Unix milliseconds are BIGINT, flags BOOLEAN, JSON documents JSONB. The
 * invariants are constraints, as in SQLite: one live call per room and one
 * active recording per call are partial unique indexes, one processing of a
 * webhook is the primary key on its event id.
 *
 * Identifiers (ids, user ids, LiveKit sids) are COLLATE "C": compared and
 * ordered byte by byte, as SQLite does, whatever the database's own collation
 * (lists come back ORDER BY user_id).
 */
export const sql = /* sql */ `
-- The directory replica: tenant policies, rooms and their members.
CREATE TABLE tenant_policies (
  tenant_id             TEXT COLLATE "C" PRIMARY KEY,
  recordings_enabled    BOOLEAN NOT NULL,
  transcription_enabled BOOLEAN NOT NULL,
  updated_at            BIGINT NOT NULL
);

CREATE TABLE rooms (
  tenant_id  TEXT COLLATE "C" NOT NULL,
  room_id    TEXT COLLATE "C" NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, room_id)
);

CREATE TABLE room_members (
  tenant_id   TEXT COLLATE "C" NOT NULL,
  room_id     TEXT COLLATE "C" NOT NULL,
  user_id     TEXT COLLATE "C" NOT NULL,
  power_level INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, room_id, user_id),
  FOREIGN KEY (tenant_id, room_id) REFERENCES rooms (tenant_id, room_id) ON DELETE CASCADE
);

-- Calls, their participants (with LiveKit's session id), invitees and the sessions known to have ended.
CREATE TABLE calls (
  id               TEXT COLLATE "C" PRIMARY KEY,
  tenant_id        TEXT COLLATE "C" NOT NULL,
  room_id          TEXT COLLATE "C" NOT NULL,
  type             TEXT NOT NULL CHECK (type IN ('audio', 'video')),
  status           TEXT NOT NULL CHECK (status IN ('ringing', 'active', 'ended')),
  initiator_id     TEXT COLLATE "C" NOT NULL,
  started_at       BIGINT NOT NULL,
  ended_at         BIGINT,
  end_reason       TEXT,
  ring_deadline    BIGINT NOT NULL DEFAULT 0,
  ended_by         TEXT COLLATE "C",
  end_requested_by TEXT COLLATE "C",
  end_requested_at BIGINT
);

-- One live call per room: a concurrent second initiate fails here and joins the first.
CREATE UNIQUE INDEX calls_one_live_per_room ON calls (tenant_id, room_id) WHERE status <> 'ended';
CREATE INDEX calls_ringing_by_deadline ON calls (ring_deadline) WHERE status = 'ringing';

CREATE TABLE call_participants (
  call_id     TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id     TEXT COLLATE "C" NOT NULL,
  joined_at   BIGINT NOT NULL,
  audio_on    BOOLEAN NOT NULL,
  video_on    BOOLEAN NOT NULL,
  livekit_sid TEXT COLLATE "C",
  PRIMARY KEY (call_id, user_id)
);

CREATE TABLE call_invitees (
  call_id TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id TEXT COLLATE "C" NOT NULL,
  state   TEXT NOT NULL CHECK (state IN ('ringing', 'joined', 'rejected', 'stopped')),
  PRIMARY KEY (call_id, user_id)
);

CREATE TABLE call_ended_sessions (
  call_id TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  sid     TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (call_id, sid)
);

-- Processed LiveKit webhooks (a replay must change nothing); kept an hour.
CREATE TABLE webhook_events (
  id          TEXT COLLATE "C" PRIMARY KEY,
  received_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);

-- The transactional outbox. payload is the message body exactly as built (JSON text) and is
-- published byte for byte, so it stays TEXT: JSONB would reorder its keys and cost a parse on
-- the write path. seq is assigned at INSERT, not at COMMIT: unlike SQLite's single writer,
-- concurrent transactions may commit out of seq order, which the relay must allow for.
CREATE TABLE outbox (
  seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         TEXT COLLATE "C" NOT NULL UNIQUE,
  subject    TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  sent_at    BIGINT
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Recordings of calls and the media entries their files become.
CREATE TABLE recordings (
  id            TEXT COLLATE "C" PRIMARY KEY,
  call_id       TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  tenant_id     TEXT COLLATE "C" NOT NULL,
  room_id       TEXT COLLATE "C" NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('starting', 'recording', 'stopping', 'ready', 'failed')),
  audio         BOOLEAN NOT NULL,
  video         BOOLEAN NOT NULL,
  transcript    BOOLEAN NOT NULL,
  egress_id     TEXT COLLATE "C" UNIQUE,
  file_key      TEXT NOT NULL,
  requested_by  TEXT COLLATE "C" NOT NULL,
  started_at    BIGINT NOT NULL,
  ended_at      BIGINT,
  error         TEXT,
  stop_deadline BIGINT NOT NULL
);

-- One active recording per call; a second start fails here.
CREATE UNIQUE INDEX recordings_one_active_per_call ON recordings (call_id) WHERE status IN ('starting', 'recording');
CREATE INDEX recordings_by_call ON recordings (call_id, started_at);
CREATE INDEX recordings_active_by_deadline ON recordings (stop_deadline) WHERE status IN ('starting', 'recording');

CREATE TABLE media (
  id           TEXT COLLATE "C" PRIMARY KEY,
  recording_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES recordings (id) ON DELETE CASCADE,
  bucket       TEXT NOT NULL,
  key          TEXT NOT NULL,
  mime_type    TEXT NOT NULL,
  size_bytes   BIGINT NOT NULL,
  duration_ms  BIGINT NOT NULL,
  started_at   BIGINT NOT NULL,
  ended_at     BIGINT NOT NULL
);

-- Transcripts of recordings: the transcription job's state and its result.
CREATE TABLE transcripts (
  recording_id TEXT COLLATE "C" PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
  call_id      TEXT COLLATE "C" NOT NULL,
  tenant_id    TEXT COLLATE "C" NOT NULL,
  room_id      TEXT COLLATE "C" NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
  engine       TEXT,
  text         TEXT,
  segments     JSONB NOT NULL DEFAULT '[]',
  vtt_key      TEXT,
  txt_key      TEXT,
  attempts     INTEGER NOT NULL DEFAULT 0,
  error        TEXT,
  updated_at   BIGINT NOT NULL
);
`;
