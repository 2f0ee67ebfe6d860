/**
 * Real-time factor of the local transcription engine (PocketSphinx): seconds
 * of processing per second of audio, on a 60-second recording of synthetic
 * speech (espeak-ng), through the same pipeline the worker runs (ffmpeg
 * extraction, then the engine). The baseline measured in the same run is the
 * ffmpeg extraction alone, so the table shows what the engine itself costs.
 *
 *   npm run bench:transcription            (writes bench/results/transcription-rtf.json)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FfmpegAudioExtractor } from "../src/adapters/transcription/ffmpeg-audio.js";
import { PocketSphinxEngine } from "../src/adapters/transcription/pocketsphinx-engine.js";

const TARGET_SECONDS = Number(process.env["BENCH_AUDIO_SECONDS"] ?? 60);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 3);

const dir = mkdtempSync(join(tmpdir(), "scaiwave-bench-rtf-"));
try {
  // espeak-ng speaks a paragraph; ffmpeg loops it to the target length and muxes it into an mp4 like a recording.
  const speech = join(dir, "speech.wav");
  execFileSync("espeak-ng", ["-v", "en-us+m3", "-s", "140", "-w", speech,
    "hello everyone, thanks for joining the weekly planning call. today we review the release schedule, " +
    "the open incidents from last week, and the budget for the next quarter. please keep your microphones muted " +
    "when you are not speaking, and raise your hand if you have a question."]);
  const recording = join(dir, "recording.mp4");
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", speech,
    "-t", String(TARGET_SECONDS), "-c:a", "aac", "-f", "mp4", recording]);

  const audio = new FfmpegAudioExtractor();
  const engine = new PocketSphinxEngine({ modelDir: process.env["TRANSCRIPTION_MODEL_DIR"] ?? "/usr/share/pocketsphinx/model/en-us" });
  const rows: { run: number; audioSeconds: number; extractSeconds: number; transcribeSeconds: number; words: number }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const wav = join(dir, `audio-${run}.wav`);
    let t = process.hrtime.bigint();
    const audioSeconds = await audio.toWav16kMono(recording, wav);
    const extractSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    t = process.hrtime.bigint();
    const { text } = await engine.transcribe(wav);
    const transcribeSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    rows.push({ run, audioSeconds, extractSeconds, transcribeSeconds, words: text.split(/\s+/).filter(Boolean).length });
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const audioSeconds = median(rows.map((r) => r.audioSeconds));
  const extract = median(rows.map((r) => r.extractSeconds));
  const transcribe = median(rows.map((r) => r.transcribeSeconds));
  const table = [
    ["step", "seconds (median)", "real-time factor", "× baseline"],
    ["baseline: ffmpeg → 16 kHz mono WAV", extract.toFixed(3), (extract / audioSeconds).toFixed(4), "1.0"],
    ["PocketSphinx transcription", transcribe.toFixed(3), (transcribe / audioSeconds).toFixed(4), (transcribe / extract).toFixed(1)],
    ["whole job (extract + transcribe)", (extract + transcribe).toFixed(3), ((extract + transcribe) / audioSeconds).toFixed(4), ((extract + transcribe) / extract).toFixed(1)],
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  console.log(`\nTranscription real-time factor: ${audioSeconds.toFixed(1)} s of speech, ${RUNS} runs, ${process.arch}, Node ${process.version}\n`);
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  console.log(`\nwords recognised per run: ${rows.map((r) => r.words).join(", ")}`);
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, "results", "transcription-rtf.json"),
    `${JSON.stringify({ measuredAt: new Date().toISOString(), audioSeconds, runs: rows, medianExtractSeconds: extract, medianTranscribeSeconds: transcribe, rtf: transcribe / audioSeconds }, null, 2)}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
