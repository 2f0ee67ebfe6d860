import type { Statement } from "better-sqlite3";
import type { RecordingRepository } from "../../app/ports.js";
import type { MediaEntry, Recording } from "../../domain/recording.js";
import { recordingFromColumns, type MediaColumns, type RecordingColumns } from "../rows.js";
import type { SqliteDatabase } from "./database.js";

/** Flags are 0/1 in SQLite. */
type RecordingRow = RecordingColumns & { audio: number; video: number; transcript: number };
type MediaRow = MediaColumns & { recording_id: string };

const ACTIVE = "status IN ('starting', 'recording')";

/** Recordings with their media row as JSON (one read for a page of calls). */
const WITH_MEDIA = `SELECT r.*, (SELECT json_object('id', m.id, 'bucket', m.bucket, 'key', m.key, 'mime_type', m.mime_type,
    'size_bytes', m.size_bytes, 'duration_ms', m.duration_ms, 'started_at', m.started_at, 'ended_at', m.ended_at)
  FROM media m WHERE m.recording_id = r.id) AS media_json
FROM recordings r`;

export class SqliteRecordingRepository implements RecordingRepository {
  private readonly stmt: {
    insert: Statement<RecordingRow>;
    discard: Statement<[string]>;
    setEgress: Statement<[string, string]>;
    byId: Statement<[string], RecordingRow>;
    byEgress: Statement<[string], RecordingRow>;
    active: Statement<[string], RecordingRow>;
    latest: Statement<[string], RecordingRow>;
    forCalls: Statement<[string], RecordingRow & { media_json: string | null }>;
    forCall: Statement<[string], RecordingRow & { media_json: string | null }>;
    pastDeadline: Statement<[number], RecordingRow>;
    update: Statement<Pick<RecordingRow, "id" | "status" | "ended_at" | "error">>;
    media: Statement<[string], MediaRow>;
    insertMedia: Statement<MediaRow>;
  };

  constructor(db: SqliteDatabase) {
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO recordings (id, call_id, tenant_id, room_id, status, audio, video, transcript, egress_id, file_key,
           requested_by, started_at, ended_at, error, stop_deadline)
         VALUES (@id, @call_id, @tenant_id, @room_id, @status, @audio, @video, @transcript, @egress_id, @file_key,
           @requested_by, @started_at, @ended_at, @error, @stop_deadline)`,
      ),
      discard: db.prepare("DELETE FROM recordings WHERE id = ?"),
      setEgress: db.prepare("UPDATE recordings SET egress_id = ? WHERE id = ?"),
      byId: db.prepare("SELECT * FROM recordings WHERE id = ?"),
      byEgress: db.prepare("SELECT * FROM recordings WHERE egress_id = ?"),
      active: db.prepare(`SELECT * FROM recordings WHERE call_id = ? AND ${ACTIVE}`),
      latest: db.prepare("SELECT * FROM recordings WHERE call_id = ? ORDER BY started_at DESC, id DESC LIMIT 1"),
      // Any number of calls is one JSON array parameter; each recording comes with its media entry as JSON.
      forCalls: db.prepare(`${WITH_MEDIA} WHERE r.call_id IN (SELECT value FROM json_each(?)) ORDER BY r.started_at, r.id`),
      // One call (GetCall): an index seek, without json_each and a sort (it was 9 % of a GetCall).
      forCall: db.prepare(`${WITH_MEDIA} WHERE r.call_id = ? ORDER BY r.started_at, r.id`),
      pastDeadline: db.prepare(`SELECT * FROM recordings WHERE ${ACTIVE} AND stop_deadline <= ? ORDER BY stop_deadline`),
      update: db.prepare("UPDATE recordings SET status = @status, ended_at = @ended_at, error = @error WHERE id = @id"),
      media: db.prepare("SELECT * FROM media WHERE recording_id = ?"),
      insertMedia: db.prepare(
        `INSERT INTO media (id, recording_id, bucket, key, mime_type, size_bytes, duration_ms, started_at, ended_at)
         VALUES (@id, @recording_id, @bucket, @key, @mime_type, @size_bytes, @duration_ms, @started_at, @ended_at)`,
      ),
    };
  }

  insert(recording: Recording): Promise<boolean> {
    try {
      this.stmt.insert.run(toRow(recording));
      return Promise.resolve(true);
    } catch (err) {
      if ((err as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") return Promise.resolve(false);
      throw err;
    }
  }

  discard(recordingId: string): Promise<void> {
    this.stmt.discard.run(recordingId);
    return Promise.resolve();
  }

  setEgressId(recordingId: string, egressId: string): Promise<void> {
    this.stmt.setEgress.run(egressId, recordingId);
    return Promise.resolve();
  }

  findById(id: string): Promise<Recording | undefined> {
    return Promise.resolve(this.hydrate(this.stmt.byId.get(id)));
  }

  findByEgressId(egressId: string): Promise<Recording | undefined> {
    return Promise.resolve(this.hydrate(this.stmt.byEgress.get(egressId)));
  }

  findActive(callId: string): Promise<Recording | undefined> {
    return Promise.resolve(this.hydrate(this.stmt.active.get(callId)));
  }

  findLatest(callId: string): Promise<Recording | undefined> {
    return Promise.resolve(this.hydrate(this.stmt.latest.get(callId)));
  }

  listForCalls(callIds: readonly string[]): Promise<Recording[]> {
    if (callIds.length === 0) return Promise.resolve([]);
    const rows = callIds.length === 1 ? this.stmt.forCall.all(callIds[0]!) : this.stmt.forCalls.all(JSON.stringify(callIds));
    return Promise.resolve(rows.map((r) => recordingFromColumns(r, r.media_json === null ? null : (JSON.parse(r.media_json) as MediaColumns))));
  }

  listPastDeadline(now: number): Promise<Recording[]> {
    return Promise.resolve(this.stmt.pastDeadline.all(now).map((r) => this.hydrate(r)!));
  }

  save(before: Recording, after: Recording): Promise<void> {
    const { id, status, ended_at, error } = toRow(after);
    this.stmt.update.run({ id, status, ended_at, error });
    if (after.media && !before.media) this.stmt.insertMedia.run(mediaRow(after.id, after.media));
    return Promise.resolve();
  }

  private hydrate(row: RecordingRow | undefined): Recording | undefined {
    return row && recordingFromColumns(row, this.stmt.media.get(row.id));
  }
}

function toRow(r: Recording): RecordingRow {
  return {
    id: r.id,
    call_id: r.callId,
    tenant_id: r.tenantId,
    room_id: r.roomId,
    status: r.status,
    audio: r.audio ? 1 : 0,
    video: r.video ? 1 : 0,
    transcript: r.transcript ? 1 : 0,
    egress_id: r.egressId,
    file_key: r.fileKey,
    requested_by: r.requestedBy,
    started_at: r.startedAt,
    ended_at: r.endedAt,
    error: r.error,
    stop_deadline: r.stopDeadline,
  };
}

function mediaRow(recordingId: string, m: MediaEntry): MediaRow {
  return {
    id: m.id,
    recording_id: recordingId,
    bucket: m.bucket,
    key: m.key,
    mime_type: m.mimeType,
    size_bytes: m.sizeBytes,
    duration_ms: m.durationMs,
    started_at: m.startedAt,
    ended_at: m.endedAt,
  };
}
