import { isLive, type Call } from "../domain/call.js";
import { CallError, CallErrorCode } from "../domain/errors.js";
import { callIdOfRoom, liveKitRoomName, timeSortableId } from "../domain/ids.js";
import { mayManageRecording } from "../domain/permissions.js";
import {
  egressActive,
  isActiveRecording,
  recordingCompleted,
  recordingFailed,
  recordingKey,
  stopRequested,
  type MediaEntry,
  type Recording,
  type RecordingTransition,
} from "../domain/recording.js";
import type { Transcript } from "../domain/transcript.js";
import { transcribeJob, type CallEventFactory } from "./events.js";
import type { Caller, Clock, EgressService, Logger, ObjectStore, Store, StoreReads, StoreTransaction } from "./ports.js";
import { requireMember } from "./membership.js";

/** A recording as a client sees it: with a short-lived download URL once it is ready. */
export interface RecordingView {
  readonly recording: Recording;
  readonly downloadUrl: string | null;
  readonly downloadUrlExpiresAt: number | null;
  /** With download URLs for its WebVTT and text files once ready. */
  readonly transcript: { readonly transcript: Transcript; readonly vttUrl: string | null; readonly txtUrl: string | null } | null;
}

/** What LiveKit said about an egress (from its webhooks). */
export interface EgressNotice {
  readonly egressId: string;
  readonly roomName: string;
  readonly status: "starting" | "active" | "ending" | "complete" | "failed" | "aborted" | "limit_reached";
  readonly error: string;
  /** Where the egress was asked to write (the recording's file key), when LiveKit's report carries its request. */
  readonly filepath?: string | undefined;
  readonly file?: { readonly durationNs: number; readonly startedAtNs: number; readonly endedAtNs: number } | undefined;
}

export interface RecordingsDeps {
  readonly store: Store;
  /** Builds the recordings' events (appended to the outbox with each change). */
  readonly events: CallEventFactory;
  /** Undefined when object storage is not configured: recordings are then unavailable. */
  readonly egress: EgressService | undefined;
  readonly objects: ObjectStore | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly maxDurationMs: number;
  readonly downloadUrlTtlSeconds: number;
}

export interface RecordingOptions {
  readonly audio: boolean;
  readonly video: boolean;
  readonly transcript: boolean;
}

type RecordingChange = (r: Recording) => RecordingTransition;

/**
 * Recordings through LiveKit egress to object storage: who may start and
 * stop them, one at a time per call, and what LiveKit's egress webhooks do to them.
 */
export class RecordingsUseCases {
  /** Calls whose start() is waiting for LiveKit's egress id (their row has none, or one a webhook adopted). */
  private readonly startsInFlight = new Set<string>();

  constructor(private readonly deps: RecordingsDeps) {}

  async start(caller: Caller, callId: string, options: RecordingOptions): Promise<RecordingView> {
    const { store, clock } = this.deps;
    const call = await this.adminCall(caller, callId);
    if (!isLive(call)) throw new CallError(CallErrorCode.Ended, `call ${call.id} has ended`);
    const { egress } = this.configured();
    if (!(await store.directory.getTenantPolicy(call.tenantId)).recordingsEnabled) {
      throw new CallError(CallErrorCode.RecordingDisabled, "recordings are disabled for this tenant");
    }
    if (!options.audio && !options.video) {
      throw new CallError(CallErrorCode.InvalidArgument, "record audio, video or both");
    }
    const now = clock.now();
    const recording: Recording = {
      id: `rec-${timeSortableId(now)}`,
      callId: call.id,
      tenantId: call.tenantId,
      roomId: call.roomId,
      status: "starting",
      audio: options.audio,
      video: options.video,
      transcript: options.transcript,
      egressId: null,
      fileKey: recordingKey(call.id, now),
      requestedBy: caller.userId,
      startedAt: now,
      endedAt: null,
      error: null,
      stopDeadline: now + this.deps.maxDurationMs,
      media: null,
    };
    // The row claims the call's one active slot before LiveKit is asked, so two starts cannot both run an egress.
    if (!(await store.transaction((tx) => tx.recordings.insert(recording)))) {
      throw new CallError(CallErrorCode.AlreadyRecording, `call ${call.id} is already being recorded`);
    }
    this.startsInFlight.add(call.id);
    let egressId: string;
    try {
      egressId = await egress.start({
        roomName: liveKitRoomName(call.id),
        fileKey: recording.fileKey,
        audioOnly: options.audio && !options.video,
        videoOnly: options.video && !options.audio,
      });
    } catch (err) {
      await store.transaction((tx) => tx.recordings.discard(recording.id));
      throw err;
    } finally {
      this.startsInFlight.delete(call.id);
    }
    await store.transaction((tx) => tx.recordings.setEgressId(recording.id, egressId));
    return this.view((await store.recordings.findById(recording.id)) ?? recording);
  }

