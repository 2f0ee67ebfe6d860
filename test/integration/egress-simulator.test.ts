import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import {
  EgressClient,
  EgressStatus,
  EncodedFileOutput,
  EncodedFileType,
  RoomServiceClient,
  S3Upload,
  WebhookReceiver,
  type WebhookEvent,
} from "livekit-server-sdk";
import { Client as MinioClient } from "minio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEgressSimulator, type EgressSimulator } from "../support/egress-simulator.js";
import { MINIO_REGION, minioClient } from "../support/minio-server.js";
import { sharedLiveKit, sharedMinio } from "../support/shared-servers.js";
import { within } from "../support/wait.js";

// The egress simulator in front of a real livekit-server: the SDK's EgressClient and RoomServiceClient both talk
// to the simulator's URL; recordings land in a real MinIO; webhooks are verified with the SDK's WebhookReceiver.

const run = promisify(execFile);

interface Received {
  readonly event: WebhookEvent;
  readonly body: string;
  readonly authorization: string;
}

/** A webhook endpoint that verifies every delivery as the service would, and can refuse the next few with 503. */
async function startWebhookSink(apiKey: string, apiSecret: string) {
  const receiver = new WebhookReceiver(apiKey, apiSecret);
  const received: Received[] = [];
  const rejected: string[] = [];
  const refused: string[] = []; // bodies answered with 503
  const waiters = new Set<() => void>();
  let refuse = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const authorization = req.headers.authorization ?? "";
        if (refuse > 0) {
          refuse--;
          refused.push(body);
          res.writeHead(503).end();
          return;
        }
        try {
          const event = await receiver.receive(body, authorization);
          expect(req.headers["content-type"]).toBe("application/webhook+json");
          received.push({ event, body, authorization });
          res.end();
        } catch (err) {
          rejected.push(String(err));
          res.writeHead(401).end();
        }
        for (const wake of waiters) wake();
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/calls/webhook`;
  return {
    url,
    received,
    rejected,
    refused,
    refuseNext: (n: number) => {
      refuse = n;
    },
    /** Events for one egress, in arrival order. */
    of: (egressId: string) => received.filter((r) => r.event.egressInfo?.egressId === egressId),
    waitFor: (what: string, match: (r: Received) => boolean, ms = 20_000): Promise<Received> =>
      within(
        what,
        new Promise<Received>((resolve) => {
          const check = () => {
            const hit = received.find(match);
            if (hit === undefined) return;
            waiters.delete(check);
            resolve(hit);
          };
          waiters.add(check);
          check();
        }),
        ms,
      ),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const livekit = sharedLiveKit();
const minio = sharedMinio();
let sink: Awaited<ReturnType<typeof startWebhookSink>>;
let sim: EgressSimulator;
let egress: EgressClient;
let rooms: RoomServiceClient;
let s3: MinioClient;
let bucket: string;

beforeAll(async () => {
  sink = await startWebhookSink(livekit.apiKey, livekit.apiSecret);
  sim = await startEgressSimulator({ livekit, webhookUrl: () => sink.url });
  egress = new EgressClient(sim.url, livekit.apiKey, livekit.apiSecret);
  rooms = new RoomServiceClient(sim.url, livekit.apiKey, livekit.apiSecret);
  bucket = await minio.createBucket();
  s3 = minioClient(minio);
});

afterAll(async () => {
  await sim?.close();
  await sink?.close();
});

const newRoom = async (): Promise<string> => {
  const name = `room-${randomUUID()}`;
  await rooms.createRoom({ name, emptyTimeout: 120 });
  return name;
};

const fileOutput = (filepath: string) =>
  new EncodedFileOutput({
    fileType: EncodedFileType.MP4,
    filepath,
    output: {
      case: "s3",
      value: new S3Upload({
        accessKey: minio.accessKey,
        secret: minio.secretKey,
        region: MINIO_REGION,
        endpoint: minio.endpoint,
        bucket,
        forcePathStyle: true,
      }),
    },
  });

const recordingPath = () => `recordings/${randomUUID()}/${Date.now()}.mp4`;

const endedOf = (id: string) => (r: Received) => r.event.event === "egress_ended" && r.event.egressInfo?.egressId === id;

async function download(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await s3.getObject(bucket, key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function probe(bytes: Buffer): Promise<{ format: string; duration: number; streams: string[] }> {
  const child = run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i", "pipe:0"]);
  child.child.stdin!.end(bytes);
  const out = JSON.parse((await child).stdout) as {
    format: { format_name: string; duration: string };
    streams: { codec_type: string; codec_name: string }[];
  };
  return {
    format: out.format.format_name,
    duration: Number(out.format.duration),
    streams: out.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(),
  };
}

describe("egress simulator", () => {
  it("passes RoomService calls through to the real livekit-server", async () => {
    const name = await newRoom();
    const direct = new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret);
    expect((await direct.listRooms([name])).map((r) => r.name)).toEqual([name]);
    expect((await rooms.listRooms([name])).map((r) => r.name)).toEqual([name]);
    await rooms.deleteRoom(name);
    expect(await direct.listRooms([name])).toEqual([]);
    // The real server's own error answers come back unchanged.
    await expect(rooms.deleteRoom(name)).rejects.toMatchObject({ status: 404, code: "not_found" });
  });

  it("records a room to MinIO: started, active, ending, complete with a real mp4, signed webhooks", async () => {
    const name = await newRoom();
    const filepath = recordingPath();
    const t0 = Date.now();
    const started = await egress.startRoomCompositeEgress(name, fileOutput(filepath), { layout: "grid" });
    const startMs = Date.now() - t0;
    expect(started.egressId).toMatch(/^EG_[0-9A-Za-z]{12}$/);
    expect(started.roomName).toBe(name);
    expect(started.roomId).toMatch(/^RM_/);
    expect(started.status).toBe(EgressStatus.EGRESS_STARTING);
    expect(started.startedAt).toBeGreaterThan(BigInt(t0 - 1000) * 1_000_000n);
    const id = started.egressId;

    await sink.waitFor("egress_updated ACTIVE", (r) => r.event.event === "egress_updated" && r.event.egressInfo?.egressId === id);
    expect(sink.of(id).map((r) => [r.event.event, r.event.egressInfo!.status])).toEqual([
      ["egress_started", EgressStatus.EGRESS_STARTING],
      ["egress_updated", EgressStatus.EGRESS_ACTIVE],
    ]);
    // LiveKit's wire format: no Bearer prefix, camelCase, int64 as strings, zero values (STARTING) left out,
    // and egress events carry only egressInfo; the S3 credentials in the echoed request are redacted.
    const first = sink.of(id)[0]!;
    expect(first.authorization).not.toMatch(/^Bearer /);
    const json = JSON.parse(first.body) as Record<string, unknown> & { egressInfo: Record<string, unknown> };
    expect(Object.keys(json).sort()).toEqual(["createdAt", "egressInfo", "event", "id"]);
    expect(json["id"]).toMatch(/^EV_/);
    expect(json["createdAt"]).toMatch(/^\d+$/);
    expect(json.egressInfo["status"]).toBeUndefined();
    expect(json.egressInfo["startedAt"]).toMatch(/^\d+$/);
    expect(first.body).not.toContain(minio.secretKey);
    expect(first.body).toContain('"secret":"{secret}"');

    expect((await egress.listEgress({ roomName: name, active: true })).map((e) => e.egressId)).toEqual([id]);

    // Let it record for a while: the file lasts as long as the egress ran.
    await new Promise((r) => setTimeout(r, 1_500));
    const stopped = await egress.stopEgress(id);
    const stoppedAt = Date.now();
    expect(stopped.status).toBe(EgressStatus.EGRESS_ENDING);

    const ended = (await sink.waitFor("egress_ended", endedOf(id))).event.egressInfo!;
    const endMs = Date.now() - stoppedAt;
    expect(sink.of(id).map((r) => EgressStatus[r.event.egressInfo!.status])).toEqual([
      "EGRESS_STARTING",
      "EGRESS_ACTIVE",
      "EGRESS_ENDING",
      "EGRESS_COMPLETE",
    ]);
    expect(new Set(sink.of(id).map((r) => r.event.id)).size).toBe(4);
    expect(ended.status).toBe(EgressStatus.EGRESS_COMPLETE);
    expect(ended.error).toBe("");
    expect(ended.endedAt).toBeGreaterThanOrEqual(ended.startedAt);
    const [file] = ended.fileResults;
    expect(ended.fileResults).toHaveLength(1);
    expect(file!.filename).toBe(filepath);
    expect(file!.location).toBe(`${minio.endpoint}/${bucket}/${filepath}`);
    expect(file!.size).toBeGreaterThan(1000n);
    expect(Number(file!.duration) / 1e9).toBeGreaterThanOrEqual(1.5);
    expect(Number(file!.duration) / 1e9).toBeLessThanOrEqual((stoppedAt - t0) / 1000);
    expect(file!.startedAt).toBe(ended.startedAt);
    expect(ended.result.case).toBe("file"); // the deprecated single-file result, as for the SDK's legacy `file`

    const stat = await s3.statObject(bucket, filepath);
    expect(BigInt(stat.size)).toBe(file!.size);
    const bytes = await download(filepath);
    expect(bytes.subarray(4, 8).toString("latin1")).toBe("ftyp");
    const media = await probe(bytes);
    expect(media.format).toContain("mp4");
    expect(media.streams).toEqual(["audio:aac", "video:h264"]);
    expect(Math.abs(media.duration - Number(file!.duration) / 1e9)).toBeLessThan(0.3);

    const seen = sim.egresses.find((e) => e.egressId === id)!;
    expect(seen).toMatchObject({ roomName: name, filepath, bucket, audioOnly: false, status: "EGRESS_COMPLETE", size: Number(file!.size) });

    // Stopping a finished egress: 412, as LiveKit answers.
    await expect(egress.stopEgress(id)).rejects.toMatchObject({
      status: 412,
      code: "failed_precondition",
      message: "egress with status EGRESS_COMPLETE cannot be stopped",
    });
    expect(sink.rejected).toEqual([]);
    console.log(`egress timings: start ${startMs} ms, stop → egress_ended ${endMs} ms`);
  });

  it("failNext: the next egress ends with that status and error, and uploads nothing", async () => {
    const name = await newRoom();
    const filepath = recordingPath();
    sim.failNext("FAILED", "simulated: pipeline crashed");
    const { egressId: id } = await egress.startRoomCompositeEgress(name, fileOutput(filepath));
    await sink.waitFor("egress_updated ACTIVE", (r) => r.event.egressInfo?.egressId === id && r.event.egressInfo.status === EgressStatus.EGRESS_ACTIVE);
    await egress.stopEgress(id);
    const ended = (await sink.waitFor("egress_ended", endedOf(id))).event.egressInfo!;
    expect(ended.status).toBe(EgressStatus.EGRESS_FAILED);
    expect(ended.error).toBe("simulated: pipeline crashed");
    expect(ended.fileResults).toEqual([]);
    await expect(s3.statObject(bucket, filepath)).rejects.toMatchObject({ code: "NotFound" });
    await expect(egress.stopEgress(id)).rejects.toMatchObject({ status: 412 });

    // Only the next one: the egress after it completes.
    const next = await egress.startRoomCompositeEgress(name, fileOutput(recordingPath()));
    await egress.stopEgress(next.egressId);
    expect((await sink.waitFor("egress_ended", endedOf(next.egressId))).event.egressInfo!.status).toBe(EgressStatus.EGRESS_COMPLETE);
  });

  it("listEgress({active: true}) lists only running egresses; by id and room too", async () => {
    const name = await newRoom();
    const a = await egress.startRoomCompositeEgress(name, fileOutput(recordingPath()));
    const b = await egress.startRoomCompositeEgress(name, fileOutput(recordingPath()));
    await egress.stopEgress(a.egressId);
    // Like LiveKit, "active" is STARTING, ACTIVE and ENDING (while the file is written and uploaded).
    const whileEnding = await egress.listEgress({ active: true });
    expect(whileEnding.map((e) => e.egressId)).toContain(b.egressId);
    for (const e of whileEnding.filter((e) => e.egressId === a.egressId)) expect(e.status).toBe(EgressStatus.EGRESS_ENDING);
    await sink.waitFor("a ended", endedOf(a.egressId));

    const active = await egress.listEgress({ active: true });
    expect(active.map((e) => e.egressId)).toEqual([b.egressId]);
    expect((await egress.listEgress({ roomName: name })).map((e) => e.egressId)).toEqual([a.egressId, b.egressId]);
    const [one] = await egress.listEgress({ egressId: a.egressId });
    expect(one!.status).toBe(EgressStatus.EGRESS_COMPLETE);
    expect(one!.fileResults).toHaveLength(1);
    await expect(egress.listEgress({ egressId: "EG_doesnotexist" })).rejects.toMatchObject({ status: 404 });

    await egress.stopEgress(b.egressId);
    await sink.waitFor("b ended", endedOf(b.egressId));
    expect(await egress.listEgress({ roomName: name, active: true })).toEqual([]);
  });

  it("answers like LiveKit: unknown room 404, unknown egress 404, no roomRecord grant 401, no workers 503", async () => {
    await expect(egress.startRoomCompositeEgress(`nope-${randomUUID()}`, fileOutput(recordingPath()))).rejects.toMatchObject({
      status: 404,
      code: "not_found",
    });
    await expect(egress.stopEgress("EG_doesnotexist")).rejects.toMatchObject({ status: 404, code: "not_found" });
    const wrongSecret = new EgressClient(sim.url, livekit.apiKey, "x".repeat(64));
    await expect(wrongSecret.listEgress()).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    const res = await fetch(`${sim.url}/twirp/livekit.Egress/ListEgress`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: "unauthenticated", msg: "permissions denied" });

    const name = await newRoom();
    const before = sim.egresses.length;
    sim.refuseNextStart();
    await expect(egress.startRoomCompositeEgress(name, fileOutput(recordingPath()))).rejects.toMatchObject({
      status: 503,
      code: "unavailable",
    });
    expect(sim.egresses).toHaveLength(before);
    const ok = await egress.startRoomCompositeEgress(name, fileOutput(recordingPath()));
    await egress.stopEgress(ok.egressId);
    await sink.waitFor("egress_ended", endedOf(ok.egressId));
  });

  it("records audio only, fixes a missing extension, and ends when the room closes", async () => {
    const name = await newRoom();
    const { egressId: id } = await egress.startRoomCompositeEgress(name, fileOutput(`recordings/${randomUUID()}/noext`), {
      audioOnly: true,
    });
    await rooms.deleteRoom(name); // no StopEgress: a room-composite egress ends with its room
    const ended = (await sink.waitFor("egress_ended", endedOf(id))).event.egressInfo!;
    expect(ended.status).toBe(EgressStatus.EGRESS_COMPLETE);
    const file = ended.fileResults[0]!;
    expect(file.filename).toMatch(/\/noext\.mp4$/);
    const media = await probe(await download(file.filename));
    expect(media.streams).toEqual(["audio:aac"]);
    expect(media.duration).toBeGreaterThanOrEqual(0.99);
  });

  it("retries a webhook the receiver refused with 503, resending the same event", async () => {
    const name = await newRoom();
    sink.refuseNext(1);
    const { egressId: id } = await egress.startRoomCompositeEgress(name, fileOutput(recordingPath()));
    const t0 = Date.now();
    await sink.waitFor("egress_started after a retry", (r) => r.event.event === "egress_started" && r.event.egressInfo?.egressId === id);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // LiveKit backs off 1 s first
    const retried = sink.of(id)[0]!;
    expect(sink.refused.map((b) => (JSON.parse(b) as { id: string }).id)).toEqual([retried.event.id]);
    expect(sink.refused).toEqual([retried.body]); // the same body, so a receiver can dedupe on the event id
    await egress.stopEgress(id);
    await sink.waitFor("egress_ended", endedOf(id));
    expect(sink.of(id).map((r) => r.event.event)).toEqual(["egress_started", "egress_updated", "egress_updated", "egress_ended"]);
  });
});
