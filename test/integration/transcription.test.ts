import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WhisperEngine } from "../../src/adapters/transcription/whisper-engine.js";
import type { TranscriptionEngine } from "../../src/app/ports.js";
import type { AppOverrides } from "../../src/composition/app-context.js";
import type { EnvVar } from "../../src/config.js";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startEgressSimulator, type EgressSimulator } from "../support/egress-simulator.js";
import { EventTap, type Envelope } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit, sharedMinio } from "../support/shared-servers.js";
import { spawnService } from "../support/service-process.js";
import { concatenate, speak, wordsHeard } from "../support/speech.js";
import { internalToken, TEST_JWT_SECRET, userToken } from "../support/tokens.js";

/**
 * A recorded call with real speech (espeak-ng), transcribed by a durable job:
 * the local engine (Whisper through faster-whisper, as `npm run setup:whisper`
 * installs it), an OpenAI-compatible server, and an engine that keeps failing.
 */

const livekit = sharedLiveKit();
const minio = sharedMinio();
/** Where scripts/install-test-deps.sh (through setup-whisper.sh) installed the local engine. */
const whisperHome = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
const SENTENCES = [
  "Good morning everyone, thank you for joining the weekly planning call.",
  "Today we will review the release schedule and the open support tickets.",
  "Please send your notes to the team before the end of the day.",
];
const SPOKEN = SENTENCES.join(" ");
/** Only bounds a hang: the Whisper tests wait for events, and a loaded machine may transcribe slowly. */
const WHISPER_TEST_TIMEOUT_MS = 180_000;
let bucket: string;
let dir: string;
/** The three sentences, each in another espeak-ng voice and speed (~14 s). */
let speechWav: string;
/** The same six times (~80 s): Whisper decodes 30 s at a time, so its first progress comes long before its end. */
let longSpeechWav: string;
const stacks: { nats: NatsServer; egress: EgressSimulator; service: RunningService; tap: EventTap }[] = [];

