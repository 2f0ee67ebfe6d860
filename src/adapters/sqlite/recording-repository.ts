import type { Statement } from "better-sqlite3";
import type { OutboundEvent } from "../../app/events.js";
import type { RecordingRepository } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import type { MediaEntry, Recording, RecordingEventType, RecordingStatus, RecordingTransition } from "../../domain/recording.js";
import type { SqliteDatabase } from "./database.js";
import { enlistWrite } from "./group-commit.js";

interface RecordingRow {
  id: string;
  call_id: string;
  tenant_id: string;
  room_id: string;
  status: RecordingStatus;
  audio: number;
  video: number;
  transcript: number;
  egress_id: string | null;
  file_key: string;
  requested_by: string;
  started_at: number;
  ended_at: number | null;
  error: string | null;
  stop_deadline: number;
}

interface MediaRow {
  id: string;
  recording_id: string;
  bucket: string;
  key: string;
  mime_type: string;
  size_bytes: number;
  duration_ms: number;
  started_at: number;
  ended_at: number;
}

export interface RecordingRepositoryOptions {
  /** The event of a recording change, written to the outbox in the change's transaction. */
  readonly event: (type: RecordingEventType, recording: Recording) => OutboundEvent;
  /**
   * Called after a commit of its own that wrote events. With a
   * GroupCommit attached (the service) writes commit with their group, which
   * tells the relay instead; this is for a repository used on its own.
   */
  readonly afterCommit?: () => void;
}

const ACTIVE = "status IN ('starting', 'recording')";

export class SqliteRecordingRepository implements RecordingRepository {
  private readonly stmt: {
    insert: Statement<RecordingRow>;
    discard: Statement<[string]>;
    setEgress: Statement<[string, string]>;
    byId: Statement<[string], RecordingRow>;
    byEgress: Statement<[string], RecordingRow>;
    active: Statement<[string], RecordingRow>;
    latest: Statement<[string], RecordingRow>;
    forCall: Statement<[string], RecordingRow>;
    pastDeadline: Statement<[number], RecordingRow>;
    update: Statement<Pick<RecordingRow, "id" | "status" | "ended_at" | "error">>;
    media: Statement<[string], MediaRow>;
    insertMedia: Statement<MediaRow>;
    insertEvent: Statement<[string, string, string, number]>;
  };

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: RecordingRepositoryOptions,
  ) {
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
      forCall: db.prepare("SELECT * FROM recordings WHERE call_id = ? ORDER BY started_at, id"),
      pastDeadline: db.prepare(`SELECT * FROM recordings WHERE ${ACTIVE} AND stop_deadline <= ? ORDER BY stop_deadline`),
      update: db.prepare("UPDATE recordings SET status = @status, ended_at = @ended_at, error = @error WHERE id = @id"),
      media: db.prepare("SELECT * FROM media WHERE recording_id = ?"),
      insertMedia: db.prepare(
        `INSERT INTO media (id, recording_id, bucket, key, mime_type, size_bytes, duration_ms, started_at, ended_at)
         VALUES (@id, @recording_id, @bucket, @key, @mime_type, @size_bytes, @duration_ms, @started_at, @ended_at)`,
      ),
      insertEvent: db.prepare("INSERT INTO outbox (id, subject, payload, created_at) VALUES (?, ?, ?, ?)"),
    };
  }

  insert(recording: Recording): boolean {
    try {
      this.stmt.insert.run(toRow(recording));
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") return false;
      throw err;
    }
  }

  discard(recordingId: string): void {
    this.stmt.discard.run(recordingId);
  }

  setEgressId(recordingId: string, egressId: string): void {
    this.stmt.setEgress.run(egressId, recordingId);
  }

  findById(id: string): Recording | undefined {
    return this.hydrate(this.stmt.byId.get(id));
  }

  findByEgressId(egressId: string): Recording | undefined {
    return this.hydrate(this.stmt.byEgress.get(egressId));
  }

  findActive(callId: string): Recording | undefined {
    return this.hydrate(this.stmt.active.get(callId));
  }

  findLatest(callId: string): Recording | undefined {
    return this.hydrate(this.stmt.latest.get(callId));
  }

  listForCall(callId: string): Recording[] {
    return this.stmt.forCall.all(callId).map((r) => this.hydrate(r)!);
  }

  listPastDeadline(now: number): Recording[] {
    return this.stmt.pastDeadline.all(now).map((r) => this.hydrate(r)!);
  }

  update(
    recordingId: string,
    change: (r: Recording) => RecordingTransition,
    alsoInTransaction?: (r: Recording) => void,
  ): RecordingTransition {
    enlistWrite(this.db);
    const transition = this.db
      .transaction(() => {
        const current = this.findById(recordingId);
        if (!current) throw new CallError(CallErrorCode.NotFound, `recording ${recordingId} not found`);
        const next = change(current);
        if (next.recording === current) return next;
        const { id, status, ended_at, error } = toRow(next.recording);
        this.stmt.update.run({ id, status, ended_at, error });
        const media = next.recording.media;
        if (media && !current.media) this.stmt.insertMedia.run(mediaRow(next.recording.id, media));
        if (next.event) {
          const e = this.options.event(next.event, next.recording);
          this.stmt.insertEvent.run(e.id, e.subject, e.payload, e.createdAt);
        }
        alsoInTransaction?.(next.recording);
        return next;
      })
      .immediate();
    if (transition.event && !this.db.inTransaction) this.options.afterCommit?.();
    return transition;
  }

  private hydrate(row: RecordingRow | undefined): Recording | undefined {
    if (!row) return undefined;
    const media = this.stmt.media.get(row.id);
    return {
      id: row.id,
      callId: row.call_id,
      tenantId: row.tenant_id,
      roomId: row.room_id,
      status: row.status,
      audio: row.audio === 1,
      video: row.video === 1,
      transcript: row.transcript === 1,
      egressId: row.egress_id,
      fileKey: row.file_key,
      requestedBy: row.requested_by,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      error: row.error,
      stopDeadline: row.stop_deadline,
      media: media
        ? {
            id: media.id,
            bucket: media.bucket,
            key: media.key,
            mimeType: media.mime_type,
            sizeBytes: media.size_bytes,
            durationMs: media.duration_ms,
            startedAt: media.started_at,
            endedAt: media.ended_at,
          }
        : null,
    };
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
