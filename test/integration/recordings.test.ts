import { EgressClient, EncodedFileOutput, EncodedFileType, S3Upload } from "livekit-server-sdk";
import { Client as MinioClient } from "minio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restApi, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startEgressSimulator, type EgressSimulator } from "../support/egress-simulator.js";
import { EventTap, type Envelope } from "../support/event-tap.js";
import { MINIO_REGION } from "../support/minio-server.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit, sharedMinio } from "../support/shared-servers.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { internalToken, userToken } from "../support/tokens.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";

/**
 * Recording a live call end to end: the service asks LiveKit for a room
 * composite egress (played by the simulator, which writes a real ffmpeg mp4 to
 * the real MinIO and sends signed egress webhooks), registers the file as a
 * media entry, and hands out a presigned URL that downloads the bytes. Clients
 * reach MinIO under another name than the service does (S3_PUBLIC_ENDPOINT): a
 * TCP proxy on another port, as "localhost" where the service uses 127.0.0.1.
 */

const livekit = sharedLiveKit();
const minio = sharedMinio();
let nats: NatsServer;
let publicS3: TcpProxy;
let publicEndpoint: string;
let egress: EgressSimulator;
let service: RunningService;
let quickStop: RunningService;
let tap: EventTap;
let api: CallsApi;
let bucket: string;

interface RecordingJson {
  id: string;
  call_id: string;
  status: string;
  audio: boolean;
  video: boolean;
  transcript: boolean;
  started_at: string;
  ended_at: string | null;
  error: string;
  media: null | {
    media_id: string;
    bucket: string;
    key: string;
    mime_type: string;
    size_bytes: number;
    duration_seconds: number;
    download_url: string;
    download_url_expires_at: string | null;
  };
}

beforeAll(async () => {
  nats = await startNatsServer();
  bucket = await minio.createBucket();
  publicS3 = await startTcpProxy(minio.port);
  publicEndpoint = `http://localhost:${publicS3.port}`;
  // Like a LiveKit deployment, the simulator posts every egress webhook to one URL: the main service's, known
  // once it listens (a port picked beforehand could be taken by another process by then).
  let webhookUrl = "";
  egress = await startEgressSimulator({ livekit, webhookUrl: () => webhookUrl });
  const env = {
    NATS_URL: nats.url,
    S3_ENDPOINT: minio.endpoint,
    S3_ACCESS_KEY: minio.accessKey,
    S3_SECRET_KEY: minio.secretKey,
    S3_BUCKET: bucket,
    S3_PUBLIC_ENDPOINT: publicEndpoint,
    RECONCILE_INTERVAL_SECONDS: "0",
    // A test holds LiveKit's answer to the reconcile pass open while it starts a recording: no timeout meanwhile.
    LIVEKIT_REQUEST_TIMEOUT_MS: "60000",
  };
  const viaSimulator = { ...livekit, httpUrl: egress.url };
  service = await startService(viaSimulator, env);
  webhookUrl = `${service.baseUrl}/v1/calls/webhook`;
  quickStop = await startService(viaSimulator, { ...env, RECORDING_MAX_MINUTES: "0.02" });
  tap = await EventTap.start(nats.url);
  api = restApi(service.baseUrl);
  const sync = { headers: { authorization: `Bearer ${await internalToken()}` } };
  for (const s of [service, quickStop]) {
    const dir = directoryClient(s.baseUrl).client;
    await dir.putTenantPolicy({ tenantId: "acme", policy: { recordingsEnabled: true, transcriptionEnabled: false } }, sync);
    await dir.putTenantPolicy({ tenantId: "globex", policy: { recordingsEnabled: false, transcriptionEnabled: false } }, sync);
  }
});

afterAll(async () => {
  await tap?.close();
  await quickStop?.stop();
  await service?.stop();
  await egress?.close();
  await publicS3?.close();
  await nats?.stop();
});

async function call(method: string, path: string, token: string, body?: unknown, base = service.baseUrl) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as { data?: unknown; error?: { code: string; message: string } } };
}

const startRec = (callId: string, token: string, body: unknown = {}, base?: string) =>
  call("POST", `/v1/calls/${callId}/recording/start`, token, body, base);
