import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger as PinoLogger } from "pino";
import { CallsService } from "../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService } from "../gen/scaiwave/calls/v1/directory_pb.js";
import { create } from "@bufbuild/protobuf";
import { CallSchema } from "../gen/scaiwave/calls/v1/calls_pb.js";
import { JwtAuthenticator, type Authenticator } from "./adapters/auth/jwt-authenticator.js";
import { JetStreamPublisher } from "./adapters/nats/jetstream-publisher.js";
import { OutboxRelay } from "./adapters/nats/outbox-relay.js";
import { SqliteOutboxStore } from "./adapters/sqlite/outbox-store.js";
import { CallEventFactory, EVENT_SUBJECTS, JOB_SUBJECTS, TRANSCRIBE_JOB_SUBJECT, transcribeJob } from "./app/events.js";
import { TranscriptionJobs } from "./app/transcription.js";
import { JobConsumer } from "./adapters/nats/job-consumer.js";
import { SqliteTranscriptRepository } from "./adapters/sqlite/transcript-repository.js";
import { FfmpegAudioExtractor } from "./adapters/transcription/ffmpeg-audio.js";
import { OpenAiCompatibleEngine } from "./adapters/transcription/openai-engine.js";
import { PocketSphinxEngine } from "./adapters/transcription/pocketsphinx-engine.js";
import type { TranscriptionEngine } from "./app/ports.js";
import { RingTimer } from "./app/ring-timer.js";
import { Reconciler } from "./app/reconciler.js";
import { WebhookIngest } from "./app/webhooks.js";
import { RecordingsUseCases } from "./app/recordings.js";
import { LiveKitEgress } from "./adapters/livekit/egress.js";
import { MinioObjectStore } from "./adapters/s3/minio-object-store.js";
import { SqliteRecordingRepository } from "./adapters/sqlite/recording-repository.js";
import { RecordingSchema } from "../gen/scaiwave/calls/v1/calls_pb.js";
import { recordingToProto } from "./transport/rpc/call-mapping.js";
import type { EgressService } from "./app/ports.js";
import { LiveKitWebhookVerifier } from "./adapters/livekit/webhook-verifier.js";
import { WebhookEndpoint } from "./transport/webhook.js";
import { RateLimiter, type RateClass } from "./transport/rate-limiter.js";
import { Metrics } from "./transport/metrics.js";
import { buildOpenApi } from "./transport/openapi.js";
import { healthRoutes } from "./transport/grpc-ecosystem/health.js";
import { reflectionRoutes } from "./transport/grpc-ecosystem/reflection.js";
import { Health as GrpcHealth } from "../gen/health/v1/health_pb.js";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { callToProto } from "./transport/rpc/call-mapping.js";
import { messageToRestJson } from "./transport/rest/rest-json.js";
import { LiveKitRoomService } from "./adapters/livekit/rooms.js";
import { LiveKitTokenMinter } from "./adapters/livekit/tokens.js";
import { SqliteCallRepository } from "./adapters/sqlite/call-repository.js";
import { openDatabase, type SqliteDatabase } from "./adapters/sqlite/database.js";
import { attachGroupCommit, GroupCommit } from "./adapters/sqlite/group-commit.js";
import { currentRequestCommitted, notePendingCommit } from "./request-context.js";
import { SqliteDirectoryRepository } from "./adapters/sqlite/directory-repository.js";
import { CallsUseCases } from "./app/calls.js";
import { DirectoryUseCases } from "./app/directory.js";
import type { Clock, LiveKitRooms, LiveKitTokens } from "./app/ports.js";
import type { Call } from "./domain/call.js";
import type { Recording } from "./domain/recording.js";
import type { Config } from "./config.js";
import { createLogger } from "./logger.js";
import { connectRoutes } from "./transport/connect-routes.js";
import { cachedProbe, CheckFailed, Health } from "./transport/health.js";
import { createRequestHandler } from "./transport/request-handler.js";
import { defaultConsoleDir, serveConsole } from "./transport/console.js";
import { RestGateway } from "./transport/rest/gateway.js";
import { RouteTable } from "./transport/rest/route-table.js";
import { requireInternal, requireUser } from "./transport/rpc/access.js";
import { callsHandlers } from "./transport/rpc/calls-handlers.js";
import { directoryHandlers } from "./transport/rpc/directory-handlers.js";
import { RpcRegistry } from "./transport/rpc/registry.js";
import { createCallsServer, type CallsServer } from "./transport/server.js";
import type { GrpcJsServer } from "./transport/grpc-js/grpc-js-server.js";
import type { HealthStatus } from "./transport/grpc-ecosystem/health.js";

