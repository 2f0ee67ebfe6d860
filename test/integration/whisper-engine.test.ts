import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WhisperEngine, type WhisperEngineOptions } from "../../src/adapters/transcription/whisper-engine.js";
import { concatenate, speak, wordsHeard } from "../support/speech.js";

/**
 * The local engine's adapter against the real engine (faster-whisper in the
 * venv that scripts/setup-whisper.sh installs): real speech, a dead and a hung
 * engine process, bad input, a missing install and a tampered model.
 */

const home = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
const SENTENCES = [
  "Good morning everyone, thank you for joining the weekly planning call.",
  "Today we will review the release schedule and the open support tickets.",
  "Please send your notes to the team before the end of the day.",
];
const REFERENCE = SENTENCES.join(" ");

let dir: string;
let speech: string;
let speechSeconds: number;
/** The same three sentences six times (~80 s): Whisper decodes 30 s at a time, so its first progress comes long before its end. */
let longSpeech: string;
const engines: WhisperEngine[] = [];
const logs: string[] = [];
const logger = {
  info: (_: object, msg: string) => void logs.push(msg),
  warn: (_: object, msg: string) => void logs.push(msg),
  error: (_: object, msg: string) => void logs.push(msg),
};

function engine(options: Partial<WhisperEngineOptions> = {}): WhisperEngine {
  const e = new WhisperEngine({
    home,
    model: "base",
    language: undefined,
    threads: 2,
    processes: 1,
    timeoutMs: 600_000,
    stallMs: 120_000,
    logger,
    ...options,
  });
  engines.push(e);
  return e;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scaiwave-whisper-"));
  const parts = await Promise.all(
    SENTENCES.map((text, i) => speak(dir, `s${i}`, text, [{ voice: "en-us+m3", speed: 150 }, { voice: "en-gb+f3", speed: 165 }, { voice: "en-us+m1", speed: 140 }][i]!)),
  );
  speech = await concatenate(parts, join(dir, "speech.wav"));
  speechSeconds = (statSync(speech).size - 44) / 32_000;
  longSpeech = await concatenate(Array<string>(6).fill(speech), join(dir, "long-speech.wav"));
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

// Only bounds a hang: each test waits for the engine, and a loaded machine may transcribe slowly.
describe("the local engine (Whisper through faster-whisper)", { timeout: 180_000 }, () => {
  it("hears real speech: most words, the language, cues inside the audio, and progress as it goes", async () => {
    const progress: number[] = [];
    const result = await engine().transcribe(speech, undefined, (share) => progress.push(share));
    expect(wordsHeard(REFERENCE, result.text)).toBeGreaterThanOrEqual(0.9);
    expect(result.language).toBe("en");
    expect(result.segments.length).toBeGreaterThanOrEqual(2);
    for (const cue of result.segments) {
      expect(cue.start).toBeGreaterThanOrEqual(0);
      expect(cue.end).toBeGreaterThanOrEqual(cue.start);
      expect(cue.end).toBeLessThanOrEqual(speechSeconds);
      expect(cue.text).not.toBe("");
    }
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((share, i) => share > 0 && share <= 1 && share >= (progress[i - 1] ?? 0))).toBe(true);
  });

  it("keeps one process with its model loaded for the next job", async () => {
    const e = engine({ model: "tiny.en" });
    await e.transcribe(speech);
    const [pid] = e.pids();
    const second = await e.transcribe(speech);
    expect(e.pids()).toEqual([pid]);
    expect(second.language).toBe("en");
    expect(wordsHeard(REFERENCE, second.text)).toBeGreaterThanOrEqual(0.8);
  });

  it("an engine killed mid-job fails that job with the reason; the next job gets a new process", async () => {
    const e = engine({ model: "tiny.en" });
    let killed: number | undefined;
    const job = e.transcribe(longSpeech, undefined, () => {
      if (killed !== undefined) return;
      killed = e.pids()[0];
      if (killed !== undefined) process.kill(killed, "SIGKILL");
    });
    await expect(job).rejects.toThrow(/transcription engine killed by SIGKILL/);
    expect(killed).toBeDefined();
    const again = await e.transcribe(speech);
    expect(e.pids()).not.toContain(killed);
    expect(wordsHeard(REFERENCE, again.text)).toBeGreaterThanOrEqual(0.8);
  });

  it("a hung engine (stopped mid-job) is killed once it has been silent too long; the next job gets a new process", async () => {
    const e = engine({ model: "tiny.en", stallMs: 5_000 });
    let stopped: number | undefined;
    const job = e.transcribe(longSpeech, undefined, () => {
      if (stopped !== undefined) return;
      stopped = e.pids()[0];
      if (stopped !== undefined) process.kill(stopped, "SIGSTOP");
    });
    await expect(job).rejects.toThrow(/made no progress for 5 s \(hung\); it was killed/);
    await expect.poll(() => e.pids()).not.toContain(stopped);
    expect((await e.transcribe(speech)).language).toBe("en");
  });

  it("audio that is not 16 kHz mono WAV fails its job with the reason; the engine stays up for the next", async () => {
    const e = engine({ model: "tiny.en" });
    await e.transcribe(speech);
    const [pid] = e.pids();
    const notWav = join(dir, "not-audio.wav");
    writeFileSync(notWav, "this is not a WAV file at all, just text");
    await expect(e.transcribe(notWav)).rejects.toThrow(/the transcription engine failed: .*(RIFF|wav)/i);
    const stereo = join(dir, "stereo-44k.wav");
    execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", speech, "-ac", "2", "-ar", "44100", stereo]);
    await expect(e.transcribe(stereo)).rejects.toThrow(/expected 16 kHz mono 16-bit WAV, got 44100 Hz, 2 channel/);
    expect(e.pids()).toEqual([pid]);
    expect((await e.transcribe(speech)).segments.length).toBeGreaterThan(0);
  });

  it("a language the model does not know fails the job with the reason", async () => {
    await expect(engine({ model: "tiny.en", language: "de" }).transcribe(speech)).rejects.toThrow(
      "the transcription engine failed: model tiny.en does not know the language 'de' (it knows en)",
    );
  });

  it("not installed: the job fails, saying so and how to install it; nothing crashes", async () => {
    const empty = mkdtempSync(join(dir, "no-engine-"));
    const e = engine({ home: empty });
    await expect(e.transcribe(speech)).rejects.toThrow(`the local transcription engine is not installed (no ${join(empty, "venv-whisper", "bin", "python")}); install it with \`npm run setup:whisper\``);
    expect(e.pids()).toEqual([]);
  });

  it("refuses a model file whose SHA-256 is not the pinned one", async () => {
    const tampered = mkdtempSync(join(dir, "tampered-"));
    symlinkSync(join(home, "venv-whisper"), join(tampered, "venv-whisper"));
    mkdirSync(join(tampered, "models", "whisper-base"), { recursive: true });
    writeFileSync(join(tampered, "models", "whisper-base", "model.bin"), "not the model");
    const e = engine({ home: tampered });
    await expect(e.transcribe(speech)).rejects.toThrow(/cannot start: model base: .*model\.bin has SHA-256 [0-9a-f]{64}, expected d01c3014.*; refusing to load it/);
    expect(e.pids()).toEqual([]);
  });
});
