import type { RecordingRepository } from "../../app/ports.js";
import type { Recording } from "../../domain/recording.js";
import { recordingFromColumns, type MediaColumns, type RecordingColumns } from "../rows.js";
import type { Queryable } from "./queryable.js";

/** The recording with its media entry (`row_to_json`), when it has one. */
type RecordingRow = RecordingColumns & { media: MediaColumns | null };

const SELECT = `SELECT r.*, (SELECT row_to_json(m) FROM media m WHERE m.recording_id = r.id) AS media FROM recordings r`;
const ACTIVE = "r.status IN ('starting', 'recording')";

export class PostgresRecordingRepository implements RecordingRepository {
  constructor(private readonly db: Queryable) {}

  async insert(r: Recording): Promise<boolean> {
    // The partial unique index keeps one active recording per call: a second start inserts nothing.
    const inserted = await this.db.query(
      `INSERT INTO recordings (id, call_id, tenant_id, room_id, status, audio, video, transcript, egress_id, file_key,
         requested_by, started_at, ended_at, error, stop_deadline)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (call_id) WHERE status IN ('starting', 'recording') DO NOTHING`,
      [r.id, r.callId, r.tenantId, r.roomId, r.status, r.audio, r.video, r.transcript, r.egressId, r.fileKey, r.requestedBy,
        r.startedAt, r.endedAt, r.error, r.stopDeadline],
    );
    return inserted.rowCount === 1;
  }

  async discard(recordingId: string): Promise<void> {
    await this.db.query("DELETE FROM recordings WHERE id = $1", [recordingId]);
  }

  async setEgressId(recordingId: string, egressId: string): Promise<void> {
    await this.db.query("UPDATE recordings SET egress_id = $2 WHERE id = $1", [recordingId, egressId]);
  }

  findById(id: string): Promise<Recording | undefined> {
    return this.one(`${SELECT} WHERE r.id = $1`, [id]);
  }

  findByEgressId(egressId: string): Promise<Recording | undefined> {
    return this.one(`${SELECT} WHERE r.egress_id = $1`, [egressId]);
  }

  findActive(callId: string): Promise<Recording | undefined> {
    return this.one(`${SELECT} WHERE r.call_id = $1 AND ${ACTIVE}`, [callId]);
  }

  findLatest(callId: string): Promise<Recording | undefined> {
    return this.one(`${SELECT} WHERE r.call_id = $1 ORDER BY r.started_at DESC, r.id DESC LIMIT 1`, [callId]);
  }

  async listForCalls(callIds: readonly string[]): Promise<Recording[]> {
    if (callIds.length === 0) return [];
    return this.many(`${SELECT} WHERE r.call_id = ANY($1::text[]) ORDER BY r.started_at, r.id`, [callIds]);
  }

  listPastDeadline(now: number): Promise<Recording[]> {
    return this.many(`${SELECT} WHERE ${ACTIVE} AND r.stop_deadline <= $1 ORDER BY r.stop_deadline`, [now]);
  }

  async save(before: Recording, after: Recording): Promise<void> {
    await this.db.query("UPDATE recordings SET status = $2, ended_at = $3, error = $4 WHERE id = $1", [after.id, after.status, after.endedAt, after.error]);
    const m = after.media;
    if (m && !before.media) {
      await this.db.query(
        `INSERT INTO media (id, recording_id, bucket, key, mime_type, size_bytes, duration_ms, started_at, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [m.id, after.id, m.bucket, m.key, m.mimeType, m.sizeBytes, m.durationMs, m.startedAt, m.endedAt],
      );
    }
  }

  private async one(sql: string, params: unknown[]): Promise<Recording | undefined> {
    const { rows } = await this.db.query<RecordingRow>(sql, params);
    return rows[0] && hydrate(rows[0]);
  }

  private async many(sql: string, params: unknown[]): Promise<Recording[]> {
    const { rows } = await this.db.query<RecordingRow>(sql, params);
    return rows.map(hydrate);
  }
}

function hydrate(row: RecordingRow): Recording {
  return recordingFromColumns(row, row.media);
}