/** Replaceable parts, for tests (a fake clock, a LiveKit that fails on purpose, a log sink). */
export interface AppOverrides {
  readonly clock?: Clock;
  readonly rooms?: LiveKitRooms & { ping?(): Promise<void> };
  readonly tokens?: LiveKitTokens;
  readonly authenticator?: Authenticator;
  readonly logger?: PinoLogger;
  readonly egress?: EgressService;
  readonly transcriptionEngine?: TranscriptionEngine;
  /**
   * `service` (default) runs everything; `worker` (npm run worker) only runs
   * transcription jobs (the service's relay publishes their events): no
   * reconcile, ring or recording timers.
   */
  readonly role?: "service" | "worker";
}

/**
 * The same LiveKit client, each async method timed in the LiveKit latency
 * histogram as `<prefix>.<method>` and logged at debug level with the request
 * id (the SDK sets LiveKit's own request-id header, not one we choose).
 */
function timed<T extends object>(target: T, metrics: Metrics, logger: PinoLogger, prefix: string): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== "function" || typeof key !== "string") return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (!(result instanceof Promise)) return result;
        const started = performance.now();
        const operation = `${prefix}.${key}`;
        return metrics.timeLiveKit(operation, () => result).finally(() => {
          logger.debug({ operation, ms: Math.round(performance.now() - started) }, "LiveKit API call");
        });
      };
    },
  });
}

function rateClassOf(rpc: string): RateClass {
  if (rpc === "InitiateCall") return "initiate";
  if (rpc === "StartRecording" || rpc === "StopRecording") return "recording";
  return "other";
}

/** The work-queue stream of durable jobs, beside the events stream. */
const jobsStreamName = (config: Config) => `${config.nats.stream}_JOBS`;

export interface AppContext extends AsyncDisposable {
  readonly config: Config;
  readonly logger: PinoLogger;
  readonly db: SqliteDatabase;
  readonly health: Health;
  readonly relay: OutboxRelay;
  /** Compares live calls with LiveKit; tests run passes on demand. */
  readonly reconciler: Reconciler;
  /** Not listening yet: `main.ts` (or a test) decides where. */
  readonly server: CallsServer;
  /**
   * The grpc-js listener when GRPC_PORT is set (else undefined). Like `server`,
   * not listening yet: `listen()` binds it on GRPC_PORT and HOST and resolves
   * with the bound port; {@link close} stops it with the main port.
   */
  readonly grpc: { listen(): Promise<number> } | undefined;
  close(): Promise<void>;
}

