import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toPlainText, toWebVtt, transcriptKeys } from "../domain/transcript.js";
import type { CallEventFactory } from "./events.js";
import type { AudioExtractor, Clock, Logger, ObjectStore, Store, StoreTransaction, TranscriptionEngine, TranscriptResult } from "./ports.js";

export interface TranscriptionDeps {
  readonly store: Store;
  /** Builds `swp.call.transcript` / `swp.call.transcript_failed` (appended with the transcript's change). */
  readonly events: CallEventFactory;
  /** The bucket named in the transcript event, and where its text is cut. */
  readonly event: { readonly bucket: string; readonly maxChars: number };
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly audio: AudioExtractor;
  readonly engine: TranscriptionEngine;
  readonly logger: Logger;
}

export type JobOutcome = "done" | "already-done" | "failed-for-good";

/**
 * One transcription job: download the recording, extract 16 kHz mono audio,
 * transcribe, store WebVTT and text beside the recording and in the store,
 * and post the transcript to the room. Safe to run twice (a redelivery after
 * a crash): a finished transcript is not redone and never posted again.
 */
export class TranscriptionJobs {
  constructor(private readonly deps: TranscriptionDeps) {}

  /**
   * Throws to ask for a retry; on the last attempt a failure is recorded
   * instead (status `failed`, `swp.call.transcript_failed`).
   */
  async process(recordingId: string, attempt: number, lastAttempt: boolean, signal?: AbortSignal): Promise<JobOutcome> {
    const { store, clock, logger } = this.deps;
    const transcript = await store.transcripts.find(recordingId);
    if (!transcript || transcript.status !== "pending") return "already-done";
    await store.transaction((tx) => tx.transcripts.recordAttempt(recordingId, attempt, clock.now()));
    try {
      const recording = await store.recordings.findById(recordingId);
      if (!recording?.media) throw new Error(`recording ${recordingId} has no stored file`);
      const result = await this.transcribe(recordingId, recording.media.key, signal);
      return (await this.finish(recordingId, (tx) => tx.transcripts.complete(recordingId, result, clock.now()))) ? "done" : "already-done";
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (!lastAttempt) {
        logger.warn({ err, recordingId, attempt }, "transcription failed; it will be retried");
        throw err;
      }
      logger.error({ err, recordingId, attempt }, "transcription failed for good");
      await this.finish(recordingId, (tx) => tx.transcripts.fail(recordingId, reason, clock.now()));
      return "failed-for-good";
    }
  }

  /** A pending transcript's end (result or failure) and the event telling the room, in one transaction. */
  private finish(recordingId: string, change: (tx: StoreTransaction) => Promise<boolean>): Promise<boolean> {
    return this.deps.store.transaction(async (tx) => {
      if (!(await change(tx))) return false;
      const finished = await tx.transcripts.find(recordingId);
      if (!finished) return false;
      // A worker's job: no request caused it.
      const event = this.deps.events.fromTranscript(finished, this.deps.event.bucket, this.deps.event.maxChars, undefined);
      await tx.outbox.append([event]);
      return true;
    });
  }

  /**
   * Stores how far a running job got, for the transcript's status: one write
   * at a time, each at least a whole percent past the last. A failed write is
   * logged, never the job's failure.
   */
  private progressRecorder(recordingId: string): { report(share: number): void; settled(): Promise<void> } {
    const { store, clock, logger } = this.deps;
    let written = 0;
    let writes = Promise.resolve();
    return {
      report: (share) => {
        const value = Math.min(1, Math.max(0, share));
        if (value < written + 0.01) return;
        written = value;
        writes = writes
          .then(() => store.transaction((tx) => tx.transcripts.recordProgress(recordingId, value, clock.now())))
          .catch((err: unknown) => logger.warn({ err, recordingId }, "could not store the transcription's progress"));
      },
      settled: () => writes,
    };
  }

  private async transcribe(recordingId: string, mediaKey: string, signal: AbortSignal | undefined): Promise<TranscriptResult> {
    const { objects: store, audio, engine } = this.deps;
    const dir = await mkdtemp(join(tmpdir(), "scaiwave-transcribe-"));
    try {
      const media = join(dir, "recording.mp4");
      const wav = join(dir, "audio-16k-mono.wav");
      await store.download(mediaKey, media);
      await audio.toWav16kMono(media, wav);
      const progress = this.progressRecorder(recordingId);
      const heard = await engine.transcribe(wav, signal, (share) => progress.report(share)).finally(() => progress.settled());
      const { segments } = heard;
      const keys = transcriptKeys(mediaKey);
      const text = toPlainText(segments);
      await store.upload(keys.vtt, toWebVtt(segments), "text/vtt; charset=utf-8");
      await store.upload(keys.txt, `${text}\n`, "text/plain; charset=utf-8");
      return { engine: engine.name, language: heard.language ?? null, text, segments, vttKey: keys.vtt, txtKey: keys.txt };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
