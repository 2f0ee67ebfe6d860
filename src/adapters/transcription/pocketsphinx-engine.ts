import type { TranscriptionEngine } from "../../app/ports.js";
import type { Segment } from "../../domain/transcript.js";
import { run } from "./ffmpeg-audio.js";

export interface PocketSphinxOptions {
  /** Debian's pocketsphinx-en-us layout: `<dir>/en-us` (acoustic model), `en-us.lm.bin`, `cmudict-en-us.dict`. */
  readonly modelDir: string;
  readonly binary?: string;
}

/** Silences at least this long split segments (seconds). */
const SEGMENT_GAP = 0.6;
const SEGMENT_MAX_WORDS = 14;

/**
 * CMU PocketSphinx (Debian's `pocketsphinx_continuous` and `pocketsphinx-en-us`):
 * offline, no model download, modest accuracy. Word timings (`-time yes`) are
 * grouped into segments at pauses.
 */
export class PocketSphinxEngine implements TranscriptionEngine {
  readonly name = "local";

  constructor(private readonly options: PocketSphinxOptions) {}

  async transcribe(wavPath: string, signal?: AbortSignal): Promise<{ text: string; segments: Segment[] }> {
    const dir = this.options.modelDir;
    const { stdout } = await run(
      this.options.binary ?? "pocketsphinx_continuous",
      ["-infile", wavPath, "-hmm", `${dir}/en-us`, "-lm", `${dir}/en-us.lm.bin`, "-dict", `${dir}/cmudict-en-us.dict`, "-time", "yes", "-logfn", "/dev/null"],
      signal,
    );
    const segments = segmentsFromWordTimes(stdout);
    return { text: segments.map((s) => s.text).join(" "), segments };
  }
}

/**
 * `-time yes` prints each utterance's text, then a line per word:
 * `word start end confidence` (`<s>`, `</s>`, `<sil>`, `[NOISE]` are not words;
 * `word(2)` is an alternative pronunciation).
 */
function segmentsFromWordTimes(output: string): Segment[] {
  const words: { word: string; start: number; end: number }[] = [];
  for (const line of output.split("\n")) {
    const m = /^(\S+) (\d+\.\d+) (\d+\.\d+) \S+$/.exec(line.trim());
    if (!m?.[1]) continue;
    const word = m[1].replace(/\(\d+\)$/, "");
    if (word.startsWith("<") || word.startsWith("[")) continue;
    words.push({ word, start: Number(m[2]), end: Number(m[3]) });
  }
  const segments: Segment[] = [];
  let current: { start: number; end: number; words: string[] } | undefined;
  for (const w of words) {
    if (current && (w.start - current.end >= SEGMENT_GAP || current.words.length >= SEGMENT_MAX_WORDS)) {
      segments.push({ start: current.start, end: current.end, text: current.words.join(" ") });
      current = undefined;
    }
    current ??= { start: w.start, end: w.end, words: [] };
    current.words.push(w.word);
    current.end = w.end;
  }
  if (current) segments.push({ start: current.start, end: current.end, text: current.words.join(" ") });
  return segments;
}
