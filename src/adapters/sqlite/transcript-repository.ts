import type { Statement } from "better-sqlite3";
import type { TranscriptRepository, TranscriptResult } from "../../app/ports.js";
import type { Recording } from "../../domain/recording.js";
import type { Segment, Transcript } from "../../domain/transcript.js";
import { transcriptFromColumns, type TranscriptColumns } from "../rows.js";
import type { SqliteDatabase } from "./database.js";

/** JSON text in SQLite. */
type TranscriptRow = TranscriptColumns & { segments: string };

export class SqliteTranscriptRepository implements TranscriptRepository {
  private readonly stmt: {
    insert: Statement<[string, string, string, string, number]>;
    find: Statement<[string], TranscriptRow>;
    findMany: Statement<[string], TranscriptRow>;
    attempt: Statement<[number, number, string]>;
    progress: Statement<[number, number, string]>;
    complete: Statement<[string, string | null, string, string, string, string, number, string]>;
    fail: Statement<[string, number, string]>;
  };

  constructor(db: SqliteDatabase) {
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO transcripts (recording_id, call_id, tenant_id, room_id, status, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (recording_id) DO NOTHING`,
      ),
      find: db.prepare("SELECT * FROM transcripts WHERE recording_id = ?"),
      findMany: db.prepare("SELECT * FROM transcripts WHERE recording_id IN (SELECT value FROM json_each(?))"),
      attempt: db.prepare("UPDATE transcripts SET attempts = max(attempts, ?), progress = 0, updated_at = ? WHERE recording_id = ?"),
      progress: db.prepare("UPDATE transcripts SET progress = ?, updated_at = ? WHERE recording_id = ? AND status = 'pending'"),
      complete: db.prepare(
        `UPDATE transcripts SET status = 'ready', engine = ?, language = ?, text = ?, segments = ?, vtt_key = ?, txt_key = ?,
           error = NULL, progress = 1, updated_at = ? WHERE recording_id = ? AND status = 'pending'`,
      ),
      fail: db.prepare(
        "UPDATE transcripts SET status = 'failed', error = ?, updated_at = ? WHERE recording_id = ? AND status = 'pending'",
      ),
    };
  }

  createPending(recording: Recording, now: number): Promise<boolean> {
    const inserted = this.stmt.insert.run(recording.id, recording.callId, recording.tenantId, recording.roomId, now);
    return Promise.resolve(inserted.changes > 0);
  }

  find(recordingId: string): Promise<Transcript | undefined> {
    const row = this.stmt.find.get(recordingId);
    return Promise.resolve(row && hydrate(row));
  }

  /** Any number of ids is one JSON array parameter. */
  findMany(recordingIds: readonly string[]): Promise<Transcript[]> {
    if (recordingIds.length === 0) return Promise.resolve([]);
    return Promise.resolve(this.stmt.findMany.all(JSON.stringify(recordingIds)).map(hydrate));
  }

  recordAttempt(recordingId: string, attempt: number, now: number): Promise<void> {
    this.stmt.attempt.run(attempt, now, recordingId);
    return Promise.resolve();
  }

  recordProgress(recordingId: string, progress: number, now: number): Promise<void> {
    this.stmt.progress.run(progress, now, recordingId);
    return Promise.resolve();
  }

  complete(recordingId: string, result: TranscriptResult, now: number): Promise<boolean> {
    const { changes } = this.stmt.complete.run(
      result.engine,
      result.language,
      result.text,
      JSON.stringify(result.segments),
      result.vttKey,
      result.txtKey,
      now,
      recordingId,
    );
    return Promise.resolve(changes > 0);
  }

  fail(recordingId: string, error: string, now: number): Promise<boolean> {
    return Promise.resolve(this.stmt.fail.run(error, now, recordingId).changes > 0);
  }
}

function hydrate(row: TranscriptRow): Transcript {
  return transcriptFromColumns(row, JSON.parse(row.segments) as Segment[]);
}