const stopRec = (callId: string, token: string, base?: string) => call("POST", `/v1/calls/${callId}/recording/stop`, token, undefined, base);
const listRec = async (callId: string, token: string) =>
  (await call("GET", `/v1/calls/${callId}/recordings`, token)).json.data as RecordingJson[];

const recordingEvent = (type: string, recordingId: string) => (e: Envelope) =>
  e.type === `swp.call.${type}` && (e.data["recording"] as { id: string } | undefined)?.id === recordingId;

/** An egress for the call's room that no recording asked for, as a start that timed out here leaves behind. */
async function startOrphanEgress(callId: string): Promise<string> {
  const client = new EgressClient(egress.url, livekit.apiKey, livekit.apiSecret);
  const upload = new S3Upload({ accessKey: minio.accessKey, secret: minio.secretKey, endpoint: minio.endpoint, bucket, region: MINIO_REGION, forcePathStyle: true });
  const output = new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: `orphans/${callId}.mp4`, output: { case: "s3", value: upload } });
  return (await client.startRoomCompositeEgress(`scaiwave-${callId}`, output)).egressId;
}

const statusOf = (egressId: string) => egress.egresses.find((e) => e.egressId === egressId)?.status;

/** The object's bytes, read from MinIO at the address the service uses. */
async function storedObject(key: string): Promise<Buffer> {
  const client = new MinioClient({
    endPoint: "127.0.0.1",
    port: minio.port,
    useSSL: false,
    accessKey: minio.accessKey,
    secretKey: minio.secretKey,
    region: MINIO_REGION,
    pathStyle: true,
  });
  return Buffer.concat((await (await client.getObject(bucket, key)).toArray()) as Buffer[]);
}

async function liveCall(members: Record<string, number> = { admin: 100, bob: 0 }, base = service.baseUrl) {
  const roomId = await directoryClient(base).room(members);
  const admin = await userToken("admin");
  const ticket = await restApi(base).initiate(admin, roomId, "video");
  return { callId: ticket.call_id, admin, roomId };
}

