import { spawn } from "node:child_process";
import type { AudioExtractor } from "../../app/ports.js";

/** ffmpeg: any media file → 16 kHz mono 16-bit PCM WAV, what speech engines expect. */
export class FfmpegAudioExtractor implements AudioExtractor {
  constructor(private readonly binary = "ffmpeg") {}

  async toWav16kMono(mediaPath: string, wavPath: string): Promise<number> {
    const args = ["-hide_banner", "-nostdin", "-y", "-i", mediaPath, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", wavPath];
    const { stderr } = await run(this.binary, args);
    // ffmpeg reports the input's duration as "Duration: 00:00:07.52".
    const match = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
    return match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) : 0;
  }
}

/** Runs a program to completion; its output, or an error naming its exit code and last stderr lines. */
export function run(binary: string, args: readonly string[], signal?: AbortSignal): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], ...(signal && { signal }) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", (err) => reject(new Error(`${binary}: ${err.message}`)));
    child.once("exit", (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${binary} exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}
