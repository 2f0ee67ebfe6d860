/**
 * Transcripts of recordings, free of I/O: timed segments, and the WebVTT and
 * plain-text renderings stored beside the recording.
 */

export type TranscriptStatus = "pending" | "ready" | "failed";

export interface Segment {
  /** Seconds from the start of the recording. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export interface Transcript {
  readonly recordingId: string;
  readonly callId: string;
  readonly tenantId: string;
  readonly roomId: string;
  readonly status: TranscriptStatus;
  readonly engine: string | null;
  readonly text: string | null;
  readonly segments: readonly Segment[];
  readonly vttKey: string | null;
  readonly txtKey: string | null;
  readonly attempts: number;
  readonly error: string | null;
  /** The language spoken (a code like `en`), when the engine told it. */
  readonly language: string | null;
  /** Share of the audio transcribed so far (0–1) while pending, as the running job reports it; 1 once ready. */
  readonly progress: number;
}

/** `recordings/<call>/<ts>.mp4` → `recordings/<call>/<ts>.vtt` and `.txt`. */
export function transcriptKeys(recordingKey: string): { vtt: string; txt: string } {
  const base = recordingKey.replace(/\.[^./]+$/, "");
  return { vtt: `${base}.vtt`, txt: `${base}.txt` };
}

function timestamp(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** WebVTT (W3C): a header, then one numbered cue per segment. */
export function toWebVtt(segments: readonly Segment[]): string {
  const cues = segments.map((s, i) => `${i + 1}\n${timestamp(s.start)} --> ${timestamp(s.end)}\n${s.text}\n`);
  return `WEBVTT\n\n${cues.join("\n")}`;
}

export function toPlainText(segments: readonly Segment[]): string {
  return segments.map((s) => s.text).join(" ").replace(/\s+/g, " ").trim();
}

/** Text for an event: cut at a word boundary past `limit` characters. */
export function truncate(text: string, limit: number): { text: string; truncated: boolean } {
  if (text.length <= limit) return { text, truncated: false };
  const cut = text.slice(0, limit);
  const space = cut.lastIndexOf(" ");
  return { text: `${space > limit / 2 ? cut.slice(0, space) : cut}…`, truncated: true };
}
