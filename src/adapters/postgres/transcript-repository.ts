import type { TranscriptRepository, TranscriptResult } from "../../app/ports.js";
import type { Recording } from "../../domain/recording.js";
import type { Segment, Transcript } from "../../domain/transcript.js";
import { transcriptFromColumns, type TranscriptColumns } from "../rows.js";
import type { Queryable } from "./queryable.js";

/** JSONB, parsed by the driver. */
type TranscriptRow = TranscriptColumns & { segments: Segment[] };

export class PostgresTranscriptRepository implements TranscriptRepository {
  constructor(private readonly db: Queryable) {}

  async createPending(recording: Recording, now: number): Promise<boolean> {
    const inserted = await this.db.query(
      `INSERT INTO transcripts (recording_id, call_id, tenant_id, room_id, status, updated_at)
       VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (recording_id) DO NOTHING`,
      [recording.id, recording.callId, recording.tenantId, recording.roomId, now],
    );
    return inserted.rowCount === 1;
  }

  async find(recordingId: string): Promise<Transcript | undefined> {
    const { rows } = await this.db.query<TranscriptRow>("SELECT * FROM transcripts WHERE recording_id = $1", [recordingId]);
    return rows[0] && hydrate(rows[0]);
  }

  async findMany(recordingIds: readonly string[]): Promise<Transcript[]> {
    if (recordingIds.length === 0) return [];
    const { rows } = await this.db.query<TranscriptRow>("SELECT * FROM transcripts WHERE recording_id = ANY($1::text[])", [recordingIds]);
    return rows.map(hydrate);
  }

  async recordAttempt(recordingId: string, attempt: number, now: number): Promise<void> {
    await this.db.query("UPDATE transcripts SET attempts = greatest(attempts, $2), progress = 0, updated_at = $3 WHERE recording_id = $1", [
      recordingId,
      attempt,
      now,
    ]);
  }

  async recordProgress(recordingId: string, progress: number, now: number): Promise<void> {
    await this.db.query("UPDATE transcripts SET progress = $2, updated_at = $3 WHERE recording_id = $1 AND status = 'pending'", [recordingId, progress, now]);
  }

  async complete(recordingId: string, result: TranscriptResult, now: number): Promise<boolean> {
    const updated = await this.db.query(
      `UPDATE transcripts SET status = 'ready', engine = $2, text = $3, segments = $4::jsonb, vtt_key = $5, txt_key = $6,
         error = NULL, language = $8, progress = 1, updated_at = $7 WHERE recording_id = $1 AND status = 'pending'`,
      [recordingId, result.engine, result.text, JSON.stringify(result.segments), result.vttKey, result.txtKey, now, result.language],
    );
    return updated.rowCount === 1;
  }

  async fail(recordingId: string, error: string, now: number): Promise<boolean> {
    const updated = await this.db.query(
      "UPDATE transcripts SET status = 'failed', error = $2, updated_at = $3 WHERE recording_id = $1 AND status = 'pending'",
      [recordingId, error, now],
    );
    return updated.rowCount === 1;
  }
}

function hydrate(row: TranscriptRow): Transcript {
  return transcriptFromColumns(row, row.segments);
}
