import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { SignJWT } from "jose";
import {
  EgressInfo,
  EgressStatus,
  EncodedFileType,
  RoomCompositeEgressRequest,
  RoomServiceClient,
  TokenVerifier,
  WebhookEvent,
  type EncodedFileOutput,
} from "livekit-server-sdk";
import { Client as MinioClient } from "minio";
import { freePort } from "./ports.js";

/**
 * Plays LiveKit Egress (which needs Redis and a Chrome/GStreamer worker) in tests: an HTTP proxy in front of a
 * real livekit-server that serves `POST /twirp/livekit.Egress/*` itself and passes every other request through.
 * Point the service's LIVEKIT_API_URL at `url`. A room-composite egress to S3 records nothing, but on stop it
 * writes a real ffmpeg-generated media file (as long as the egress ran, 1–10 s) to the requested bucket and
 * path, and sends LiveKit's egress webhooks, signed with the API key, in LiveKit's order and wire format.
 */
export interface EgressSimulator extends AsyncDisposable {
  readonly url: string; // http://127.0.0.1:<port> — use as LIVEKIT_API_URL
  /** Egresses it has seen, newest last (for assertions). */
  readonly egresses: readonly SimulatedEgress[];
  /** The next StartRoomCompositeEgress fails after starting: egress_ended with this status and error. */
  failNext(status: "FAILED" | "ABORTED" | "LIMIT_REACHED", error: string): void;
  /**
   * Records this speech (a WAV file) as the audio of the egresses that follow, instead of a sine tone;
   * the file then lasts as long as the speech. `undefined` goes back to the tone.
   */
  useSpeech(wavPath: string | undefined): void;
  /** Makes the next Start call answer 503 like livekit-server without egress workers. */
  refuseNextStart(): void;
  /**
   * Holds the next ListEgress call until `release()`, then answers with the egresses as they are then: a
   * LiveKit slow to answer. `arrived` resolves once that call is in.
   */
  holdNextList(): ListHold;
  close(): Promise<void>;
}

export interface ListHold {
  readonly arrived: Promise<void>;
  release(): void;
}

export interface SimulatedEgress {
  egressId: string;
  roomName: string;
  filepath: string;
  bucket: string;
  audioOnly: boolean;
  status: string;
  startedAtMs: number;
  endedAtMs?: number;
  size?: number;
}

export interface EgressSimulatorOptions {
  livekit: { httpUrl: string; apiKey: string; apiSecret: string };
  /** Where to POST the signed egress webhooks (the service's /v1/calls/webhook). */
  webhookUrl: string | (() => string);
}

const EGRESS_PREFIX = "/twirp/livekit.Egress/";
const ACTIVE_AFTER_MS = 200; // STARTING → ACTIVE (a real worker takes seconds to launch Chrome)
const MIN_MEDIA_S = 1;
const MAX_MEDIA_S = 10;
const ROOM_POLL_MS = 1_000; // a room-composite egress ends (COMPLETE) when its room closes
// LiveKit's webhook delivery: 5 tries, 1/2/4/8 s apart, on connection errors, 429 and 5xx; events older than
// 30 s are dropped.
const WEBHOOK_TRIES = 5;
const WEBHOOK_BACKOFF_MS = 1_000;
const WEBHOOK_MAX_AGE_MS = 30_000;
const WEBHOOK_TIMEOUT_MS = 5_000;
// Twirp responses like livekit-server's: snake_case names, zero values included, int64 as strings.
const TWIRP_JSON = { useProtoFieldName: true, emitDefaultValues: true } as const;

const TWIRP_STATUS: Record<string, number> = {
  invalid_argument: 400,
  malformed: 400,
  unauthenticated: 401,
  not_found: 404,
  bad_route: 404,
  failed_precondition: 412,
  internal: 500,
  unimplemented: 501,
  unavailable: 503,
};

class TwirpError extends Error {
  constructor(
    readonly code: keyof typeof TWIRP_STATUS,
    msg: string,
  ) {
    super(msg);
  }
}

type EndStatus = "FAILED" | "ABORTED" | "LIMIT_REACHED";
type S3 = { accessKey: string; secret: string; region: string; endpoint: string; bucket: string };

