import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { TranscriptionEngine } from "../../app/ports.js";
import type { Segment } from "../../domain/transcript.js";

export interface OpenAiEngineOptions {
  /** e.g. https://api.openai.com or a local whisper server; `/v1/audio/transcriptions` is appended. */
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly model: string;
  readonly timeoutMs: number;
}

interface VerboseJson {
  text?: unknown;
  segments?: { start?: unknown; end?: unknown; text?: unknown }[];
  duration?: unknown;
}

/**
 * An OpenAI-compatible `POST {base}/v1/audio/transcriptions` (multipart: `file`,
 * `model`, `response_format=verbose_json`), what OpenAI and whisper servers
 * (faster-whisper-server, whisper.cpp server, LocalAI, vLLM) speak.
 */
export class OpenAiCompatibleEngine implements TranscriptionEngine {
  readonly name = "openai";

  constructor(private readonly options: OpenAiEngineOptions) {}

  async transcribe(wavPath: string, signal?: AbortSignal): Promise<{ text: string; segments: Segment[] }> {
    const form = new FormData();
    form.append("file", new Blob([await readFile(wavPath)], { type: "audio/wav" }), basename(wavPath));
    form.append("model", this.options.model);
    form.append("response_format", "verbose_json");
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const res = await fetch(`${this.options.baseUrl.replace(/\/+$/, "")}/v1/audio/transcriptions`, {
      method: "POST",
      body: form,
      headers: this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {},
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (!res.ok) {
      const detail = (await res.text()).slice(0, 300);
      throw new Error(`transcription service answered ${res.status}: ${detail}`);
    }
    const body = (await res.json()) as VerboseJson;
    const text = typeof body.text === "string" ? body.text.trim() : "";
    const segments: Segment[] = Array.isArray(body.segments)
      ? body.segments.map((s) => ({ start: Number(s.start) || 0, end: Number(s.end) || 0, text: String(s.text ?? "").trim() }))
      : [{ start: 0, end: Number(body.duration) || 0, text }];
    return { text, segments: segments.filter((s) => s.text !== "") };
  }
}