/** A fake OpenAI-compatible server: checks the multipart request, answers verbose_json or fails. */
const whisper = {
  /** While set, requests hang until it resolves (a job caught mid-flight). */
  hold: undefined as Promise<void> | undefined,
  onRequest: undefined as (() => void) | undefined,
  requests: [] as { fields: Record<string, string>; fileBytes: number; fileStartsRiff: boolean; authorization: string | undefined }[],
  failing: false,
  server: undefined as http.Server | undefined,
  url: "",
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scaiwave-speech-"));
  const voices = [
    { voice: "en-us+m3", speed: 150 },
    { voice: "en-gb+f3", speed: 165 },
    { voice: "en-us+m1", speed: 140 },
  ];
  const parts = await Promise.all(SENTENCES.map((text, i) => speak(dir, `sentence-${i}`, text, voices[i]!)));
  speechWav = await concatenate(parts, join(dir, "speech.wav"));
  longSpeechWav = await concatenate(Array<string>(6).fill(speechWav), join(dir, "long-speech.wav"));
  bucket = await minio.createBucket();

  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const form = await new Response(body, { headers: { "content-type": req.headers["content-type"] ?? "" } }).formData();
    const file = form.get("file");
    const bytes = file instanceof Blob ? Buffer.from(await file.arrayBuffer()) : Buffer.alloc(0);
    const fields = Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === "string")) as Record<string, string>;
    whisper.requests.push({ fields, fileBytes: bytes.length, fileStartsRiff: bytes.subarray(0, 4).toString() === "RIFF", authorization: req.headers.authorization });
    whisper.onRequest?.();
    if (whisper.hold) await whisper.hold;
    if (whisper.failing) {
      res.writeHead(500, { "content-type": "application/json" }).end('{"error":{"message":"model overloaded"}}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        text: "Hello world, this is the meeting.",
        duration: 4.2,
        segments: [
          { id: 0, start: 0, end: 1.5, text: " Hello world," },
          { id: 1, start: 1.5, end: 4.2, text: " this is the meeting." },
        ],
      }),
    );
  };
  // An answer that throws is a 500 the engine sees, not a hanging request and an unhandled rejection.
  whisper.server = http.createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => whisper.server?.listen(0, "127.0.0.1", () => resolve()));
  whisper.url = `http://127.0.0.1:${(whisper.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of stacks) {
    await s.tap.close();
    await s.service.stop();
    await s.egress.close();
    await s.nats.stop();
  }
  await new Promise((resolve) => whisper.server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});
// The fake transcription server is shared: a test that fails half-way must not leave it failing or held.
beforeEach(() => {
  whisper.failing = false;
  whisper.hold = undefined;
  whisper.onRequest = undefined;
});


/** A service with its own NATS (its own job queue) and egress simulator speaking `speechWav`. */
async function stack(env: Partial<Record<EnvVar, string>>, overrides: AppOverrides = {}) {
  const nats = await startNatsServer();
  // The egress webhooks go to this stack's service (started next; the first is sent once an egress runs).
  const egress = await startEgressSimulator({ livekit, webhookUrl: () => `${service.baseUrl}/v1/calls/webhook` });
  egress.useSpeech(speechWav);
  const service = await startService(
    { ...livekit, httpUrl: egress.url },
    {
      NATS_URL: nats.url,
      S3_ENDPOINT: minio.endpoint,
      S3_ACCESS_KEY: minio.accessKey,
      S3_SECRET_KEY: minio.secretKey,
      S3_BUCKET: bucket,
      RECONCILE_INTERVAL_SECONDS: "0",
      ...env,
    },
    overrides,
  );
  const tap = await EventTap.start(nats.url);
  const sync = { headers: { authorization: `Bearer ${await internalToken()}` } };
  await directoryClient(service.baseUrl).client.putTenantPolicy(
    { tenantId: "acme", policy: { recordingsEnabled: true, transcriptionEnabled: true } },
    sync,
  );
  const s = { nats, egress, service, tap };
  stacks.push(s);
  return s;
}

/** Records a call with `transcript: true` and returns the recording id. */
async function recordSpeech(service: RunningService): Promise<{ callId: string; recordingId: string; admin: string }> {
  const roomId = await directoryClient(service.baseUrl).room({ admin: 100, bob: 0 });
  const admin = await userToken("admin");
  const { call_id } = await restApi(service.baseUrl).initiate(admin, roomId, "audio");
  const start = await fetch(`${service.baseUrl}/v1/calls/${call_id}/recording/start`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}` },
    body: JSON.stringify({ audio: true, video: false, transcript: true }),
  });
  const recording = ((await start.json()) as { data: { id: string } }).data;
  await fetch(`${service.baseUrl}/v1/calls/${call_id}/recording/stop`, { method: "POST", headers: { authorization: `Bearer ${admin}` } });
  return { callId: call_id, recordingId: recording.id, admin };
}

const transcriptEvent = (type: string, recordingId: string) => (e: Envelope) =>
  e.type === type && e.data["recording_id"] === recordingId;

interface Listed {
  id: string;
  transcription: null | {
    status: string;
    text: string;
    engine: string;
    attempts: number;
    error: string;
    language: string;
    progress: number;
    vtt: null | { key: string; download_url: string };
    txt: null | { key: string; download_url: string };
  };
  media: null | { download_url: string };
}

async function listed(service: RunningService, callId: string, token: string): Promise<Listed[]> {
  const res = await fetch(`${service.baseUrl}/v1/calls/${callId}/recordings`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { data: Listed[] }).data;
}

