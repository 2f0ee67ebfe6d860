import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { Segment } from "../../domain/transcript.js";

/** How to start one engine process (`whisper_engine.py serve`). */
export interface WhisperProcessOptions {
  /** The venv's python. */
  readonly python: string;
  readonly script: string;
  /** The folder holding `venv-whisper` and `models/` (what scripts/setup-whisper.sh installs). */
  readonly home: string;
  readonly model: string;
  readonly threads: number;
  /** Loading longer than this is a failure to start (the process is killed). */
  readonly startTimeoutMs: number;
}

export interface WhisperJob {
  readonly wav: string;
  readonly language: string | undefined;
  /** Longer than this in total, the job is given up and the process killed. */
  readonly timeoutMs: number;
  /** No word from the engine for this long mid-job: it is hung, and killed. */
  readonly stallMs: number;
  readonly onProgress: ((share: number) => void) | undefined;
  readonly signal: AbortSignal | undefined;
}

export interface WhisperResult {
  readonly language: string | null;
  readonly duration: number;
  readonly segments: Segment[];
}

/** The process could not run the job (it died, hung, or could not start): the job may be retried on a new one. */
export class EngineProcessFailure extends Error {
  override readonly name = "EngineProcessFailure";
}

interface Pending {
  readonly id: string;
  resolve(result: WhisperResult): void;
  reject(err: Error): void;
  /** Restarts the stall timer (any line from the engine for this job). */
  alive(): void;
  readonly onProgress: ((share: number) => void) | undefined;
}

const STDERR_TAIL_LINES = 5;

/**
 * One long-lived `whisper_engine.py serve` child: the model is loaded once, and
 * jobs go to it one at a time as JSON lines on stdin; progress and the result
 * come back as JSON lines on stdout. A job that outlives its limits, or a
 * process that dies under it, kills the process: it is never used again.
 */
export class WhisperProcess {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly stderrTail: string[] = [];
  private readonly ready: Promise<void>;
  private current: Pending | undefined;
  private nextId = 1;
  private exitReason: string | undefined;
  private readonly exited: Promise<void>;
  /** Why the process cannot take jobs (set once, when it dies or is killed). */
  private broken: string | undefined;

  constructor(options: WhisperProcessOptions) {
    this.child = spawn(
      options.python,
      [options.script, "serve", "--model", options.model, "--home", options.home, "--threads", String(options.threads)],
      {
        stdio: ["pipe", "pipe", "pipe"],
        // Only what the engine needs: the service's secrets stay out of its environment.
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          HOME: process.env["HOME"] ?? options.home,
          LANG: "C.UTF-8",
          HF_HUB_OFFLINE: "1",
          PYTHONUNBUFFERED: "1",
        },
      },
    );
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitReason = signal ? `killed by ${signal}` : `exited with ${code}`;
        this.fail(`the transcription engine ${this.exitReason}${this.stderrSummary()}`);
        resolve();
      });
    });
    this.child.stdin.on("error", () => undefined); // a dead engine's closed pipe: its exit says why
    createInterface({ input: this.child.stderr }).on("line", (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill(`the transcription engine did not load model ${options.model} within ${options.startTimeoutMs} ms`);
      }, options.startTimeoutMs);
      this.onReady = (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.child.once("error", (err) => this.kill(`the transcription engine could not start: ${err.message}`));
    });
    // An engine that dies before any job asked for it must not be an unhandled rejection.
    this.ready.catch(() => undefined);
    createInterface({ input: this.child.stdout }).on("line", (line) => this.onLine(line));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** False once the process died or was killed: it takes no more jobs. */
  get usable(): boolean {
    return this.broken === undefined;
  }

  /** Resolves once the model is loaded; rejects (EngineProcessFailure) if it never is. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Runs one job; the process must be ready and idle. */
  run(job: WhisperJob): Promise<WhisperResult> {
    if (this.broken) return Promise.reject(new EngineProcessFailure(this.broken));
    if (this.current) return Promise.reject(new Error("the transcription engine is busy (one job at a time)"));
    const id = `j${this.nextId++}`;
    return new Promise<WhisperResult>((resolve, reject) => {
      let stall: NodeJS.Timeout | undefined;
      const total = setTimeout(() => this.kill(`the transcription took longer than ${Math.round(job.timeoutMs / 1000)} s; the engine was killed`), job.timeoutMs);
      const abort = () => this.kill(`the transcription was cancelled (${String(job.signal?.reason ?? "aborted")})`);
      const done = () => {
        clearTimeout(total);
        clearTimeout(stall);
        job.signal?.removeEventListener("abort", abort);
        this.current = undefined;
      };
      this.current = {
        id,
        onProgress: job.onProgress,
        alive: () => {
          clearTimeout(stall);
          stall = setTimeout(
            () => this.kill(`the transcription engine made no progress for ${Math.round(job.stallMs / 1000)} s (hung); it was killed`),
            job.stallMs,
          );
        },
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      this.current.alive();
      if (job.signal?.aborted) return abort();
      job.signal?.addEventListener("abort", abort, { once: true });
      this.child.stdin.write(`${JSON.stringify({ id, wav: job.wav, ...(job.language && { language: job.language }) })}\n`);
    });
  }

  /** Kills the process (SIGKILL: a hung engine may not heed anything else); its job fails with `reason`. */
  kill(reason: string): void {
    this.fail(reason);
    if (this.exitReason === undefined) this.child.kill("SIGKILL");
  }

  /** Asks the engine to finish (stdin closed) and waits; killed if it takes longer than `graceMs`. */
  async close(graceMs = 2000): Promise<void> {
    if (this.exitReason === undefined) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.kill("the transcription engine was stopped"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.fail("the transcription engine was stopped");
  }

  private onReady: (err?: Error) => void = () => undefined;

  private fail(reason: string): void {
    this.broken ??= reason;
    const err = new EngineProcessFailure(reason);
    this.onReady(err);
    this.current?.reject(err);
  }

  private onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not the protocol: the engine keeps its own output on stderr, so this is noise
    }
    if (message["ready"] !== undefined) return this.onReady();
    if (typeof message["fatal"] === "string") return this.kill(`the transcription engine cannot start: ${message["fatal"]}`);
    const job = this.current;
    if (!job || message["id"] !== job.id) return;
    job.alive();
    if (typeof message["progress"] === "number") job.onProgress?.(message["progress"]);
    else if (typeof message["error"] === "string") job.reject(new Error(`the transcription engine failed: ${message["error"]}`));
    else job.resolve(parseResult(message));
  }

  private stderrSummary(): string {
    const tail = this.stderrTail.join(" | ").trim();
    return tail ? `: ${tail.slice(-500)}` : "";
  }
}

function parseResult(message: Record<string, unknown>): WhisperResult {
  const segments = Array.isArray(message["segments"]) ? (message["segments"] as Record<string, unknown>[]) : [];
  return {
    language: typeof message["language"] === "string" ? message["language"] : null,
    duration: Number(message["duration"]) || 0,
    segments: segments.map((s) => ({ start: Number(s["start"]) || 0, end: Number(s["end"]) || 0, text: String(s["text"] ?? "").trim() })),
  };
}