describe("recordings", () => {
  it("records a live call to MinIO, registers it as media, and serves a presigned download", async () => {
    const { callId, admin, roomId } = await liveCall();
    const started = await startRec(callId, admin, { audio: true, video: true });
    expect(started.status).toBe(200);
    const recording = started.json.data as RecordingJson;
    expect(recording).toMatchObject({ call_id: callId, status: "starting", audio: true, video: true, transcript: false, media: null });
    await tap.waitFor(recordingEvent("recording_started", recording.id));

    const stopped = await stopRec(callId, admin);
    expect((stopped.json.data as RecordingJson).status).toBe("stopping");
    const ready = await tap.waitFor(recordingEvent("recording_ready", recording.id), 20_000);
    expect(ready.room_id).toBe(roomId);

    const [listed] = await listRec(callId, await userToken("bob"));
    expect(listed).toMatchObject({ id: recording.id, status: "ready", error: "" });
    expect(listed?.ended_at).not.toBeNull();
    const media = listed?.media;
    expect(media?.bucket).toBe(bucket);
    expect(media?.key).toMatch(new RegExp(`^recordings/${callId}/[0-9TZ-]+\\.mp4$`));
    expect(media?.mime_type).toBe("video/mp4");
    expect(media?.size_bytes).toBeGreaterThan(1000);
    expect(media?.duration_seconds).toBeGreaterThan(0);
    expect(Date.parse(media?.download_url_expires_at ?? "")).toBeGreaterThan(Date.now());

    // The egress was asked for exactly that file; the URL is for the public address and downloads the
    // stored bytes through it, a real mp4.
    expect(egress.egresses.find((e) => e.filepath === media?.key)).toBeDefined();
    expect(media?.download_url.startsWith(`${publicEndpoint}/${bucket}/`)).toBe(true);
    const download = await fetch(media?.download_url ?? "");
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.length).toBe(media?.size_bytes);
    expect(bytes.equals(await storedObject(media?.key ?? ""))).toBe(true);
    expect(bytes.subarray(4, 8).toString("latin1")).toBe("ftyp");

    // GetCall lists it too; the event carries the recording without a download URL.
    const state = (await call("GET", `/v1/calls/${callId}`, admin)).json.data as { recordings: RecordingJson[] };
    expect(state.recordings.map((r) => r.id)).toEqual([recording.id]);
    expect((ready.data["recording"] as RecordingJson).media?.download_url).toBe("");
  });

  it("audio-only recordings honour the request", async () => {
    const { callId, admin } = await liveCall();
    const recording = (await startRec(callId, admin, { audio: true, video: false })).json.data as RecordingJson;
    expect(egress.egresses.at(-1)).toMatchObject({ audioOnly: true });
    await stopRec(callId, admin);
    await tap.waitFor(recordingEvent("recording_ready", recording.id), 20_000);
    expect((await listRec(callId, admin))[0]?.media?.mime_type).toBe("audio/mp4");
  });

  it("refuses non-admins, disabled tenants, other tenants, ended calls and empty requests", async () => {
    const { callId, admin } = await liveCall({ admin: 100, mod: 50 });
    expect((await startRec(callId, await userToken("mod"))).json.error?.code).toBe("SW_CALL_FORBIDDEN");
    expect((await startRec(callId, await userToken("admin", "globex"))).json.error?.code).toBe("SW_CALL_NOT_FOUND");
    const foreign = await call("GET", `/v1/calls/${callId}/recordings`, await userToken("admin", "globex"));
    expect(foreign.json.error?.code).toBe("SW_CALL_NOT_FOUND");
    const invalid = await startRec(callId, admin, { audio: false, video: false });
    expect(invalid.status).toBe(400);

    const roomId = await directoryClient(service.baseUrl).room({ admin: 100 }, "globex");
    const globexAdmin = await userToken("admin", "globex");
    const globexCall = await api.initiate(globexAdmin, roomId, "audio");
    const disabled = await startRec(globexCall.call_id, globexAdmin);
    expect(disabled.status).toBe(403);
    expect(disabled.json.error?.code).toBe("SW_CALL_RECORDING_DISABLED");

    await api.end(admin, callId);
    expect((await startRec(callId, admin)).json.error?.code).toBe("SW_CALL_ENDED");
  });

  it("one at a time: a second start is refused, stop without a recording is refused, stopping twice is harmless", async () => {
    const { callId, admin } = await liveCall();
    const none = await stopRec(callId, admin);
    expect(none.status).toBe(409);
    expect(none.json.error?.code).toBe("SW_CALL_NOT_RECORDING");

    const first = (await startRec(callId, admin)).json.data as RecordingJson;
    const second = await startRec(callId, admin);
    expect(second.status).toBe(409);
    expect(second.json.error?.code).toBe("SW_CALL_ALREADY_RECORDING");

    const stop1 = await stopRec(callId, admin);
    const stop2 = await stopRec(callId, admin);
    expect(stop2.status).toBe(200);
    expect((stop2.json.data as RecordingJson).id).toBe((stop1.json.data as RecordingJson).id);
    await tap.waitFor(recordingEvent("recording_ready", first.id), 20_000);
  });

  it("start→stop→start quickly leaves exactly one egress running, and ending the call stops it", async () => {
    const { callId, admin } = await liveCall();
    const a = (await startRec(callId, admin)).json.data as RecordingJson;
    await stopRec(callId, admin);
    const b = (await startRec(callId, admin)).json.data as RecordingJson;
    expect(b.id).not.toBe(a.id);
    const running = () => egress.egresses.filter((e) => e.roomName === `scaiwave-${callId}` && ["EGRESS_STARTING", "EGRESS_ACTIVE"].includes(e.status));
    expect(running()).toHaveLength(1);

    await api.end(admin, callId);
    // Two egresses finish independently: wait for both files.
    await tap.waitFor(recordingEvent("recording_ready", a.id), 20_000);
    await tap.waitFor(recordingEvent("recording_ready", b.id), 20_000);
    expect(running()).toHaveLength(0);
    // Listing works after the call ended.
    const listed = await listRec(callId, admin);
    expect(listed.map((r) => [r.id, r.status])).toEqual([
      [a.id, "ready"],
      [b.id, "ready"],
    ]);
  });

  it("an egress nobody owns is stopped by the reconcile pass", async () => {
    const { callId } = await liveCall();
    const orphan = await startOrphanEgress(callId);
    await service.app.reconciler.runOnce();
    expect(statusOf(orphan)).not.toMatch(/STARTING|ACTIVE/);
  });

  it("a recording started while the reconcile pass waits for LiveKit's egress list keeps its egress", async () => {
    const { callId, admin } = await liveCall();
    const orphan = await startOrphanEgress(callId);
    const slowList = egress.holdNextList();
    const pass = service.app.reconciler.runOnce();
    await slowList.arrived;
    const started = await startRec(callId, admin);
    expect(started.status).toBe(200);
    const recording = started.json.data as RecordingJson;
    const ours = egress.egresses.find((e) => e.roomName === `scaiwave-${callId}` && e.egressId !== orphan)?.egressId ?? "";
    // LiveKit's answer, which the pass receives now, lists the new recording's egress beside the orphan.
    slowList.release();
    await pass;

    expect(statusOf(orphan)).not.toMatch(/STARTING|ACTIVE/);
    expect(statusOf(ours)).toMatch(/STARTING|ACTIVE/);
    expect((await listRec(callId, admin)).map((r) => [r.id, r.status])).toEqual([[recording.id, expect.stringMatching(/^(starting|recording)$/)]]);
    // Its owner stops it as usual.
    await stopRec(callId, admin);
    await tap.waitFor(recordingEvent("recording_ready", recording.id), 20_000);
  });

  it("a failed egress marks the recording failed, with the reason, and tells the room", async () => {
    const { callId, admin } = await liveCall();
    egress.failNext("FAILED", "disk full");
    const recording = (await startRec(callId, admin)).json.data as RecordingJson;
    await stopRec(callId, admin);
    const failed = await tap.waitFor(recordingEvent("recording_failed", recording.id), 20_000);
    expect((failed.data["recording"] as RecordingJson).status).toBe("failed");
    const [listed] = await listRec(callId, admin);
    expect(listed).toMatchObject({ status: "failed", error: "failed: disk full", media: null });
  });

  it("LiveKit refusing the egress: 503, nothing left behind, and a retry works", async () => {
    const { callId, admin } = await liveCall();
    egress.refuseNextStart();
    const refused = await startRec(callId, admin);
    expect(refused.status).toBe(503);
    expect(refused.json.error?.code).toBe("SW_CALL_LIVEKIT_UNREACHABLE");
    expect(await listRec(callId, admin)).toEqual([]);
    expect((await startRec(callId, admin)).status).toBe(200);
    await stopRec(callId, admin);
  });

  it("replayed and late egress webhooks change nothing", async () => {
    const { callId, admin } = await liveCall();
    const recording = (await startRec(callId, admin)).json.data as RecordingJson;
    await stopRec(callId, admin);
    await tap.waitFor(recordingEvent("recording_ready", recording.id), 20_000);
    const before = await listRec(callId, admin);
    const egressId = egress.egresses.find((e) => e.filepath === before[0]?.media?.key)?.egressId;
    const late = webhookBody({
      event: "egress_ended",
      egressInfo: { egressId, roomName: `scaiwave-${callId}`, status: "EGRESS_FAILED", error: "late and wrong" },
    });
    const auth = await signWebhook(late, livekit.apiKey, livekit.apiSecret);
    expect((await postWebhook(service.baseUrl, late, auth)).json).toEqual({ data: { outcome: "processed" } });
    expect((await postWebhook(service.baseUrl, late, auth)).json).toEqual({ data: { outcome: "duplicate" } });
    await tap.settle(service);
    const after = await listRec(callId, admin);
    expect(after.map((r) => [r.id, r.status, r.media?.key])).toEqual(before.map((r) => [r.id, r.status, r.media?.key]));
    expect(tap.forCall(callId).filter((e) => e.type === "swp.call.recording_failed")).toEqual([]);
  });

  it("stops by itself after RECORDING_MAX_MINUTES", async () => {
    const { callId, admin } = await liveCall({ admin: 100 }, quickStop.baseUrl);
    const recording = (await startRec(callId, admin, {}, quickStop.baseUrl)).json.data as RecordingJson;
    await tap.waitFor(recordingEvent("recording_stopped", recording.id), 10_000);
    // The simulator sends its webhooks to the first service; the stop is what this instance did by itself.
    expect(egress.egresses.find((e) => e.filepath.includes(callId))?.status).not.toMatch(/STARTING|ACTIVE/);
  });
});
