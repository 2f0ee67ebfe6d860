import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EnvVar } from "../../src/config.js";
import { restApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startEgressSimulator, type EgressSimulator } from "../support/egress-simulator.js";
import { EventTap, type Envelope } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit, sharedMinio } from "../support/shared-servers.js";
import { spawnService } from "../support/service-process.js";
import { internalToken, TEST_JWT_SECRET, userToken } from "../support/tokens.js";

/**
 * A recorded call with real speech (espeak-ng), transcribed by a durable job:
 * the local engine (PocketSphinx), an OpenAI-compatible server, and an engine
 * that keeps failing.
 */

const livekit = sharedLiveKit();
const minio = sharedMinio();
let bucket: string;
let dir: string;
let speechWav: string;
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
  speechWav = join(dir, "speech.wav");
  // The sentence and voice are chosen so that PocketSphinx's general model reliably hears "hello world".
  execFileSync("espeak-ng", ["-v", "en-us+m3", "-s", "120", "-w", speechWav, "hello world. this is a test of the meeting recording. thank you very much"]);
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
async function stack(env: Partial<Record<EnvVar, string>>) {
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
    vtt: null | { key: string; download_url: string };
    txt: null | { key: string; download_url: string };
  };
}

async function listed(service: RunningService, callId: string, token: string): Promise<Listed[]> {
  const res = await fetch(`${service.baseUrl}/v1/calls/${callId}/recordings`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { data: Listed[] }).data;
}

describe("transcription", () => {
  it("the local engine (PocketSphinx) transcribes real speech; the transcript is posted to the room and stored as WebVTT and text", async () => {
    const { service, tap } = await stack({});
    const { callId, recordingId, admin } = await recordSpeech(service);
    const event = await tap.waitFor(transcriptEvent("swp.call.transcript", recordingId), 90_000);
    const text = String(event.data["text"]).toLowerCase();
    expect(text).toContain("hello");
    expect(text).toContain("world");
    expect(event.data).toMatchObject({ engine: "local", truncated: false });
    expect(event.subject).toMatch(/^swp\.room\..+\.call$/);

    const [recording] = await listed(service, callId, await userToken("bob"));
    expect(recording?.transcription).toMatchObject({ status: "ready", engine: "local", attempts: 1, error: "" });
    expect(recording?.transcription?.vtt?.key).toMatch(new RegExp(`^recordings/${callId}/.+\\.vtt$`));
    const vtt = await (await fetch(recording?.transcription?.vtt?.download_url ?? "")).text();
    expect(vtt.startsWith("WEBVTT\n\n1\n00:00:")).toBe(true);
    expect(vtt.toLowerCase()).toContain("world");
    const txt = await (await fetch(recording?.transcription?.txt?.download_url ?? "")).text();
    expect(txt.trim()).toBe(recording?.transcription?.text);
    // The admin sees the same listing.
    expect((await listed(service, callId, admin))[0]?.transcription?.status).toBe("ready");
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
      DATABASE_PATH: service.app.config.databasePath,
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
