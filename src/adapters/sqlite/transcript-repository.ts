import type { Statement } from "better-sqlite3";
import type { OutboundEvent } from "../../app/events.js";
import type { TranscriptRepository, TranscriptResult } from "../../app/ports.js";
import type { Recording } from "../../domain/recording.js";
import type { Segment, Transcript, TranscriptStatus } from "../../domain/transcript.js";
import type { SqliteDatabase } from "./database.js";
import { enlistWrite } from "./group-commit.js";

interface TranscriptRow {
  recording_id: string;
  call_id: string;
  tenant_id: string;
  room_id: string;
  status: TranscriptStatus;
  engine: string | null;
  text: string | null;
  segments: string;
  vtt_key: string | null;
  txt_key: string | null;
  attempts: number;
  error: string | null;
}

export interface TranscriptRepositoryOptions {
  /** The job message for a recording (subject swp.jobs.transcribe). */
  readonly job: (recording: Recording) => OutboundEvent;
  /** `swp.call.transcript` / `swp.call.transcript_failed` for a finished transcript. */
  readonly event: (transcript: Transcript) => OutboundEvent;
  readonly clock: () => number;
  /**
   * Called after a commit of its own that wrote events. With a
   * GroupCommit attached (the service) writes commit with their group, which
   * tells the relay instead; this is for a repository used on its own.
   */
  readonly afterCommit?: () => void;
}

export class SqliteTranscriptRepository implements TranscriptRepository {
  private readonly stmt: {
    insert: Statement<[string, string, string, string, number]>;
    find: Statement<[string], TranscriptRow>;
    attempt: Statement<[number, number, string]>;
    complete: Statement<[string, string, string, string, string, number, string]>;
    fail: Statement<[string, number, string]>;
    insertOutbox: Statement<[string, string, string, number]>;
  };

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: TranscriptRepositoryOptions,
  ) {
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO transcripts (recording_id, call_id, tenant_id, room_id, status, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (recording_id) DO NOTHING`,
      ),
      find: db.prepare("SELECT * FROM transcripts WHERE recording_id = ?"),
      attempt: db.prepare("UPDATE transcripts SET attempts = max(attempts, ?), updated_at = ? WHERE recording_id = ?"),
      complete: db.prepare(
        `UPDATE transcripts SET status = 'ready', engine = ?, text = ?, segments = ?, vtt_key = ?, txt_key = ?,
           error = NULL, updated_at = ? WHERE recording_id = ? AND status = 'pending'`,
      ),
      fail: db.prepare(
        "UPDATE transcripts SET status = 'failed', error = ?, updated_at = ? WHERE recording_id = ? AND status = 'pending'",
      ),
      insertOutbox: db.prepare("INSERT INTO outbox (id, subject, payload, created_at) VALUES (?, ?, ?, ?)"),
    };
  }

  enqueue(recording: Recording): void {
    const now = this.options.clock();
    const inserted = this.stmt.insert.run(recording.id, recording.callId, recording.tenantId, recording.roomId, now);
    if (inserted.changes === 0) return;
    const job = this.options.job(recording);
    this.stmt.insertOutbox.run(job.id, job.subject, job.payload, job.createdAt);
  }

  find(recordingId: string): Transcript | undefined {
    const row = this.stmt.find.get(recordingId);
    return row && hydrate(row);
  }

  recordAttempt(recordingId: string, attempt: number): void {
    this.stmt.attempt.run(attempt, this.options.clock(), recordingId);
  }

  complete(recordingId: string, result: TranscriptResult): boolean {
    return this.finish(() =>
      this.stmt.complete.run(
        result.engine,
        result.text,
        JSON.stringify(result.segments),
        result.vttKey,
        result.txtKey,
        this.options.clock(),
        recordingId,
      ).changes,
      recordingId,
    );
  }

  fail(recordingId: string, error: string): boolean {
    return this.finish(() => this.stmt.fail.run(error, this.options.clock(), recordingId).changes, recordingId);
  }

  /** The change and its event in one transaction; nothing (and no event) when it was already finished. */
  private finish(change: () => number, recordingId: string): boolean {
    enlistWrite(this.db);
    const done = this.db
      .transaction(() => {
        if (change() === 0) return false;
        const transcript = this.find(recordingId);
        if (!transcript) return false;
        const event = this.options.event(transcript);
        this.stmt.insertOutbox.run(event.id, event.subject, event.payload, event.createdAt);
        return true;
      })
      .immediate();
    if (done && !this.db.inTransaction) this.options.afterCommit?.();
    return done;
  }
}

function hydrate(row: TranscriptRow): Transcript {
  return {
    recordingId: row.recording_id,
    callId: row.call_id,
    tenantId: row.tenant_id,
    roomId: row.room_id,
    status: row.status,
    engine: row.engine,
    text: row.text,
    segments: JSON.parse(row.segments) as Segment[],
    vttKey: row.vtt_key,
    txtKey: row.txt_key,
    attempts: row.attempts,
    error: row.error,
  };
}