interface Egress {
  readonly info: EgressInfo;
  readonly startedAtMs: number;
  readonly filepath: string;
  readonly container: "mp4" | "ogg";
  readonly audioOnly: boolean;
  readonly videoOnly: boolean;
  readonly s3: S3;
  readonly legacyFile: boolean;
  readonly fail: { status: EndStatus; error: string } | undefined;
  endedAtMs?: number;
  size?: number;
  activeTimer?: NodeJS.Timeout;
  webhooks: Promise<void>; // this egress's FIFO webhook queue
}

export async function startEgressSimulator(opts: EgressSimulatorOptions): Promise<EgressSimulator> {
  const { httpUrl, apiKey, apiSecret } = opts.livekit;
  const upstream = new URL(httpUrl);
  const webhookUrl = typeof opts.webhookUrl === "string" ? () => opts.webhookUrl as string : opts.webhookUrl;
  const verifier = new TokenVerifier(apiKey, apiSecret);
  const rooms = new RoomServiceClient(httpUrl, apiKey, apiSecret);
  const workDir = await mkdtemp(join(tmpdir(), "egress-simulator-"));

  const egresses: Egress[] = [];
  const byId = new Map<string, Egress>();
  const tasks = new Set<Promise<unknown>>();
  const closing = new AbortController();
  let failNext: { status: EndStatus; error: string } | undefined;
  let refuseNext = false;
  let listHold: { arrive(): void; released: Promise<void> } | undefined;
  const holdReleases = new Set<() => void>();
  let speech: string | undefined;
  let roomPoll: NodeJS.Timeout | undefined;

  const track = (p: Promise<unknown>): void => {
    const t = p.catch((err: unknown) => console.error("egress simulator:", err)).finally(() => tasks.delete(t));
    tasks.add(t);
  };

  // ---- webhooks -------------------------------------------------------------------------------------------

  const enqueueWebhook = (eg: Egress, event: "egress_started" | "egress_updated" | "egress_ended"): void => {
    // Serialize now: the info keeps changing after this.
    const ev = new WebhookEvent({
      egressInfo: eg.info.clone(),
      id: guid("EV_"),
      createdAt: BigInt(Math.floor(Date.now() / 1000)),
    });
    ev.event = event; // (livekit-server-sdk's WebhookEvent constructor resets `event`)
    const body = ev.toJsonString();
    const queuedAt = Date.now();
    eg.webhooks = eg.webhooks
      .then(() => deliver(body, queuedAt))
      .catch((err: unknown) => console.error(`egress simulator: ${event} webhook:`, err));
    track(eg.webhooks);
  };

  const deliver = async (body: string, queuedAt: number): Promise<void> => {
    const authorization = await signWebhook(body, apiKey, apiSecret);
    for (let attempt = 1; attempt <= WEBHOOK_TRIES && !closing.signal.aborted; attempt++) {
      if (Date.now() - queuedAt > WEBHOOK_MAX_AGE_MS) return;
      try {
        const res = await fetch(webhookUrl(), {
          method: "POST",
          headers: { "content-type": "application/webhook+json", authorization },
          body,
          signal: AbortSignal.any([closing.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
        });
        await res.arrayBuffer();
        if (res.ok || (res.status < 500 && res.status !== 429)) return;
      } catch {
        // connection refused, reset, timed out: retried
      }
      if (attempt < WEBHOOK_TRIES) await sleep(WEBHOOK_BACKOFF_MS * 2 ** (attempt - 1), closing.signal);
    }
  };

  // ---- egress lifecycle -----------------------------------------------------------------------------------

  const setStatus = (eg: Egress, status: EgressStatus): void => {
    eg.info.status = status;
    eg.info.updatedAt = nowNs();
  };

  const start = async (body: unknown): Promise<unknown> => {
    let req: RoomCompositeEgressRequest;
    try {
      req = RoomCompositeEgressRequest.fromJson(body as never, { ignoreUnknownFields: true });
    } catch (err) {
      throw new TwirpError("malformed", `the json request could not be decoded: ${(err as Error).message}`);
    }
    if (!req.roomName) throw new TwirpError("invalid_argument", "room name cannot be empty");
    const file: EncodedFileOutput | undefined =
      req.fileOutputs[0] ?? (req.output.case === "file" ? req.output.value : undefined);
    if (file === undefined || req.streamOutputs.length || req.segmentOutputs.length || req.imageOutputs.length) {
      throw new TwirpError("unimplemented", "egress simulator: only a single file output is supported");
    }
    if (file.output.case !== "s3") {
      throw new TwirpError("unimplemented", "egress simulator: only S3 uploads are supported");
    }
    const s3 = file.output.value;

    const [room] = await rooms.listRooms([req.roomName]);
    if (room === undefined) throw new TwirpError("not_found", "requested room does not exist");
    if (refuseNext) {
      refuseNext = false;
      throw new TwirpError("unavailable", "no response from servers");
    }

    const egressId = guid("EG_");
    const startedAtMs = Date.now();
    const container = containerFor(file.fileType, file.filepath, req.audioOnly);
    const filepath = storagePath(file.filepath, container, req.roomName, room.sid, new Date(startedAtMs));

    const redacted = req.clone();
    for (const out of [...redacted.fileOutputs, ...(redacted.output.case === "file" ? [redacted.output.value] : [])]) {
      if (out.output.case === "s3") {
        out.output.value.accessKey &&= "{access_key}";
        out.output.value.secret &&= "{secret}";
      }
    }
    const info = new EgressInfo({
      egressId,
      roomId: room.sid,
      roomName: req.roomName,
      status: EgressStatus.EGRESS_STARTING,
      startedAt: BigInt(startedAtMs) * 1_000_000n,
      updatedAt: BigInt(startedAtMs) * 1_000_000n,
      request: { case: "roomComposite", value: redacted },
    });
    const eg: Egress = {
      info,
      startedAtMs,
      filepath,
      container,
      audioOnly: req.audioOnly,
      videoOnly: req.videoOnly,
      s3: { accessKey: s3.accessKey, secret: s3.secret, region: s3.region, endpoint: s3.endpoint, bucket: s3.bucket },
      legacyFile: req.output.case === "file",
      fail: failNext,
      webhooks: Promise.resolve(),
    };
    failNext = undefined;
    egresses.push(eg);
    byId.set(egressId, eg);
    const response = info.toJson(TWIRP_JSON);

    enqueueWebhook(eg, "egress_started");
    eg.activeTimer = setTimeout(() => {
      eg.activeTimer = undefined;
      if (eg.info.status !== EgressStatus.EGRESS_STARTING || closing.signal.aborted) return;
      setStatus(eg, EgressStatus.EGRESS_ACTIVE);
      enqueueWebhook(eg, "egress_updated");
    }, ACTIVE_AFTER_MS);
    watchRooms();
    return response;
  };

  /** STARTING/ACTIVE → ENDING → (file written and uploaded) → COMPLETE, or the failNext status. */
  const end = (eg: Egress): void => {
    clearTimeout(eg.activeTimer);
    eg.activeTimer = undefined;
    const endedAtMs = Date.now();
    setStatus(eg, EgressStatus.EGRESS_ENDING);
    enqueueWebhook(eg, "egress_updated");
    track(finish(eg, endedAtMs));
  };

  const finish = async (eg: Egress, endedAtMs: number): Promise<void> => {
    if (eg.fail) {
      eg.info.error = eg.fail.error;
      return complete(eg, EgressStatus[`EGRESS_${eg.fail.status}`]);
    }
    const seconds = Math.min(MAX_MEDIA_S, Math.max(MIN_MEDIA_S, (endedAtMs - eg.startedAtMs) / 1000));
    let size: number;
    let location: string;
    try {
      const local = join(workDir, `${eg.info.egressId}.${eg.container}`);
      await makeMedia(local, seconds, eg, closing.signal, speech);
      const bytes = await readFile(local);
      await rm(local, { force: true });
      if (closing.signal.aborted) return;
      location = await upload(eg.s3, eg.filepath, bytes, eg.container);
      size = bytes.length;
    } catch (err) {
      if (closing.signal.aborted) return;
      eg.info.error = `egress simulator: ${(err as Error).message}`;
      return complete(eg, EgressStatus.EGRESS_FAILED);
    }
    const startedAt = BigInt(eg.startedAtMs) * 1_000_000n;
    const fileInfo = {
      filename: eg.filepath,
      startedAt,
      endedAt: BigInt(endedAtMs) * 1_000_000n,
      duration: BigInt(Math.round(seconds * 1000)) * 1_000_000n,
      size: BigInt(size),
      location,
    };
    eg.size = size;
    eg.info.fileResults = new EgressInfo({ fileResults: [fileInfo] }).fileResults; // (FileInfo is not re-exported)
    // The deprecated single-file result, which LiveKit still fills for the legacy `file` output the SDK sends.
    if (eg.legacyFile) eg.info.result = { case: "file", value: eg.info.fileResults[0]!.clone() };
    complete(eg, EgressStatus.EGRESS_COMPLETE);
  };

  const complete = (eg: Egress, status: EgressStatus): void => {
    if (closing.signal.aborted) return;
    eg.endedAtMs = Date.now();
    eg.info.endedAt = BigInt(eg.endedAtMs) * 1_000_000n;
    setStatus(eg, status);
    enqueueWebhook(eg, "egress_ended");
  };

  const stop = (body: Record<string, unknown>): unknown => {
    const eg = byId.get(str(body["egressId"] ?? body["egress_id"]));
    if (eg === undefined) throw new TwirpError("not_found", "egress does not exist");
    const status = eg.info.status;
    if (status !== EgressStatus.EGRESS_STARTING && status !== EgressStatus.EGRESS_ACTIVE) {
      throw new TwirpError("failed_precondition", `egress with status ${EgressStatus[status]} cannot be stopped`);
    }
    end(eg);
    return eg.info.toJson(TWIRP_JSON);
  };

  const list = (body: Record<string, unknown>): unknown => {
    const egressId = str(body["egressId"] ?? body["egress_id"]);
    const roomName = str(body["roomName"] ?? body["room_name"]);
    const active = body["active"] === true;
    if (egressId && !byId.has(egressId)) throw new TwirpError("not_found", "egress does not exist");
    const items = egresses.filter(
      (eg) =>
        (!egressId || eg.info.egressId === egressId) &&
        (!roomName || eg.info.roomName === roomName) &&
        (!active || eg.info.status < EgressStatus.EGRESS_COMPLETE),
    );
    return { items: items.map((eg) => eg.info.toJson(TWIRP_JSON)) };
  };

  const running = () =>
    egresses.filter(
      (eg) => eg.info.status === EgressStatus.EGRESS_STARTING || eg.info.status === EgressStatus.EGRESS_ACTIVE,
    );

  // A room-composite egress records until it is stopped or its room closes (then it completes with the file).
  const watchRooms = (): void => {
    if (roomPoll !== undefined || closing.signal.aborted) return;
    roomPoll = setTimeout(() => {
      const poll = (async () => {
        const live = running();
        if (live.length > 0) {
          const names = [...new Set(live.map((eg) => eg.info.roomName))];
          const open = new Set((await rooms.listRooms(names).catch(() => undefined))?.map((r) => r.name) ?? names);
          for (const eg of running()) if (!open.has(eg.info.roomName)) end(eg);
        }
      })();
      track(
        poll.finally(() => {
          roomPoll = undefined;
          if (running().length > 0) watchRooms();
        }),
      );
    }, ROOM_POLL_MS);
  };

  // ---- HTTP -----------------------------------------------------------------------------------------------

  const serveEgress = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = (req.url ?? "").slice(EGRESS_PREFIX.length).split("?")[0];
    const raw = await readBody(req);
    try {
      if (req.method !== "POST") throw new TwirpError("bad_route", `unsupported method ${req.method} (only POST is allowed)`);
      if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
        throw new TwirpError("bad_route", "egress simulator: only Twirp JSON is supported");
      }
      await authorize(req.headers.authorization);
      let body: Record<string, unknown>;
      try {
        body = (raw.length ? JSON.parse(raw.toString("utf8")) : {}) as Record<string, unknown>;
      } catch {
        throw new TwirpError("malformed", "the json request could not be decoded");
      }
      let answer: unknown;
      switch (method) {
        case "StartRoomCompositeEgress":
          answer = await start(body);
          break;
        case "StopEgress":
          answer = stop(body);
          break;
        case "ListEgress": {
          const hold = listHold;
          listHold = undefined;
          if (hold) {
            hold.arrive();
            await hold.released;
          }
          answer = list(body);
          break;
        }
        default:
          throw new TwirpError("unimplemented", `egress simulator: ${method} is not simulated`);
      }
      send(res, 200, answer);
    } catch (err) {
      const e = err instanceof TwirpError ? err : new TwirpError("internal", (err as Error).message);
      send(res, TWIRP_STATUS[e.code] ?? 500, { code: e.code, msg: e.message });
    }
  };

  const authorize = async (header: string | undefined): Promise<void> => {
    const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
    if (!token) throw new TwirpError("unauthenticated", "permissions denied");
    let claims;
    try {
      claims = await verifier.verify(token);
    } catch (err) {
      throw new TwirpError("unauthenticated", `invalid token: ${(err as Error).message}`);
    }
    if (claims.video?.roomRecord !== true) throw new TwirpError("unauthenticated", "permissions denied");
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: upstream.host };
    for (const h of HOP_BY_HOP) delete headers[h];
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (up) => {
        const back: http.OutgoingHttpHeaders = { ...up.headers };
        for (const h of HOP_BY_HOP) delete back[h];
        res.writeHead(up.statusCode ?? 502, up.statusMessage, back);
        up.pipe(res);
        up.on("error", () => res.destroy());
      },
    );
    out.on("error", (err) => {
      if (res.headersSent) res.destroy();
      else send(res, 502, { code: "unavailable", msg: `egress simulator: livekit-server: ${err.message}` });
    });
    res.on("close", () => {
      if (!res.writableFinished) out.destroy(); // the client went away: so does the upstream request
    });
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    if ((req.url ?? "").startsWith(EGRESS_PREFIX)) {
      serveEgress(req, res).catch(() => res.destroy());
    } else {
      forward(req, res);
    }
  });
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing.abort();
      for (const release of holdReleases) release();
      clearTimeout(roomPoll);
      for (const eg of egresses) clearTimeout(eg.activeTimer);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await stopped;
      while (tasks.size > 0) await Promise.allSettled([...tasks]);
      await rm(workDir, { recursive: true, force: true });
    })());

  return {
    url,
    get egresses(): readonly SimulatedEgress[] {
      return egresses.map((eg) => ({
        egressId: eg.info.egressId,
        roomName: eg.info.roomName,
        filepath: eg.filepath,
        bucket: eg.s3.bucket,
        audioOnly: eg.audioOnly,
        status: EgressStatus[eg.info.status],
        startedAtMs: eg.startedAtMs,
        ...(eg.endedAtMs !== undefined && { endedAtMs: eg.endedAtMs }),
        ...(eg.size !== undefined && { size: eg.size }),
      }));
    },
    failNext: (status, error) => {
      failNext = { status, error };
    },
    refuseNextStart: () => {
      refuseNext = true;
    },
    holdNextList: () => {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      holdReleases.add(release);
      listHold = { arrive, released };
      return { arrived, release };
    },
    useSpeech: (wavPath) => {
      speech = wavPath;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

// ---- helpers ----------------------------------------------------------------------------------------------

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"];

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // livekit-server-sdk reads a Twirp error's JSON only for exactly "application/json".
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: http.Server): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
      return port;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 3) throw err;
    }
  }
}