  /** Stops the call's recording. Stopping one that is already stopping or finished is harmless. */
  async stop(caller: Caller, callId: string): Promise<RecordingView> {
    const call = await this.adminCall(caller, callId);
    const active = await this.deps.store.recordings.findActive(call.id);
    if (active) return this.view(await this.stopRecording(active, caller.requestId));
    const latest = await this.deps.store.recordings.findLatest(call.id);
    if (latest) return this.view(latest);
    throw new CallError(CallErrorCode.NotRecording, `call ${call.id} is not being recorded`);
  }

  /**
   * For GetCall, ListRecordings and the call lists: the recordings of each of
   * `calls` (in their order, newest last) as views, with download URLs for the
   * finished ones; the caller already authorised. Two queries however
   * many calls and recordings; presigning a URL is local (no request).
   */
  async viewsFor(calls: readonly Call[], reads: StoreReads = this.deps.store): Promise<RecordingView[][]> {
    const recordings = await reads.recordings.listForCalls(calls.map((c) => c.id));
    // Most calls are never recorded: no transcript read, no maps.
    if (recordings.length === 0) return calls.map(() => []);
    const transcripts = new Map((await reads.transcripts.findMany(recordings.map((r) => r.id))).map((t) => [t.recordingId, t]));
    const byCall = new Map<string, RecordingView[]>();
    for (const view of await Promise.all(recordings.map((r) => this.viewOf(r, transcripts.get(r.id))))) {
      const ofCall = byCall.get(view.recording.callId);
      if (ofCall) ofCall.push(view);
      else byCall.set(view.recording.callId, [view]);
    }
    return calls.map((call) => byCall.get(call.id) ?? []);
  }

  /** A call ended (by `requestId`, if a request ended it): its recording stops (LiveKit would end the egress with the room anyway). */
  async stopForCall(callId: string, requestId: string | undefined): Promise<void> {
    try {
      const active = await this.deps.store.recordings.findActive(callId);
      if (active) await this.stopRecording(active, requestId);
    } catch (err) {
      this.deps.logger.warn({ err, callId }, "could not stop the recording of an ended call; the recording limit or reconcile stops it");
    }
  }

  /** Stops recordings that reached RECORDING_MAX_MINUTES. */
  async stopOverdue(): Promise<number> {
    const overdue = await this.deps.store.recordings.listPastDeadline(this.deps.clock.now());
    for (const r of overdue) {
      await this.stopRecording(r, undefined).catch((err: unknown) => {
        this.deps.logger.warn({ err, recordingId: r.id }, "could not stop an overdue recording; retrying");
      });
    }
    return overdue.length;
  }

  /**
   * Applies an egress webhook (received in request `requestId`). A COMPLETE
   * egress is checked in object storage before it becomes a media entry; a
   * replay changes nothing.
   */
  async onEgress(webhookId: string, notice: EgressNotice, requestId?: string): Promise<"processed" | "duplicate" | "ignored"> {
    const { store, clock } = this.deps;
    const recording = await this.recordingOf(notice);
    if (!recording) return "ignored";
    let change: RecordingChange | undefined;
    switch (notice.status) {
      case "active":
        change = egressActive;
        break;
      case "complete": {
        const media = await this.mediaOf(recording, notice);
        const now = clock.now();
        change = media
          ? (r) => recordingCompleted(r, media, now)
          : (r) => recordingFailed(r, "egress completed but the file is not in storage", now);
        break;
      }
      case "failed":
      case "aborted":
      case "limit_reached": {
        const now = clock.now();
        const error = `${notice.status}${notice.error ? `: ${notice.error}` : ""}`;
        change = (r) => recordingFailed(r, error, now);
        break;
      }
      default:
        change = undefined;
    }
    if (!change) return "ignored";
    const apply = change;
    return store.transaction(async (tx) => {
      if (!(await tx.webhooks.record(webhookId, clock.now()))) return "duplicate";
      await this.changeIn(tx, recording.id, apply, requestId);
      return "processed";
    });
  }

  /**
   * Stops egresses LiveKit runs for our rooms that no active recording owns
   * (e.g. one LiveKit started although its start timed out here). Ownership is
   * read from the store after LiveKit's list arrived, per egress, right before
   * stopping it: an egress in the list was asked for after its recording's row
   * was stored, so a recording started while LiveKit was answering is seen.
   */
  async stopOrphanedEgress(): Promise<number> {
    const { egress, logger } = this.deps;
    if (!egress) return 0;
    let stopped = 0;
    for (const running of await egress.listActive()) {
      if (!(await this.isOrphaned(running))) continue;
      await egress.stop(running.egressId);
      logger.warn({ egressId: running.egressId, room: running.roomName }, "stopped an orphaned egress");
      stopped++;
    }
    return stopped;
  }

  /**
   * Asked just before the stop it allows. A start that begins after it asks
   * LiveKit for a new egress, so it cannot own this one (already listed).
   */
  private async isOrphaned(running: { egressId: string; roomName: string }): Promise<boolean> {
    const { recordings } = this.deps.store;
    const callId = callIdOfRoom(running.roomName);
    if (callId === undefined) return false;
    const owner = await recordings.findByEgressId(running.egressId);
    if (owner && isActiveRecording(owner)) return false;
    // A start still waiting for its egress id may be waiting for this egress. Here it may even hold another
    // egress a webhook made it adopt; on another instance sharing the store, its row has no egress id yet.
    if (this.startsInFlight.has(callId)) return false;
    const active = await recordings.findActive(callId);
    return !(active && active.egressId === null);
  }

