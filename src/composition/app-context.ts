import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import type { Logger as PinoLogger } from "pino";
import { CallsService, RecordingSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { JwtAuthenticator } from "../adapters/auth/jwt-authenticator.js";
import { LiveKitEgress } from "../adapters/livekit/egress.js";
import { credentialsRefusal } from "../adapters/livekit/failures.js";
import { LiveKitRoomService } from "../adapters/livekit/rooms.js";
import { LiveKitTokenMinter } from "../adapters/livekit/tokens.js";
import { LiveKitWebhookVerifier } from "../adapters/livekit/webhook-verifier.js";
import { MinioObjectStore } from "../adapters/s3/minio-object-store.js";
import type { SqliteDatabase } from "../adapters/sqlite/database.js";
import { FfmpegAudioExtractor } from "../adapters/transcription/ffmpeg-audio.js";
import { OpenAiCompatibleEngine } from "../adapters/transcription/openai-engine.js";
import { WhisperEngine } from "../adapters/transcription/whisper-engine.js";
import { CallsUseCases } from "../app/calls.js";
import { DirectoryUseCases } from "../app/directory.js";
import { CallEventFactory, EVENT_SUBJECTS, JOB_SUBJECTS } from "../app/events.js";
import type { Authenticator, Clock, EgressService, LiveKitRooms, LiveKitTokens, ObjectStore, OutboxStore, Store, TranscriptionEngine } from "../app/ports.js";
import { CallHistoryUseCases } from "../app/call-history.js";
import { ClusterSchedule } from "../app/cluster-schedule.js";
import { Reconciler } from "../app/reconciler.js";
import { RecordingsUseCases } from "../app/recordings.js";
import { RingTimer } from "../app/ring-timer.js";
import { TranscriptionJobs } from "../app/transcription.js";
import { WebhookIngest } from "../app/webhooks.js";
import type { Config } from "../config.js";
import type { Recording } from "../domain/recording.js";
import { createLogger } from "../logger.js";
import { cachedProbe, CheckFailed, Health } from "../transport/health.js";
import { Metrics } from "../transport/metrics.js";
import { messageToRestJson } from "../transport/rest/rest-json.js";
import { recordingToProto } from "../transport/rpc/call-mapping.js";
import { renderCallJson } from "../transport/rest/call-json.js";
import { callsRegistration } from "../transport/rpc/calls-handlers.js";
import { directoryRegistration } from "../transport/rpc/directory-handlers.js";
import { RpcRegistry } from "../transport/rpc/registry.js";
import { openStore } from "./open-store.js";
import { createRateLimiter } from "./rate-limiter.js";
import { RelayThread } from "./relay-thread.js";
import { Signal } from "./signal.js";
import { timed } from "./timed.js";

/** Replaceable parts, for tests (a fake clock, a LiveKit that fails on purpose, a log sink). */
export interface AppOverrides {
  readonly clock?: Clock;
  readonly rooms?: LiveKitRooms & { ping?(): Promise<void> };
  readonly tokens?: LiveKitTokens;
  readonly authenticator?: Authenticator;
  readonly logger?: PinoLogger;
  readonly egress?: EgressService;
  readonly transcriptionEngine?: TranscriptionEngine;
}

/**
 * Every dependency of the service, built from config (plus overrides) and
 * nothing started: no listener, no timer, no connection. The HTTP server
 * (`buildServer`) and the background work (`startBackground`) are built on it;
 * the worker process uses it without a server.
 */
export interface AppContext extends AsyncDisposable {
  readonly config: Config;
  readonly logger: PinoLogger;
  readonly clock: Clock;
  /** The store every use case reads and writes through: SQLite, or PostgreSQL with `DATABASE_URL`. */
  readonly store: Store;
  /** The outbox as the relay reads it (tests and health look at its backlog). */
  readonly outbox: OutboxStore;
  /** The SQLite connection, for tests and tools that look inside; undefined on PostgreSQL. */
  readonly db: SqliteDatabase | undefined;
  readonly metrics: Metrics;
  readonly health: Health;
  readonly registry: RpcRegistry;
  readonly webhookIngest: WebhookIngest;
  readonly webhookVerifier: LiveKitWebhookVerifier;
  /** Resolves once what a request read is committed (group commit); its writes are committed when their transactions resolve. */
  readonly settle: () => Promise<void>;
  /** The outbox relay, in a thread of its own, with its NATS connection. */
  readonly relay: RelayThread;
  /** Fires after every commit that wrote outbox events: the relay listens while it runs. */
  readonly outboxWritten: Signal;
  /** Fires with each new ring deadline: the ring timer listens while it runs. */
  readonly ringDeadlines: Signal<number>;
  readonly ringTimer: RingTimer;
  /** Compares live calls with LiveKit; tests run passes on demand. */
  readonly reconciler: Reconciler;
  /** Periodic work run once per interval for the whole cluster (reconcile, the recording limit, history retention). */
  readonly schedule: ClusterSchedule;
  /** Users' call history and rooms' call logs; its retention sweep runs as a periodic job. */
  readonly history: CallHistoryUseCases;
  /** Names this instance in logs and in the store's claims: host, process id and a random suffix. */
  readonly instanceId: string;
  readonly recordings: RecordingsUseCases;
  /** Undefined when object storage is not configured. */
  readonly objectStore: ObjectStore & { ensureBucket(): Promise<void> } | undefined;
  /** Transcription jobs (undefined without object storage); pulled by the worker, in-process or `npm run worker`. */
  readonly transcription: TranscriptionJobs | undefined;
  /** The work-queue stream of durable jobs, beside the events stream. */
  readonly jobsStream: string;
  /** Closes what building opened (the store). Background work and servers are stopped before. */
  close(): Promise<void>;
}

/**
 * The one place that builds every dependency, from config plus optional
 * overrides. Async only because opening PostgreSQL migrates its schema first.
 */
export async function createAppContext(config: Config, overrides: AppOverrides = {}): Promise<AppContext> {
  const instanceId = `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`;
  // Every line names its instance: with several behind a load balancer, logs are read side by side.
  const logger = (overrides.logger ?? createLogger(config.logLevel)).child({ instance: instanceId });
  const clock = overrides.clock ?? { now: () => Date.now() };
  const outboxWritten = new Signal();
  const ringDeadlines = new Signal<number>();

  const opened = await openStore(config, clock, logger, () => outboxWritten.notify());
  const { store, outbox, settle } = opened;

  const renderRecording = (recording: Recording) =>
    messageToRestJson(
      RecordingSchema,
      create(RecordingSchema, recordingToProto({ recording, downloadUrl: null, downloadUrlExpiresAt: null, transcript: null })),
    );
  // Events show a call byte for byte as GetCall does on the REST paths (without its recordings).
  const eventFactory = new CallEventFactory(renderCallJson, () => clock.now(), renderRecording);
  const metrics = new Metrics({
    liveCalls: () => store.calls.countLive(),
    // The relay is built below; the gauge reads it only when scraped.
    relayPublishing: () => relay.role() === "publishing",
    ...(opened.pool && { databasePool: opened.pool }),
    outboxBacklog: async () => {
      const { pending, oldestCreatedAt } = await outbox.backlog();
      return { pending, oldestAgeSeconds: oldestCreatedAt === undefined ? 0 : (clock.now() - oldestCreatedAt) / 1000 };
    },
  });
  const timeLiveKit = metrics.timeLiveKit.bind(metrics);

  // Events: written to the outbox with each change, relayed to NATS JetStream.
  const jobsStream = `${config.nats.stream}_JOBS`;
  const relay = new RelayThread({
    data: {
      nats: {
        servers: config.nats.servers,
        streams: [
          {
            name: config.nats.stream,
            subjects: EVENT_SUBJECTS,
            retention: "limits",
            maxAgeSeconds: config.nats.maxAgeSeconds,
            duplicateWindowSeconds: config.nats.duplicateWindowSeconds,
            replicas: config.nats.replicas,
          },
          {
            // Durable jobs (transcription): a work queue, each job removed once a worker acknowledged it.
            name: jobsStream,
            subjects: JOB_SUBJECTS,
            retention: "workqueue",
            maxAgeSeconds: 7 * 86_400,
            duplicateWindowSeconds: config.nats.duplicateWindowSeconds,
            replicas: config.nats.replicas,
          },
        ],
        publishTimeoutMs: 2000,
      },
      pollIntervalMs: config.nats.relayPollMs,
      store: config.postgres
        ? { kind: "postgresql", url: config.postgres.url, statementTimeoutMs: config.postgres.statementTimeoutMs }
        : { kind: "sqlite", path: config.databasePath },
    },
    // SQLite has one writer, this thread's connection: the relay thread marks through it.
    outbox: config.postgres ? undefined : outbox,
    logger,
  });

  // LiveKit and object storage.
  const liveKitRooms = new LiveKitRoomService({ ...config.livekit });
  const rooms = timed(overrides.rooms ?? liveKitRooms, timeLiveKit, logger, "room");
  const tokens =
    overrides.tokens ??
    new LiveKitTokenMinter({ apiKey: config.livekit.apiKey, apiSecret: config.livekit.apiSecret, ttlSeconds: config.livekit.tokenTtlSeconds });
  const objectStore = config.s3 && new MinioObjectStore(config.s3);
  const egressService =
    overrides.egress ??
    (config.s3 &&
      new LiveKitEgress({
        apiUrl: config.livekit.apiUrl,
        apiKey: config.livekit.apiKey,
        apiSecret: config.livekit.apiSecret,
        requestTimeoutMs: config.livekit.requestTimeoutMs,
        s3: config.s3,
      }));
  const egress = egressService && timed(egressService, timeLiveKit, logger, "egress");

  // The use cases.
  const recordings = new RecordingsUseCases({
    store,
    events: eventFactory,
    egress,
    objects: objectStore,
    clock,
    logger,
    maxDurationMs: config.recordings.maxDurationMs,
    downloadUrlTtlSeconds: config.recordings.downloadUrlTtlSeconds,
  });
  const callsUseCases = new CallsUseCases({
    store,
    events: eventFactory,
    rooms,
    tokens,
    clock,
    logger,
    livekitUrl: config.livekit.url,
    ringTimeoutMs: config.ringTimeoutSeconds * 1000,
    onRingDeadline: (deadline) => ringDeadlines.notify(deadline),
    onCallEnded: (callId, requestId) => void recordings.stopForCall(callId, requestId),
  });
  const ringTimer = new RingTimer(() => callsUseCases.expireUnanswered(), store.calls, clock, logger);
  const webhookIngest = new WebhookIngest({ store, useCases: callsUseCases, recordings, clock, logger });
  const reconciler = new Reconciler({
    store,
    useCases: callsUseCases,
    recordings,
    rooms,
    clock,
    logger,
    joinGraceMs: config.reconcile.joinGraceSeconds * 1000,
  });
  const schedule = new ClusterSchedule({ store, clock, logger, holder: instanceId });
  const history = new CallHistoryUseCases({ store, clock, logger, retentionMs: config.callHistoryRetentionMs });
  const transcriptionEngine: TranscriptionEngine =
    overrides.transcriptionEngine ??
    (config.transcription.engine === "openai"
      ? new OpenAiCompatibleEngine({ ...config.transcription.openai, timeoutMs: config.transcription.timeoutMs })
      : new WhisperEngine({
          ...config.transcription.whisper,
          home: config.transcription.whisper.dir,
          processes: config.transcription.concurrency,
          timeoutMs: config.transcription.timeoutMs,
          logger,
        }));
  const transcription =
    objectStore &&
    new TranscriptionJobs({
      store,
      events: eventFactory,
      event: { bucket: objectStore.bucket, maxChars: config.transcription.eventMaxChars },
      clock,
      objects: objectStore,
      logger,
      audio: new FfmpegAudioExtractor(),
      engine: transcriptionEngine,
    });

  // One registry for every transport: it authenticates, authorises and rate-limits each call once.
  const registry = new RpcRegistry({
    authenticator: overrides.authenticator ?? new JwtAuthenticator(config.auth),
    limiter: createRateLimiter(config.rateLimits, opened.postgresPool, logger),
    observe: (method, protocol, outcome, seconds) => metrics.observeRpc(method.name, protocol, outcome, seconds),
    settle,
  })
    .register(CallsService, callsRegistration(callsUseCases, recordings, history))
    .register(DirectoryService, directoryRegistration(new DirectoryUseCases(store)));

  const livekitProbe = cachedProbe(rooms.ping?.bind(rooms) ?? (() => liveKitRooms.ping()), 5_000);
  const health = new Health([
    {
      name: "database",
      critical: true,
      check: async () => {
        await store.ping();
        const pool = opened.pool?.();
        return { store: opened.kind, ...(pool && { pool_total: pool.total, pool_idle: pool.idle, pool_waiting: pool.waiting }) };
      },
    },
    {
      name: "livekit",
      critical: false,
      // A refused key or secret reads "unauthorized", not "failing": the operator's to fix, not an outage.
      check: () =>
        livekitProbe().catch((err: unknown) => {
          const refused = credentialsRefusal(err);
          throw refused ? new CheckFailed(refused.message, {}, "unauthorized") : err;
        }),
    },
    {
      // Not critical: while NATS is away the service works and events wait in the outbox.
      name: "nats",
      critical: false,
      check: async () => {
        const { pending, oldestCreatedAt } = await outbox.backlog();
        const details = {
          // "publishing" on the one instance holding the relay lease, "standby" on the others.
          relay: relay.role(),
          outbox_pending: pending,
          outbox_oldest_age_seconds: oldestCreatedAt === undefined ? 0 : Math.round((clock.now() - oldestCreatedAt) / 1000),
        };
        const status = relay.publisherStatus();
        if (!status.connected) throw new CheckFailed(status.lastError ?? "not connected", details);
        // With JetStream's last answer: a refusal (e.g. more replicas than servers) is the operator's to fix.
        if (!status.streamReady) {
          throw new CheckFailed(`stream ${config.nats.stream} not ready${status.lastError ? `: ${status.lastError}` : ""}`, details);
        }
        return details;
      },
    },
  ]);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await transcriptionEngine.close?.();
      await opened.close();
    })());
  return {
    config,
    logger,
    clock,
    store,
    outbox,
    db: opened.db,
    metrics,
    health,
    registry,
    webhookIngest,
    webhookVerifier: new LiveKitWebhookVerifier(config.livekit.apiKey, config.livekit.apiSecret),
    settle,
    relay,
    outboxWritten,
    ringDeadlines,
    ringTimer,
    reconciler,
    schedule,
    history,
    instanceId,
    recordings,
    objectStore,
    transcription,
    jobsStream,
    close,
    [Symbol.asyncDispose]: close,
  };
}
