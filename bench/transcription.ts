/**
 * The local transcription engine (Whisper through faster-whisper), measured on
 * a speech set made here: word error rate (WER) against the spoken text, and
 * real-time factor (RTF: wall time over audio length), for each shipped model.
 *
 * The set: one 14-word sentence; 14 sentences (~190 words, over 60 s) spoken by
 * several espeak-ng voices at several speeds; the same as over a telephone
 * (8 kHz, 300–3400 Hz), with and without white noise ~19 dB below the speech.
 * Each model gets a fresh engine per audio, so the RTF includes starting the
 * engine and loading the model ("cold"); "warm" is a second run on the loaded
 * engine, what a worker's long-lived engine does for every job after its first.
 * The "before" column is PocketSphinx, the previous local engine, as measured
 * on the same kind of machine (2 cores) with the same kind of audio.
 *
 *   npm run bench:transcription     (needs `npm run setup:whisper`; writes bench/results/transcription.json)
 *   BENCH_LONG_MINUTES=60 npm run bench:transcription   (also a recording that long, for time and memory)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { WhisperEngine } from "../src/adapters/transcription/whisper-engine.js";
import { concatenate, speak, telephoneBand, wordErrorRate, type Voice } from "../test/support/speech.js";

const MODELS = ["tiny.en", "base"] as const;
const HOME = process.env["TRANSCRIPTION_WHISPER_DIR"] ?? process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
const LONG_MINUTES = Number(process.env["BENCH_LONG_MINUTES"] ?? 0);
const THREADS = availableParallelism();

const SENTENCE = "Please remember to send the quarterly budget report to the finance team before Friday.";
const SENTENCES = [
  "Good morning everyone, and thank you for joining the weekly planning call.",
  "Today we will review the release schedule and the open support tickets.",
  "The mobile team finished the new login screen on Tuesday afternoon.",
  "We still need a decision about the database migration for the reporting service.",
  "Sarah will share the customer feedback from the last two weeks.",
  "Most people asked for faster search and a simpler settings page.",
  "The support queue is shorter than last month, but the response time is still too long.",
  "Please keep your microphone muted when you are not speaking.",
  "If you have a question, raise your hand or write it in the chat.",
  "The marketing launch moves to the second week of next month.",
  "Our designers will present three ideas for the new landing page.",
  "Before the next meeting, every team should update its roadmap.",
  "We will send the notes and the recording to everyone after the call.",
  "Thank you all for your time, and have a good rest of the day.",
];
const VOICES: readonly Voice[] = [
  { voice: "en-us+m3", speed: 150 },
  { voice: "en-gb+f3", speed: 165 },
  { voice: "en-us+f2", speed: 175 },
  { voice: "en-gb-x-rp+m1", speed: 135 },
  { voice: "en+m7", speed: 160 },
  { voice: "en-us+f4", speed: 145 },
];
/** PocketSphinx (Debian's pocketsphinx, pocketsphinx-en-us), as measured before this engine replaced it. */
const BEFORE: Record<string, { wer: number; rtf?: number }> = {
  "one sentence": { wer: 1.21 },
  "clear speech": { wer: 0.58, rtf: 0.16 },
  "telephone + noise": { wer: 0.82 },
};

interface Audio {
  readonly name: string;
  readonly wav: string;
  readonly reference: string;
  readonly seconds: number;
}
interface Row {
  model: string;
  audio: string;
  seconds: number;
  wer: number;
  coldSeconds: number;
  rtfCold: number;
  rtfWarm: number;
  peakRssMb: number | undefined;
  text: string;
}

const seconds = (wav: string) => (statSync(wav).size - 44) / 32_000;
const dir = mkdtempSync(join(tmpdir(), "scaiwave-bench-transcription-"));
const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The engine process's peak resident memory (VmHWM), MB. */
function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 1024) : undefined;
}

async function measure(model: (typeof MODELS)[number], audio: Audio, warm: boolean): Promise<Row> {
  const engine = new WhisperEngine({ home: HOME, model, language: undefined, threads: THREADS, processes: 1, timeoutMs: 3_600_000, stallMs: 600_000, logger });
  try {
    let t = performance.now();
    const { text } = await engine.transcribe(audio.wav);
    const coldSeconds = (performance.now() - t) / 1000;
    let rtfWarm = Number.NaN;
    if (warm) {
      t = performance.now();
      await engine.transcribe(audio.wav);
      rtfWarm = (performance.now() - t) / 1000 / audio.seconds;
    }
    return {
      model,
      audio: audio.name,
      seconds: audio.seconds,
      wer: wordErrorRate(audio.reference, text),
      coldSeconds,
      rtfCold: coldSeconds / audio.seconds,
      rtfWarm,
      peakRssMb: peakRssMb(engine.pids()[0]),
      // What was heard, for reading the errors; a long recording's only as a sample.
      text: audio.seconds > 600 ? `${text.slice(0, 1000)}…` : text,
    };
  } finally {
    await engine.close();
  }
}

