import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger, TranscriptionEngine, TranscriptionOutput } from "../../app/ports.js";
import { WhisperProcess } from "./whisper-process.js";

export interface WhisperEngineOptions {
  /** The folder scripts/setup-whisper.sh installs into: `venv-whisper/` and `models/`. */
  readonly home: string;
  readonly model: "base" | "tiny.en";
  /** A Whisper language code; undefined: detected per recording. */
  readonly language: string | undefined;
  /** CPU threads of each engine process. */
  readonly threads: number;
  /** Engine processes at most, each running one job at a time (the worker's concurrency). */
  readonly processes: number;
  /** A job may take this long plus its audio's length (real-time speed). */
  readonly timeoutMs: number;
  /** An engine silent this long mid-job is hung, and killed. */
  readonly stallMs: number;
  readonly logger: Logger;
  /** Loading the model longer than this is a failed start. */
  readonly startTimeoutMs?: number;
  /** `whisper_engine.py`; found beside this module by default. */
  readonly script?: string;
}

/** 16 kHz × 16-bit mono. */
const WAV_BYTES_PER_SECOND = 32_000;

/**
 * The local engine: Whisper through faster-whisper, in long-lived Python
 * processes (`whisper_engine.py`) that load the model once. One process per
 * job in flight, at most `processes` (the worker's concurrency); more jobs wait
 * for one. Processes start on the first job that needs one and stay for the
 * next. A process that dies, hangs or outlives a job's limit is killed and
 * dropped; the job fails with the reason and the job queue retries it (with
 * its backoff) on a fresh process.
 */
export class WhisperEngine implements TranscriptionEngine {
  readonly name = "local";
  private readonly idle: WhisperProcess[] = [];
  private readonly all = new Set<WhisperProcess>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: WhisperEngineOptions) {}

  /** The engine processes' ids (running or starting), for operators and tests. */
  pids(): number[] {
    return [...this.all].flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
  }

  async transcribe(wavPath: string, signal?: AbortSignal, onProgress?: (share: number) => void): Promise<TranscriptionOutput> {
    const audioSeconds = Math.max(0, ((await stat(wavPath)).size - 44) / WAV_BYTES_PER_SECOND);
    const engine = await this.acquire(signal);
    try {
      const result = await engine.run({
        wav: wavPath,
        language: this.options.language,
        timeoutMs: this.options.timeoutMs + audioSeconds * 1000,
        stallMs: this.options.stallMs,
        onProgress,
        signal,
      });
      // Whisper may place a last cue's end past the audio: every cue stays inside the recording.
      const end = result.duration || audioSeconds;
      const segments = result.segments
        .filter((s) => s.text !== "")
        .map((s) => ({ start: Math.min(s.start, end), end: Math.min(Math.max(s.end, s.start), end), text: s.text }));
      return { text: segments.map((s) => s.text).join(" "), segments, language: result.language };
    } finally {
      this.release(engine);
    }
  }

  /** Stops every engine process (the worker is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.all].map((p) => p.close()));
  }

  private async acquire(signal: AbortSignal | undefined): Promise<WhisperProcess> {
    for (;;) {
      if (this.closed) throw new Error("the transcription engine is stopped");
      signal?.throwIfAborted();
      const idle = this.idle.pop();
      if (idle?.usable) return idle;
      if (idle) {
        this.all.delete(idle); // died while idle
        continue;
      }
      if (this.all.size < this.options.processes) return this.start();
      await new Promise<void>((wake) => {
        this.waiting.push(wake);
        signal?.addEventListener("abort", () => wake(), { once: true });
      });
    }
  }

  private release(engine: WhisperProcess): void {
    if (engine.usable && !this.closed) this.idle.push(engine);
    else this.all.delete(engine);
    this.waiting.shift()?.();
  }

  private async start(): Promise<WhisperProcess> {
    const { home, model, threads, logger } = this.options;
    const python = join(home, "venv-whisper", "bin", "python");
    if (!existsSync(python)) {
      throw new Error(`the local transcription engine is not installed (no ${python}); install it with \`npm run setup:whisper\``);
    }
    const script = this.options.script ?? defaultEngineScript();
    const engine = new WhisperProcess({ python, script, home, model, threads, startTimeoutMs: this.options.startTimeoutMs ?? 120_000 });
    this.all.add(engine);
    const started = Date.now();
    try {
      await engine.whenReady();
    } catch (err) {
      this.all.delete(engine);
      this.waiting.shift()?.();
      throw err;
    }
    logger.info({ model, threads, pid: engine.pid, loadMs: Date.now() - started }, "transcription engine started");
    return engine;
  }
}

/**
 * `whisper_engine.py` ships beside this module in the sources
 * (`<repo>/src/adapters/transcription/`); `tsc` does not copy it into a build
 * (`<repo>/dist/src/adapters/transcription/`), which finds it in the sources.
 */
export function defaultEngineScript(here = import.meta.dirname): string {
  const candidates = [resolve(here, "whisper_engine.py"), resolve(here, "..", "..", "..", "..", "src", "adapters", "transcription", "whisper_engine.py")];
  return candidates.find((path) => existsSync(path)) ?? (candidates[0] as string);
}