/** The one place that builds every dependency, from config plus optional overrides. */
export function createAppContext(config: Config, overrides: AppOverrides = {}): AppContext {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? { now: () => Date.now() };
  const db = openDatabase(config.databasePath);

  // Events: written to the outbox with each change, relayed to NATS JetStream.
  const publisher = new JetStreamPublisher({
    url: config.nats.url,
    streams: [
      {
        name: config.nats.stream,
        subjects: EVENT_SUBJECTS,
        retention: "limits",
        maxAgeSeconds: config.nats.maxAgeSeconds,
        duplicateWindowSeconds: config.nats.duplicateWindowSeconds,
      },
      {
        // Durable jobs (transcription): a work queue, each job removed once a worker acknowledged it.
        name: jobsStreamName(config),
        subjects: JOB_SUBJECTS,
        retention: "workqueue",
        maxAgeSeconds: 7 * 86_400,
        duplicateWindowSeconds: config.nats.duplicateWindowSeconds,
      },
    ],
    publishTimeoutMs: 2000,
    logger,
  });
  const outbox = new SqliteOutboxStore(db);
  const metrics = new Metrics({
    liveCalls: () => calls.countLive(),
    outboxBacklog: () => {
      const { pending, oldestCreatedAt } = outbox.backlog();
      return { pending, oldestAgeSeconds: oldestCreatedAt === undefined ? 0 : (clock.now() - oldestCreatedAt) / 1000 };
    },
  });
  // Group commit: the writes of one event-loop turn share one transaction; see GroupCommit.
  const groupCommit = new GroupCommit(db, { afterCommit: () => relay.kick(), onEnlist: notePendingCommit });
  attachGroupCommit(db, groupCommit);
  // A request answers once its own writes, and the group open when it finished, are committed.
  const settle = async () => {
    await groupCommit.settled();
    await currentRequestCommitted();
  };
  const relay = new OutboxRelay({ store: outbox, publisher, clock, logger, readCommitted: (read) => groupCommit.whenIdle(read) });
  // Events show a call as GetCall does on the REST paths (without its recordings): one rendering.
  const renderCall = (call: Call) => messageToRestJson(CallSchema, create(CallSchema, callToProto(call)));
  const renderRecording = (recording: Recording) =>
    messageToRestJson(
      RecordingSchema,
      create(RecordingSchema, recordingToProto({ recording, downloadUrl: null, downloadUrlExpiresAt: null, transcript: null })),
    );
  const eventFactory = new CallEventFactory(renderCall, () => clock.now(), renderRecording);

  // The repositories write inside the group commit, which wakes the relay after each commit.
  const calls = new SqliteCallRepository(db, { events: (transition) => eventFactory.fromTransition(transition) });
  const directory = new SqliteDirectoryRepository(db, clock.now);
  const recordingRepository = new SqliteRecordingRepository(db, {
    event: (type, recording) => eventFactory.fromRecording(type, recording),
  });
  const objectStore = config.s3 && new MinioObjectStore(config.s3);
  const transcripts = new SqliteTranscriptRepository(db, {
    job: (recording) => transcribeJob(recording, clock.now()),
    event: (transcript) =>
      eventFactory.fromTranscript(transcript, config.s3?.bucket ?? "", config.transcription.eventMaxChars),
    clock: () => clock.now(),
  });
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
  const egress = egressService && timed(egressService, metrics, logger, "egress");
  const recordings = new RecordingsUseCases({
    calls,
    recordings: recordingRepository,
    transcripts,
    directory,
    egress,
    store: objectStore,
    clock,
    logger,
    maxDurationMs: config.recordings.maxDurationMs,
    downloadUrlTtlSeconds: config.recordings.downloadUrlTtlSeconds,
  });
  const liveKitRooms = new LiveKitRoomService({ ...config.livekit });
  const rooms = timed(overrides.rooms ?? liveKitRooms, metrics, logger, "room");
  const tokens =
    overrides.tokens ??
    new LiveKitTokenMinter({
      apiKey: config.livekit.apiKey,
      apiSecret: config.livekit.apiSecret,
      ttlSeconds: config.livekit.tokenTtlSeconds,
    });
  const authenticator = overrides.authenticator ?? new JwtAuthenticator(config.auth);

  // The timer and the use cases refer to each other; the closure resolves at call time.
  const ringTimer = new RingTimer(() => callsUseCases.expireUnanswered(), calls, clock, logger);
  const callsUseCases = new CallsUseCases({
    calls,
    directory,
    rooms,
    tokens,
    clock,
    logger,
    livekitUrl: config.livekit.url,
    ringTimeoutMs: config.ringTimeoutSeconds * 1000,
    onRingDeadline: (deadline) => ringTimer.schedule(deadline),
    onCallEnded: (callId) => void recordings.stopForCall(callId),
  });

  const webhookIngest = new WebhookIngest({ calls, useCases: callsUseCases, recordings, directory, clock, logger });
  const reconciler = new Reconciler({
    calls,
    useCases: callsUseCases,
    recordings,
    rooms,
    directory,
    clock,
    logger,
    joinGraceMs: config.reconcile.joinGraceSeconds * 1000,
  });

  const limits = config.rateLimits;
  const limiter = new RateLimiter(
    {
      initiate: limits.initiate.perMinute > 0 ? limits.initiate : undefined,
      recording: limits.recording.perMinute > 0 ? limits.recording : undefined,
      other: limits.other.perMinute > 0 ? limits.other : undefined,
    },
    () => clock.now(),
  );
  // Users are limited per tenant and user; internal callers (the directory) are not.
  const registry = new RpcRegistry({
    admit: (principal, method) => {
      if (principal.tenantId !== undefined) limiter.take(`${principal.tenantId}/${principal.subject}`, rateClassOf(method.name));
    },
    observe: (method, protocol, outcome, seconds) => metrics.observeRpc(method.name, protocol, outcome, seconds),
    settle,
  })
    .register(CallsService, callsHandlers(callsUseCases, recordings), requireUser)
    .register(DirectoryService, directoryHandlers(new DirectoryUseCases(directory)), requireInternal);

  const livekitPing = rooms.ping?.bind(rooms) ?? (() => liveKitRooms.ping());
  const health = new Health([
    {
      name: "database",
      critical: true,
      check: async () => {
        db.prepare("SELECT 1").get();
      },
    },
    { name: "livekit", critical: false, check: cachedProbe(livekitPing, 5_000) },
    {
      // Not critical: while NATS is away the service works and events wait in the outbox.
      name: "nats",
      critical: false,
      check: async () => {
        const { pending, oldestCreatedAt } = outbox.backlog();
        const details = {
          outbox_pending: pending,
          outbox_oldest_age_seconds: oldestCreatedAt === undefined ? 0 : Math.round((clock.now() - oldestCreatedAt) / 1000),
        };
        const status = publisher.status();
        if (!status.connected) throw new CheckFailed(status.lastError ?? "not connected", details);
        if (!status.streamReady) throw new CheckFailed(`stream ${config.nats.stream} not ready`, details);
        return details;
      },
    },
  ]);

  const restRoutes = new RouteTable(registry.methods());
  const servedServices = registry.services.map((service) => service.typeName);
  const grpcShutdown = new AbortController();
  const grpcHealth: HealthStatus = (service) =>
    service === "" || servedServices.includes(service) ? (health.isDraining ? "NOT_SERVING" : "SERVING") : undefined;
  const server = createCallsServer(
    createRequestHandler({
      openApi: buildOpenApi(restRoutes, { title: "ScaiWave Calls", version: "1" }),
      health,
      corsAllowedOrigins: config.corsAllowedOrigins,
      metrics,
      console: serveConsole(defaultConsoleDir()),
      rest: new RestGateway({
        routes: restRoutes,
        authenticator,
        logger,
        maxBodyBytes: config.maxRequestBytes,
      }),
      webhook: new WebhookEndpoint({
        verifier: new LiveKitWebhookVerifier(config.livekit.apiKey, config.livekit.apiSecret),
        ingest: webhookIngest,
        logger,
        // LiveKit's bodies are small; egress results with many files are the largest.
        maxBodyBytes: 1024 * 1024,
        onOutcome: (outcome) => metrics.observeWebhook(outcome),
        settle,
      }),
      connect: connectNodeAdapter({
        routes: (router) => {
          connectRoutes(registry, authenticator, logger)(router);
          // Standard gRPC health and server reflection (grpcurl, buf curl, orchestrators): no token needed.
          healthRoutes(grpcHealth, { services: servedServices, shutdown: grpcShutdown.signal })(router);
          reflectionRoutes([], [...registry.services, GrpcHealth, ServerReflection])(router);
        },
        readMaxBytes: config.maxRequestBytes,
      }),
    }),
  );

  // GRPC_PORT: the same registry on a grpc-js server too, for callers that want fast unary gRPC.
  // grpc-js is loaded only then (~13 MiB of resident memory a service without GRPC_PORT does not carry).
  let grpcJsServer: GrpcJsServer | undefined;
  const grpcPort = config.grpcPort;
  const grpc = grpcPort === undefined ? undefined : {
    async listen(): Promise<number> {
      const { createGrpcJsServer } = await import("./transport/grpc-js/grpc-js-server.js");
      if (closing) throw new Error("the service is shutting down");
      grpcJsServer ??= createGrpcJsServer({ registry, authenticator, logger, maxRequestBytes: config.maxRequestBytes, health: grpcHealth });
      return grpcJsServer.listen(grpcPort, config.host);
    },
  };

  // Transcription: a durable job per recording, pulled from the jobs stream here or by `npm run worker`.
  const role = overrides.role ?? "service";
  const runWorker = objectStore && (role === "worker" || config.transcription.worker === "inline");
  const jobs =
    objectStore &&
    new TranscriptionJobs({
      recordings: recordingRepository,
      transcripts,
      store: objectStore,
      logger,
      audio: new FfmpegAudioExtractor(),
      engine:
        overrides.transcriptionEngine ??
        (config.transcription.engine === "openai"
          ? new OpenAiCompatibleEngine({ ...config.transcription.openai, timeoutMs: config.transcription.timeoutMs })
          : new PocketSphinxEngine({ modelDir: config.transcription.modelDir })),
    });
  const jobConsumer =
    runWorker &&
    jobs &&
    new JobConsumer(
      {
        url: config.nats.url,
        stream: jobsStreamName(config),
        subject: TRANSCRIBE_JOB_SUBJECT,
        durable: "transcription",
        concurrency: config.transcription.concurrency,
        maxAttempts: config.transcription.maxAttempts,
        ackWaitMs: config.transcription.ackWaitMs,
        retryBaseMs: config.transcription.retryBaseMs,
        logger,
      },
      (payload, attempt, lastAttempt, signal) =>
        jobs.process(String((payload as { recording_id?: unknown }).recording_id), attempt, lastAttempt, signal),
    );

  // One relay per database: a worker sharing the service's SQLite file leaves relaying its events
  // to the service's relay (it polls every second), so no event is published by two relays at once.
  if (role === "service") {
    publisher.start();
    relay.start();
  }
  if (jobConsumer) jobConsumer.start();
  let recordingSweep: NodeJS.Timeout | undefined;
  if (role === "service") {
    ringTimer.start();
    if (config.reconcile.intervalSeconds > 0) reconciler.start(config.reconcile.intervalSeconds * 1000);
    // Recordings past RECORDING_MAX_MINUTES are stopped within a second.
    recordingSweep = setInterval(() => void recordings.stopOverdue().catch(() => undefined), 1000);
    recordingSweep.unref();
    objectStore?.ensureBucket().catch((err: unknown) => logger.warn({ err }, "could not check/create the recordings bucket"));
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      health.startDraining();
      // Open Health/Watch streams hear NOT_SERVING and end, so they do not hold the server open.
      grpcShutdown.abort();
      await Promise.all([server.close(), grpcJsServer?.close()]);
      ringTimer.stop();
      clearInterval(recordingSweep);
      await reconciler.stop();
      if (jobConsumer) await jobConsumer.stop();
      await relay.stop();
      await publisher.close();
      await groupCommit.settled().catch(() => undefined);
      db.close();
    })());
  return { config, logger, db, health, relay, reconciler, server, grpc, close, [Symbol.asyncDispose]: close };
}