describe("transcription", () => {
  it("the local engine (Whisper) transcribes real speech: the room hears what was said, with its language, and the WebVTT cues lie inside the audio", async () => {
    const { service, tap } = await stack({});
    const { callId, recordingId, admin } = await recordSpeech(service);
    const event = await tap.waitFor(transcriptEvent("swp.call.transcript", recordingId), WHISPER_TEST_TIMEOUT_MS);
    expect(wordsHeard(SPOKEN, String(event.data["text"]))).toBeGreaterThanOrEqual(0.8);
    expect(event.data).toMatchObject({ engine: "local", language: "en", truncated: false });
    expect(event.subject).toMatch(/^swp\.room\..+\.call$/);

    const [recording] = await listed(service, callId, await userToken("bob"));
    expect(recording?.transcription).toMatchObject({ status: "ready", engine: "local", language: "en", progress: 1, attempts: 1, error: "" });
    expect(recording?.transcription?.vtt?.key).toMatch(new RegExp(`^recordings/${callId}/.+\\.vtt$`));
    const vtt = await (await fetch(recording?.transcription?.vtt?.download_url ?? "")).text();
    expect(vtt.startsWith("WEBVTT\n\n1\n00:00:")).toBe(true);
    const cues = [...vtt.matchAll(/^(\d\d):(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d):(\d\d\.\d{3})$/gm)].map((m) => {
      const seconds = (h?: string, min?: string, s?: string) => Number(h) * 3600 + Number(min) * 60 + Number(s);
      return { start: seconds(m[1], m[2], m[3]), end: seconds(m[4], m[5], m[6]) };
    });
    // The recording's own length, as ffprobe reads the stored file.
    const audioSeconds = Number(
      execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", recording?.media?.download_url ?? ""]).toString(),
    );
    expect(cues.length).toBeGreaterThanOrEqual(2);
    for (const cue of cues) {
      expect(cue.start).toBeGreaterThanOrEqual(0);
      expect(cue.end).toBeGreaterThanOrEqual(cue.start);
      expect(cue.end).toBeLessThanOrEqual(audioSeconds);
    }
    expect(wordsHeard(SPOKEN, vtt)).toBeGreaterThanOrEqual(0.8);
    const txt = await (await fetch(recording?.transcription?.txt?.download_url ?? "")).text();
    expect(txt.trim()).toBe(recording?.transcription?.text);
    // The admin sees the same listing.
    expect((await listed(service, callId, admin))[0]?.transcription?.status).toBe("ready");
  }, WHISPER_TEST_TIMEOUT_MS);

  it("the local engine killed mid-job: the job is retried on a new engine process and completes; the status shows the attempt's progress", async () => {
    const whisper = new WhisperEngine({
      home: whisperHome,
      model: "tiny.en",
      language: undefined,
      threads: 2,
      processes: 1,
      timeoutMs: 600_000,
      stallMs: 120_000,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    // The real engine, watched: its process is killed at the first attempt's first progress report, and the
    // second attempt's result waits until the test has looked at the transcript's status.
    let killed: number | undefined;
    let attempts = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let secondHeard!: () => void;
    const secondDone = new Promise<void>((resolve) => (secondHeard = resolve));
    const engine: TranscriptionEngine = {
      name: whisper.name,
      async transcribe(wav, signal, onProgress) {
        const attempt = ++attempts;
        const heard = await whisper.transcribe(wav, signal, (share) => {
          onProgress?.(share);
          if (attempt === 1 && killed === undefined) {
            killed = whisper.pids()[0];
            if (killed !== undefined) process.kill(killed, "SIGKILL");
          }
        });
        secondHeard();
        await released;
        return heard;
      },
      close: () => whisper.close(),
    };
    try {
      const { service, tap, egress } = await stack({ TRANSCRIPTION_RETRY_BASE_MS: "200" }, { transcriptionEngine: engine });
      egress.useSpeech(longSpeechWav);
      const { callId, recordingId, admin } = await recordSpeech(service);
      await secondDone;
      expect(killed).toBeDefined();
      expect(whisper.pids()).not.toContain(killed);
      await expect
        .poll(async () => (await listed(service, callId, admin))[0]?.transcription, { timeout: 30_000 })
        .toMatchObject({ status: "pending", attempts: 2, progress: expect.toSatisfy((p: number) => p > 0 && p <= 1) as unknown });
      expect(service.logs.some((line) => line.includes("transcription failed; it will be retried") && line.includes("killed by SIGKILL"))).toBe(true);

      release();
      const event = await tap.waitFor(transcriptEvent("swp.call.transcript", recordingId), WHISPER_TEST_TIMEOUT_MS);
      expect(wordsHeard(Array<string>(6).fill(SPOKEN).join(" "), String(event.data["text"]))).toBeGreaterThanOrEqual(0.8);
      expect(event.data).toMatchObject({ engine: "local", language: "en" });
      const [recording] = await listed(service, callId, admin);
      expect(recording?.transcription).toMatchObject({ status: "ready", attempts: 2, progress: 1, language: "en" });
      expect(attempts).toBe(2);
    } finally {
      release();
    }
  }, WHISPER_TEST_TIMEOUT_MS);

  it("the local engine not installed: the job fails visibly with the reason, and the service carries on", async () => {
    const empty = mkdtempSync(join(dir, "no-whisper-"));
    const { service, tap } = await stack({ TRANSCRIPTION_WHISPER_DIR: empty, TRANSCRIPTION_MAX_ATTEMPTS: "2", TRANSCRIPTION_RETRY_BASE_MS: "100" });
    const { callId, recordingId, admin } = await recordSpeech(service);
    const failed = await tap.waitFor(transcriptEvent("swp.call.transcript_failed", recordingId), 30_000);
    expect(failed.data).toMatchObject({ attempts: 2 });
    expect(String(failed.data["error"])).toBe(
      `the local transcription engine is not installed (no ${join(empty, "venv-whisper", "bin", "python")}); install it with \`npm run setup:whisper\``,
    );
    const [recording] = await listed(service, callId, admin);
    expect(recording?.transcription).toMatchObject({ status: "failed", attempts: 2, progress: 0, language: "" });
    expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
  });

  it("the OpenAI-compatible engine sends the 16 kHz WAV as multipart and keeps the server's segments", async () => {
    const before = whisper.requests.length;
    const { service, tap } = await stack({
      TRANSCRIPTION_ENGINE: "openai",
      TRANSCRIPTION_OPENAI_BASE_URL: whisper.url,
      TRANSCRIPTION_OPENAI_API_KEY: "sk-test-key",
      TRANSCRIPTION_OPENAI_MODEL: "whisper-large-v3",
    });
    const { callId, recordingId, admin } = await recordSpeech(service);
    const event = await tap.waitFor(transcriptEvent("swp.call.transcript", recordingId), 30_000);
    expect(event.data["text"]).toBe("Hello world, this is the meeting.");
    const request = whisper.requests[before];
    expect(request?.fields).toMatchObject({ model: "whisper-large-v3", response_format: "verbose_json" });
    expect(request?.fileStartsRiff).toBe(true);
    expect(request?.fileBytes).toBeGreaterThan(16_000);
    expect(request?.authorization).toBe("Bearer sk-test-key");
    const [recording] = await listed(service, callId, admin);
    const vtt = await (await fetch(recording?.transcription?.vtt?.download_url ?? "")).text();
    expect(vtt).toBe("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nHello world,\n\n2\n00:00:01.500 --> 00:00:04.200\nthis is the meeting.\n");
    // The API key never reaches the logs.
    expect(service.logs.join("\n")).not.toContain("sk-test-key");
  });

  it("an engine that keeps failing: retried with backoff, then marked failed, visibly", async () => {
    whisper.failing = true;
    const before = whisper.requests.length;
    const { service, tap } = await stack({
      TRANSCRIPTION_ENGINE: "openai",
      TRANSCRIPTION_OPENAI_BASE_URL: whisper.url,
      TRANSCRIPTION_MAX_ATTEMPTS: "3",
      TRANSCRIPTION_RETRY_BASE_MS: "100",
    });
    const { callId, recordingId, admin } = await recordSpeech(service);
    const failed = await tap.waitFor(transcriptEvent("swp.call.transcript_failed", recordingId), 30_000);
    expect(failed.data).toMatchObject({ attempts: 3 });
    expect(String(failed.data["error"])).toContain("transcription service answered 500");
    expect(whisper.requests.length - before).toBe(3);
    const [recording] = await listed(service, callId, admin);
    expect(recording?.transcription).toMatchObject({ status: "failed", attempts: 3, vtt: null });
    expect(tap.forCall(callId).filter((e) => e.type === "swp.call.transcript")).toEqual([]);
  });

  it("a tenant whose policy disallows transcription gets the recording but no job", async () => {
    const { service, tap } = await stack({});
    const sync = { headers: { authorization: `Bearer ${await internalToken()}` } };
    await directoryClient(service.baseUrl).client.putTenantPolicy(
      { tenantId: "acme", policy: { recordingsEnabled: true, transcriptionEnabled: false } },
      sync,
    );
    const { callId, recordingId, admin } = await recordSpeech(service);
    await tap.waitFor((e) => e.type === "swp.call.recording_ready" && (e.data["recording"] as { id: string }).id === recordingId, 20_000);
    const [recording] = await listed(service, callId, admin);
    expect(recording?.transcription).toBeNull();
  });

  it("a worker killed mid-job: the job is delivered again to another worker and posted once", async () => {
    const env = {
      TRANSCRIPTION_ENGINE: "openai",
      TRANSCRIPTION_OPENAI_BASE_URL: whisper.url,
      TRANSCRIPTION_WORKER: "off",
      TRANSCRIPTION_ACK_WAIT_SECONDS: "2",
    };
    const { service, tap, nats } = await stack(env);
    const workerEnv = {
      ...env,
      // The service's own store: its SQLite file, or its PostgreSQL database.
      DATABASE_PATH: service.app.config.databasePath,
      ...(service.app.config.postgres && { DATABASE_URL: service.app.config.postgres.url }),
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      LIVEKIT_URL: livekit.wsUrl,
      LIVEKIT_API_KEY: livekit.apiKey,
      LIVEKIT_API_SECRET: livekit.apiSecret,
      NATS_URL: nats.url,
      S3_ENDPOINT: minio.endpoint,
      S3_ACCESS_KEY: minio.accessKey,
      S3_SECRET_KEY: minio.secretKey,
      S3_BUCKET: bucket,
    };
    let release!: () => void;
    whisper.hold = new Promise<void>((resolve) => (release = resolve));
    const firstRequest = new Promise<void>((resolve) => (whisper.onRequest = resolve));
    const before = whisper.requests.length;
    const doomed = await spawnService(workerEnv, "worker");
    try {
      const { callId, recordingId } = await recordSpeech(service);
      await firstRequest;
      doomed.child.kill("SIGKILL");
      expect(await doomed.exited).toBe("SIGKILL");
      whisper.hold = undefined;
      whisper.onRequest = undefined;
      release();

      const survivor = await spawnService(workerEnv, "worker");
      try {
        await tap.waitFor(transcriptEvent("swp.call.transcript", recordingId), 30_000);
        await tap.settle(service);
        expect(tap.forCall(callId).filter((e) => e.type === "swp.call.transcript")).toHaveLength(1);
        expect(whisper.requests.length - before).toBe(2);
        const [recording] = await listed(service, callId, await userToken("admin"));
        expect(recording?.transcription).toMatchObject({ status: "ready", attempts: 2 });
      } finally {
        survivor.child.kill("SIGTERM");
        expect(await survivor.exited).toBe(0);
      }
    } finally {
      release();
      whisper.hold = undefined;
      whisper.onRequest = undefined;
    }
  });
});
