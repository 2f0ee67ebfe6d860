import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * Real speech for transcription tests and the benchmark: espeak-ng speaks a
 * text (a voice and a speed), ffmpeg makes it the 16 kHz mono WAV the engines
 * get; plus the word error rate of what an engine heard against the text.
 */

const exec = promisify(execFile);

export interface Voice {
  /** espeak-ng voice with variant, e.g. `en-us+m3`. */
  readonly voice: string;
  /** Words per minute. */
  readonly speed: number;
}

/** Speaks `text` into `<dir>/<name>.wav` (16 kHz mono 16-bit); returns its path. */
export async function speak(dir: string, name: string, text: string, { voice, speed }: Voice): Promise<string> {
  const raw = join(dir, `${name}.espeak.wav`);
  const wav = join(dir, `${name}.wav`);
  await exec("espeak-ng", ["-v", voice, "-s", String(speed), "-w", raw, text]);
  await exec("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", raw, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", wav]);
  return wav;
}

/** Joins WAVs (same format) one after another, with `gapSeconds` of silence between them. */
export async function concatenate(wavs: readonly string[], out: string, gapSeconds = 0.6): Promise<string> {
  const inputs = wavs.flatMap((w) => ["-i", w]);
  const gaps = wavs.map((_, i) => `[${i}:a]apad=pad_dur=${gapSeconds}[a${i}]`).join(";");
  const joined = `${wavs.map((_, i) => `[a${i}]`).join("")}concat=n=${wavs.length}:v=0:a=1[out]`;
  await exec("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...inputs,
    "-filter_complex", `${gaps};${joined}`, "-map", "[out]", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", out,
  ]);
  return out;
}

/**
 * The same speech as over a telephone: 8 kHz, 300–3400 Hz, with white noise
 * about `snrDb` below the speech's loudness; back to 16 kHz mono WAV.
 */
export async function telephoneBand(wav: string, out: string, snrDb = 19): Promise<string> {
  const { stderr } = await exec("ffmpeg", ["-hide_banner", "-nostdin", "-i", wav, "-af", "volumedetect", "-f", "null", "-"]);
  const mean = Number(/mean_volume: (-?[\d.]+) dB/.exec(stderr)?.[1] ?? -25);
  // White noise of amplitude A has an RMS of A/√3: its level in dBFS is 20·log10(A/√3).
  const amplitude = Math.min(1, Math.sqrt(3) * 10 ** ((mean - snrDb) / 20));
  await exec("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", wav,
    "-f", "lavfi", "-i", `anoisesrc=color=white:sample_rate=16000:amplitude=${amplitude.toFixed(5)}:seed=7`,
    "-filter_complex",
    "[0:a][1:a]amix=inputs=2:duration=first:normalize=0,aresample=8000,highpass=f=300,lowpass=f=3400,aresample=16000[out]",
    "-map", "[out]", "-ac", "1", "-c:a", "pcm_s16le", out,
  ]);
  return out;
}

/** Lower case, no punctuation (apostrophes dropped, hyphens split words): what word error rates compare. */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .split(" ")
    .filter(Boolean);
}

/** Word error rate: (substitutions + deletions + insertions) / reference words, by word-level Levenshtein. */
export function wordErrorRate(reference: string, heard: string): number {
  const ref = words(reference);
  const hyp = words(heard);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const row = [i];
    for (let j = 1; j <= hyp.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      row.push(Math.min(substitution, (previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1));
    }
    previous = row;
  }
  return ref.length === 0 ? 0 : (previous[hyp.length] ?? 0) / ref.length;
}

/** The share of the reference's words that were heard (each as often as it was said). */
export function wordsHeard(reference: string, heard: string): number {
  const left = new Map<string, number>();
  for (const w of words(heard)) left.set(w, (left.get(w) ?? 0) + 1);
  const ref = words(reference);
  let found = 0;
  for (const w of ref) {
    const n = left.get(w) ?? 0;
    if (n > 0) {
      found++;
      left.set(w, n - 1);
    }
  }
  return ref.length === 0 ? 1 : found / ref.length;
}