/** `Authorization` for a webhook, as LiveKit signs it: HS256 JWT, iss = key, exp = now + 5 min, sha256 of body. */
async function signWebhook(body: string, apiKey: string, apiSecret: string): Promise<string> {
  const sha256 = createHash("sha256").update(Buffer.from(body, "utf8")).digest("base64");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sha256 })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(apiKey)
    .setNotBefore(now)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(apiSecret));
}

const GUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A LiveKit-style id: prefix + 12 base62 characters. */
function guid(prefix: string): string {
  return prefix + [...randomBytes(12)].map((b) => GUID_ALPHABET[b % GUID_ALPHABET.length]).join("");
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/** Like LiveKit egress: the file type asked for, else the path's extension, else OGG for audio-only, else MP4. */
function containerFor(type: EncodedFileType, filepath: string, audioOnly: boolean): "mp4" | "ogg" {
  if (type === EncodedFileType.MP4) return "mp4";
  if (type === EncodedFileType.OGG) return "ogg";
  if (filepath.endsWith(".mp4")) return "mp4";
  if (filepath.endsWith(".ogg")) return "ogg";
  return audioOnly ? "ogg" : "mp4";
}

const KNOWN_EXTENSIONS = [".mp4", ".ogg", ".webm", ".ts", ".m3u8", ".mkv", ".jpeg", ".png"];

/** The object key, as LiveKit egress makes it: templates filled in, a missing or wrong extension fixed. */
function storagePath(requested: string, container: "mp4" | "ogg", roomName: string, roomId: string, now: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const time = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  const utc =
    `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}` +
    `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}${pad(now.getUTCMilliseconds(), 3)}`;
  let path = requested
    .replaceAll("{room_name}", roomName)
    .replaceAll("{room_id}", roomId)
    .replaceAll("{time}", time)
    .replaceAll("{utc}", utc)
    .replace(/^(\.\.\/)+/, "")
    .replace(/^\/+/, "");
  const ext = `.${container}`;
  if (path === "" || path.endsWith("/")) return `${path}${roomName}-${time}${ext}`;
  if (path.endsWith(ext)) return path;
  const dot = path.lastIndexOf(".");
  if (dot > path.lastIndexOf("/") && KNOWN_EXTENSIONS.includes(path.slice(dot))) path = path.slice(0, dot);
  return path + ext;
}

/** A real media file of `seconds`: a 440 Hz tone, plus a test picture unless audio-only. */
function makeMedia(
  path: string,
  seconds: number,
  eg: { container: "mp4" | "ogg"; audioOnly: boolean; videoOnly: boolean },
  signal: AbortSignal,
  speech: string | undefined,
): Promise<void> {
  const audio = !eg.videoOnly || eg.container === "ogg";
  // With speech, the file lasts as long as the speech (-shortest ends the endless test pattern).
  const d = (speech && audio ? 3600 : seconds).toFixed(3);
  const video = !eg.audioOnly && eg.container === "mp4";
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"];
  if (audio) args.push(...(speech ? ["-i", speech] : ["-f", "lavfi", "-i", `sine=frequency=440:duration=${d}`]));
  if (video) args.push("-f", "lavfi", "-i", `testsrc=size=320x240:rate=15:duration=${d}`);
  if (video) args.push("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
  if (audio) args.push(...(eg.container === "ogg" ? ["-c:a", "libopus"] : ["-c:a", "aac"]));
  args.push("-shortest");
  if (eg.container === "mp4") args.push("-movflags", "+faststart", "-f", "mp4");
  else args.push("-f", "ogg");
  args.push(path);
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", args, { stdio: ["ignore", "ignore", "pipe"], signal, killSignal: "SIGKILL" });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", (err) => reject(new Error(`ffmpeg: ${err.message}`)));
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim().slice(-500)}`)),
    );
  });
}

/** Puts the file at exactly `key` (path style); answers its location as a path-style URL. */
async function upload(s3: S3, key: string, bytes: Buffer, container: "mp4" | "ogg"): Promise<string> {
  const endpoint = new URL(s3.endpoint || "https://s3.amazonaws.com");
  const useSSL = endpoint.protocol === "https:";
  const client = new MinioClient({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: s3.accessKey,
    secretKey: s3.secret,
    region: s3.region || "us-east-1",
    pathStyle: true,
  });
  await client.putObject(s3.bucket, key, bytes, bytes.length, {
    "Content-Type": container === "mp4" ? "video/mp4" : "audio/ogg",
  });
  const base = endpoint.origin;
  return `${base}/${s3.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