  private async stopRecording(recording: Recording, requestId: string | undefined): Promise<Recording> {
    if (recording.egressId && this.deps.egress) await this.deps.egress.stop(recording.egressId);
    return (await this.deps.store.transaction((tx) => this.changeIn(tx, recording.id, stopRequested, requestId))).recording;
  }

  /**
   * The one write path of recordings: in `tx`, applies `change`, stores the
   * result and appends its event (naming `requestId`); a recording that became ready and asked for
   * a transcript (of a tenant that allows it) gets its transcription job here,
   * in the same transaction.
   */
  private async changeIn(
    tx: StoreTransaction,
    recordingId: string,
    change: RecordingChange,
    requestId: string | undefined,
  ): Promise<RecordingTransition> {
    const current = await tx.recordings.findById(recordingId);
    if (!current) throw new CallError(CallErrorCode.NotFound, `recording ${recordingId} not found`);
    const next = change(current);
    if (next.recording === current) return next;
    await tx.recordings.save(current, next.recording);
    if (next.event) await tx.outbox.append([this.deps.events.fromRecording(next.event, next.recording, requestId)]);
    const ready = next.recording;
    if (ready.status === "ready" && ready.transcript && (await tx.directory.getTenantPolicy(ready.tenantId)).transcriptionEnabled) {
      const now = this.deps.clock.now();
      if (await tx.transcripts.createPending(ready, now)) await tx.outbox.append([transcribeJob(ready, now)]);
    }
    return next;
  }

  private async recordingOf(notice: EgressNotice): Promise<Recording | undefined> {
    const { store } = this.deps;
    const known = await store.recordings.findByEgressId(notice.egressId);
    if (known) return known;
    // LiveKit may report an egress before its start call returned to us: adopt it for the call's starting recording.
    const callId = callIdOfRoom(notice.roomName);
    if (callId === undefined) return undefined;
    return store.transaction(async (tx) => {
      const active = await tx.recordings.findActive(callId);
      if (!active || active.egressId !== null) return undefined;
      // Only the egress that writes this recording's file: another one in the room (an orphan) is not it.
      if (notice.filepath !== undefined && notice.filepath !== active.fileKey) return undefined;
      await tx.recordings.setEgressId(active.id, notice.egressId);
      return tx.recordings.findById(active.id);
    });
  }

  private async mediaOf(recording: Recording, notice: EgressNotice): Promise<MediaEntry | undefined> {
    const { objects, clock } = this.configured();
    const stat = await objects.stat(recording.fileKey);
    if (!stat) return undefined;
    const file = notice.file;
    const startedAt = file?.startedAtNs ? Math.round(file.startedAtNs / 1e6) : recording.startedAt;
    const endedAt = file?.endedAtNs ? Math.round(file.endedAtNs / 1e6) : clock.now();
    return {
      id: `media-${timeSortableId(clock.now())}`,
      bucket: objects.bucket,
      key: recording.fileKey,
      mimeType: recording.video ? "video/mp4" : "audio/mp4",
      sizeBytes: stat.sizeBytes,
      durationMs: file?.durationNs ? Math.round(file.durationNs / 1e6) : endedAt - startedAt,
      startedAt,
      endedAt,
    };
  }

  private async view(recording: Recording): Promise<RecordingView> {
    return this.viewOf(recording, await this.deps.store.transcripts.find(recording.id));
  }

  private async viewOf(recording: Recording, found: Transcript | undefined): Promise<RecordingView> {
    const objects = this.deps.objects;
    const ttl = this.deps.downloadUrlTtlSeconds;
    const presign = async (key: string | null) => (key && objects ? objects.presignGet(key, ttl) : null);
    const transcript = found
      ? { transcript: found, vttUrl: await presign(found.vttKey), txtUrl: await presign(found.txtKey) }
      : null;
    if (recording.status !== "ready" || !recording.media || !objects) {
      return { recording, downloadUrl: null, downloadUrlExpiresAt: null, transcript };
    }
    return {
      recording,
      downloadUrl: await objects.presignGet(recording.media.key, ttl),
      downloadUrlExpiresAt: this.deps.clock.now() + ttl * 1000,
      transcript,
    };
  }

  private async adminCall(caller: Caller, callId: string): Promise<Call> {
    const { store } = this.deps;
    const call = await store.calls.findCall(caller.tenantId, callId);
    if (!call) throw new CallError(CallErrorCode.NotFound, `call ${callId} not found`);
    const member = await requireMember(store, caller, call.roomId);
    if (!mayManageRecording(member)) {
      throw new CallError(CallErrorCode.Forbidden, "only an admin (power level 100) may start or stop recordings");
    }
    return call;
  }

  private configured(): { egress: EgressService; objects: ObjectStore; clock: Clock } {
    const { egress, objects, clock } = this.deps;
    if (!egress || !objects) {
      throw new CallError(CallErrorCode.RecordingDisabled, "recordings are not configured on this server (S3_*)");
    }
    return { egress, objects, clock };
  }
}