const pct = (x: number | undefined) => (x === undefined ? "" : `${(x * 100).toFixed(1)} %`);
const fixed = (x: number | undefined, digits = 3) => (x === undefined || Number.isNaN(x) ? "" : x.toFixed(digits));

try {
  console.log("making the speech set (espeak-ng, ffmpeg)…");
  const one = await speak(dir, "one", SENTENCE, VOICES[0]!);
  const parts = await Promise.all(SENTENCES.map((text, i) => speak(dir, `s${i}`, text, VOICES[i % VOICES.length]!)));
  const clear = await concatenate(parts, join(dir, "clear.wav"));
  const phone = await telephoneBand(clear, join(dir, "phone.wav"), 19);
  const phoneClean = await telephoneBand(clear, join(dir, "phone-clean.wav"), 200);
  const paragraph = SENTENCES.join(" ");
  const set: Audio[] = [
    { name: "one sentence", wav: one, reference: SENTENCE, seconds: seconds(one) },
    { name: "clear speech", wav: clear, reference: paragraph, seconds: seconds(clear) },
    { name: "telephone + noise", wav: phone, reference: paragraph, seconds: seconds(phone) },
    { name: "telephone, no noise", wav: phoneClean, reference: paragraph, seconds: seconds(phoneClean) },
  ];
  if (LONG_MINUTES > 0) {
    const loops = Math.ceil((LONG_MINUTES * 60) / seconds(clear));
    const long = await concatenate(Array<string>(loops).fill(clear), join(dir, "long.wav"), 1);
    set.push({ name: `${LONG_MINUTES} min recording`, wav: long, reference: Array<string>(loops).fill(paragraph).join(" "), seconds: seconds(long) });
  }
  const words = paragraph.split(/\s+/).length;
  console.log(`clear speech: ${SENTENCES.length} sentences, ${words} words, ${seconds(clear).toFixed(1)} s, ${VOICES.length} voices at ${VOICES.map((v) => v.speed).join("/")} wpm\n`);

  const rows: Row[] = [];
  for (const model of MODELS) {
    for (const audio of set) {
      process.stdout.write(`${model} · ${audio.name}… `);
      const row = await measure(model, audio, !audio.name.endsWith("min recording"));
      rows.push(row);
      console.log(`WER ${pct(row.wer)}, RTF ${fixed(row.rtfCold)} (${row.coldSeconds.toFixed(1)} s)`);
    }
  }

  const header = ["audio", "seconds", "before: PocketSphinx WER", ...MODELS.flatMap((m) => [`${m} WER`, `${m} RTF cold`, `${m} RTF warm`, `${m} peak MB`])];
  const table = [
    header,
    ...set.map((audio) => [
      audio.name,
      audio.seconds.toFixed(1),
      `${pct(BEFORE[audio.name]?.wer)}${BEFORE[audio.name]?.rtf ? `, RTF ${BEFORE[audio.name]?.rtf}` : ""}`,
      ...MODELS.flatMap((m) => {
        const r = rows.find((x) => x.model === m && x.audio === audio.name);
        return [pct(r?.wer), fixed(r?.rtfCold), fixed(r?.rtfWarm), String(r?.peakRssMb ?? "")];
      }),
    ]),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  console.log(`\nLocal transcription: WER and RTF, ${THREADS} threads, ${process.arch}, Node ${process.version}\n`);
  for (const r of table) console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`);

  const base = (name: string) => rows.find((r) => r.model === "base" && r.audio === name);
  const aims = [
    { aim: "WER ≤ 5 % on clear speech (base)", got: base("clear speech")?.wer ?? 1, limit: 0.05 },
    { aim: "WER ≤ 15 % on the telephone variant (base)", got: base("telephone + noise")?.wer ?? 1, limit: 0.15 },
    { aim: "RTF ≤ 0.15 with base (cold, clear speech)", got: base("clear speech")?.rtfCold ?? 1, limit: 0.15 },
  ];
  console.log("");
  for (const a of aims) console.log(`${a.got <= a.limit ? "met    " : "MISSED "} ${a.aim}: ${a.aim.startsWith("RTF") ? fixed(a.got) : pct(a.got)}`);

  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, "results", "transcription.json"),
    `${JSON.stringify({ measuredAt: new Date().toISOString(), threads: THREADS, before: BEFORE, rows, aims }, null, 2)}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
