/**
 * Configuration, declared once: {@link VARIABLES} lists every environment
 * variable the service reads (name, parser, default, description), and the
 * rest follows from that list: {@link readEnv} picks those variables,
 * {@link loadConfig} parses and validates them into the typed {@link Config}
 * (every bad variable reported at once, one line each), and
 * `scripts/config-docs.ts` writes docs/configuration.md.
 */
import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { int, InvalidValue, list, minutes, oneOf, text, url, type Parser } from "./config-parsers.js";

/** One environment variable. */
export interface Variable<T> {
  readonly parse: Parser<T>;
  /**
   * The value when the variable is unset, written as it would be in the
   * environment; or, for a default computed from other variables, what it is
   * (`{ derived: "from LIVEKIT_URL" }`). No default: the setting is unset.
   */
  readonly default?: string | { readonly derived: string };
  /** Set: the service does not start without this variable; the text says what it is. */
  readonly required?: string;
  /** A secret: its value never appears in an error message. */
  readonly secret?: true;
  /** What the variable does, for docs/configuration.md (Markdown, one line). */
  readonly description: string;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const RATE_LIMIT_PER_MINUTE = int(0, 1_000_000);
const RATE_LIMIT_BURST = int(1, 1_000_000);

/** Every variable the service reads, in the order problems and docs list them; everything else in the environment is ignored. */
export const VARIABLES = {
  HOST: { parse: text(), default: "0.0.0.0", description: "listen address of the main port and of `GRPC_PORT`" },
  PORT: {
    parse: int(0, 65535),
    default: "8080",
    description: "the main port (0: any free one): gRPC (h2c), gRPC-web, Connect, REST, the LiveKit webhook, `/healthz`, `/readyz`, `/metrics`",
  },
  GRPC_PORT: {
    parse: int(0, 65535),
    description:
      "a second port (0: any free one) serving the unary RPCs and `grpc.health.v1.Health/Check` over `@grpc/grpc-js`, which answers unary gRPC faster than connect-node's gRPC on the main port; same handlers, auth and errors, plaintext h2c on `HOST`; unset: not served",
  },
  DATABASE_PATH: { parse: text(), default: "./data/calls.db", description: "the SQLite file (WAL mode); its folder is created. Used when `DATABASE_URL` is not set" },
  DATABASE_URL: {
    parse: url(["postgres:", "postgresql:"]),
    secret: true,
    description:
      "a PostgreSQL database (`postgres://user:password@host:5432/db`) instead of SQLite: any number of instances may share it; its schema is migrated at start",
  },
  DATABASE_POOL_SIZE: { parse: int(1, 1_000), default: "10", description: "PostgreSQL connections per instance at most" },
  DATABASE_STATEMENT_TIMEOUT_MS: {
    parse: int(100, 600_000),
    default: "5000",
    description: "PostgreSQL cancels a statement running longer than this (the request then fails, nothing is half-written)",
  },
  MAX_REQUEST_BYTES: {
    parse: int(1024, 16 * 1024 * 1024),
    default: "65536",
    description: "largest request body on every protocol; larger ones get `SW_CALL_PAYLOAD_TOO_LARGE`",
  },
  LOG_LEVEL: { parse: oneOf(LOG_LEVELS), default: "info", description: "pino log level (logs are JSON lines on stdout)" },
  RING_TIMEOUT_SECONDS: {
    parse: int(1, 3_600),
    default: "45",
    description: "how long a member's phone rings (from the invite, or from RingCall) before it stops unanswered; a call nobody answered then ends as `no_answer`",
  },
  CALL_HISTORY_RETENTION_DAYS: {
    parse: int(0, 36_500),
    default: "365",
    description: "ended calls older than this are deleted with their participants, invitees and history entries (calls with recordings are kept); 0: keep forever",
  },
  RECONCILE_INTERVAL_SECONDS: {
    parse: int(0, 86_400),
    default: "30",
    description: "how often live calls are compared with LiveKit and repaired (0: never)",
  },
  RECONCILE_JOIN_GRACE_SECONDS: {
    parse: int(0, 3_600),
    default: "20",
    description: "a participant who joined through the API but never connected to LiveKit counts as gone after this",
  },
  S3_ENDPOINT: {
    parse: url(["http:", "https:"]),
    description:
      "MinIO/S3 address (`http://127.0.0.1:9000`) of the recordings, for this service and LiveKit egress; set it with `S3_ACCESS_KEY` and `S3_SECRET_KEY` (all three or none; without them recordings are unavailable)",
  },
  S3_PUBLIC_ENDPOINT: {
    // The MinIO client signs for a host and port only: a path would silently vanish from the URLs.
    parse: url(["http:", "https:"], { hostOnly: true }),
    default: { derived: "`S3_ENDPOINT`" },
    description: "the object-storage address clients reach, used to sign download URLs (with `S3_ENDPOINT` and its keys)",
  },
  S3_ACCESS_KEY: { parse: text(), description: "access key for `S3_ENDPOINT`" },
  S3_SECRET_KEY: { parse: text(), secret: true, description: "secret key of `S3_ACCESS_KEY`" },
  S3_BUCKET: { parse: text(), default: "scaiwave-recordings", description: "bucket of the recordings (created at start if missing)" },
  S3_REGION: { parse: text(), default: "us-east-1", description: "region used for signing" },
  RECORDING_MAX_MINUTES: { parse: minutes(24 * 60), default: "60", description: "a recording is stopped after this long" },
  RECORDING_DOWNLOAD_URL_TTL_SECONDS: {
    parse: int(10, 7 * 86_400),
    default: "300",
    description: "lifetime of the presigned download URLs of recordings and transcripts",
  },
  RATE_LIMIT_INITIATE_PER_MINUTE: {
    parse: RATE_LIMIT_PER_MINUTE,
    default: "30",
    description: "InitiateCall requests one user (tenant + user id) may make per minute, counted for the whole cluster on PostgreSQL (see [Rate limits](operations.md#rate-limits)); 0: no limit",
  },
  RATE_LIMIT_INITIATE_BURST: { parse: RATE_LIMIT_BURST, default: "10", description: "InitiateCall requests one user may make at once" },
  RATE_LIMIT_RECORDING_PER_MINUTE: {
    parse: RATE_LIMIT_PER_MINUTE,
    default: "10",
    description: "StartRecording and StopRecording requests (together) one user may make per minute, counted for the whole cluster on PostgreSQL; 0: no limit",
  },
  RATE_LIMIT_RECORDING_BURST: { parse: RATE_LIMIT_BURST, default: "5", description: "StartRecording and StopRecording requests one user may make at once" },
  RATE_LIMIT_RING_PER_MINUTE: {
    parse: RATE_LIMIT_PER_MINUTE,
    default: "20",
    description: "RingCall requests (ringing members again) one user may make per minute, counted for the whole cluster on PostgreSQL; 0: no limit",
  },
  RATE_LIMIT_RING_BURST: { parse: RATE_LIMIT_BURST, default: "5", description: "RingCall requests one user may make at once" },
  RATE_LIMIT_OTHER_PER_MINUTE: {
    parse: RATE_LIMIT_PER_MINUTE,
    default: "600",
    description: "every other public RPC (together) one user may make per minute, counted for the whole cluster on PostgreSQL; 0: no limit (the internal directory is never limited)",
  },
  RATE_LIMIT_OTHER_BURST: { parse: RATE_LIMIT_BURST, default: "100", description: "other public RPCs one user may make at once" },
  CORS_ALLOWED_ORIGINS: {
    parse: list(
      text({ accepts: "origins like https://app.example.com (or *)", test: (origin) => origin === "*" || /^https?:\/\/[^/]+$/.test(origin) }),
    ),
    description: "browser origins allowed to call Connect, gRPC-web and REST (`*`: any); unset: no cross-origin access",
  },
  TRANSCRIPTION_ENGINE: {
    parse: oneOf(["local", "openai"] as const),
    default: "local",
    description:
      "`local` (Whisper through faster-whisper, offline, installed by `npm run setup:whisper`) or `openai` (an OpenAI-compatible server)",
  },
  TRANSCRIPTION_WORKER: {
    parse: oneOf(["inline", "off"] as const),
    default: "inline",
    description: "run the transcription worker inside the service (`inline`), or only as `npm run worker` (`off`)",
  },
  TRANSCRIPTION_WHISPER_MODEL: {
    parse: oneOf(["base", "tiny.en"] as const),
    default: "base",
    description:
      "the local engine's Whisper model: `base` (multilingual, the better on telephone audio) or `tiny.en` (English only, half the memory and time, for small machines)",
  },
  TRANSCRIPTION_WHISPER_LANGUAGE: {
    parse: text({ accepts: "a Whisper language code like en, de, fr", test: (code) => /^[a-z]{2,3}$/.test(code) }),
    description: "the language the local engine hears in every recording; unset: detected per recording (`tiny.en`: always `en`)",
  },
  TRANSCRIPTION_WHISPER_THREADS: {
    parse: int(1, 256),
    default: { derived: "the CPU cores ÷ `TRANSCRIPTION_CONCURRENCY`, at least 1" },
    description: "CPU threads of each local engine process (there is one per job in flight)",
  },
  TRANSCRIPTION_WHISPER_DIR: {
    parse: text(),
    default: { derived: "`~/.cache/scaiwave-calls`" },
    description: "where `npm run setup:whisper` installed the local engine (`venv-whisper/`, `models/`)",
  },
  TRANSCRIPTION_WHISPER_STALL_SECONDS: {
    parse: int(5, 3_600),
    default: "120",
    description: "a local engine silent this long mid-job (no progress) is hung: it is killed and the job retried",
  },
  TRANSCRIPTION_OPENAI_BASE_URL: {
    parse: url(["http:", "https:"]),
    description: "the OpenAI-compatible server; required with `TRANSCRIPTION_ENGINE=openai`",
  },
  TRANSCRIPTION_OPENAI_API_KEY: { parse: text(), secret: true, description: "bearer key for `TRANSCRIPTION_OPENAI_BASE_URL`, if that server wants one" },
  TRANSCRIPTION_OPENAI_MODEL: { parse: text(), default: "whisper-1", description: "the model asked of `TRANSCRIPTION_OPENAI_BASE_URL`" },
  TRANSCRIPTION_CONCURRENCY: { parse: int(1, 64), default: "1", description: "jobs one worker runs at once" },
  TRANSCRIPTION_MAX_ATTEMPTS: { parse: int(1, 20), default: "3", description: "attempts before a transcript is marked failed" },
  TRANSCRIPTION_ACK_WAIT_SECONDS: {
    parse: int(1, 3_600),
    default: "60",
    description: "a job its worker stopped acknowledging (a dead worker) is delivered again after this",
  },
  TRANSCRIPTION_RETRY_BASE_MS: { parse: int(10, 600_000), default: "5000", description: "the first retry's delay; it doubles with each retry" },
  TRANSCRIPTION_TIMEOUT_SECONDS: {
    parse: int(5, 86_400),
    default: "600",
    description:
      "limit of one request to the OpenAI-compatible server; a local engine's job may take this plus the recording's length, then it is killed and the job retried",
  },
  TRANSCRIPT_EVENT_MAX_CHARS: {
    parse: int(100, 100_000),
    default: "2000",
    description: "the text in `swp.call.transcript` is cut past this many characters",
  },
  NATS_URL: {
    parse: list(url(["nats:", "tls:"]), { items: "nats:// or tls:// URLs", atLeastOne: true }),
    default: "nats://127.0.0.1:4222",
    description:
      "the NATS server for events and jobs, or a cluster's servers comma-separated (`nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222`): the service connects to one and moves to another when it goes away; it runs without NATS (events wait in the outbox)",
  },
  NATS_STREAM: {
    // JetStream stream names may not contain whitespace, '.', '*', '>' or path separators.
    parse: text({ accepts: "1-64 characters of A-Z a-z 0-9 _ -", test: (name) => /^[A-Za-z0-9_-]{1,64}$/.test(name) }),
    default: "SWP_CALLS",
    description: "the JetStream stream of the events; transcription jobs go to `<NATS_STREAM>_JOBS`",
  },
  NATS_STREAM_REPLICAS: {
    parse: int(1, 5),
    default: "1",
    description:
      "copies of the events stream and of the jobs stream, each kept by another JetStream server: `3` keeps events and jobs through the loss of any one server, and needs a cluster of at least 3 JetStream servers (JetStream refuses to create the streams on fewer; `/readyz` shows its answer and events wait in the outbox); an existing stream is rescaled at start",
  },
  NATS_STREAM_MAX_AGE_SECONDS: { parse: int(60, 365 * 86_400), default: "86400", description: "how long the stream keeps events" },
  NATS_DUPLICATE_WINDOW_SECONDS: {
    parse: int(1, 86_400),
    default: "120",
    description: "JetStream's `Nats-Msg-Id` duplicate window (covers a re-publish after a crash)",
  },
  OUTBOX_POLL_MS: {
    parse: int(10, 3_600_000),
    default: "1000",
    description:
      "how often the outbox relay looks for events nobody told it about: each commit wakes it at once (on SQLite the instance's own commits, on PostgreSQL a NOTIFY from any instance), so this only bounds how late an event whose wake-up was lost goes out",
  },
  AUTH_JWT_SECRET: {
    // RFC 7518 §3.2: an HS256 key must have at least 256 bits.
    parse: text({ accepts: "at least 32 bytes (HS256)", test: (secret) => Buffer.byteLength(secret) >= 32 }),
    secret: true,
    description: "the HS256 secret of bearer tokens; set this or `AUTH_JWKS_URL`, not both",
  },
  AUTH_JWKS_URL: {
    parse: url(["https:", "http:"]),
    description: "a JWKS URL (RS/PS/ES/EdDSA keys, fetched and cached) for bearer tokens, instead of `AUTH_JWT_SECRET`",
  },
  AUTH_ISSUER: { parse: text(), description: "when set, bearer tokens must carry this `iss`" },
  AUTH_AUDIENCE: { parse: text(), description: "when set, bearer tokens must carry this `aud`" },
  LIVEKIT_URL: {
    parse: url(["ws:", "wss:"]),
    required: "client-facing ws:// or wss:// URL",
    description: "LiveKit's client-facing URL, returned to clients as `livekit_url`",
  },
  LIVEKIT_API_URL: {
    parse: url(["http:", "https:"]),
    default: { derived: "`LIVEKIT_URL` with `ws`→`http`, `wss`→`https`" },
    description: "LiveKit's server API this service calls",
  },
  LIVEKIT_API_KEY: {
    parse: text(),
    required: "the API key LiveKit knows this service by",
    description: "the API key LiveKit knows this service by (tokens, API calls, webhook signatures)",
  },
  LIVEKIT_API_SECRET: {
    parse: text(),
    required: "the secret of LIVEKIT_API_KEY",
    secret: true,
    description: "the secret of `LIVEKIT_API_KEY`",
  },
  LIVEKIT_TOKEN_TTL_SECONDS: {
    parse: int(30, 86_400),
    default: "600",
    description: "lifetime of the LiveKit tokens handed to clients (LiveKit checks it on connect only)",
  },
  LIVEKIT_REQUEST_TIMEOUT_MS: {
    parse: int(100, 60_000),
    default: "2000",
    description: "limit of one LiveKit API call; past it the request fails with `SW_CALL_LIVEKIT_UNREACHABLE`, before a client gives up",
  },
  LIVEKIT_ROOM_EMPTY_TIMEOUT_SECONDS: {
    parse: int(1, 86_400),
    default: "120",
    description: "LiveKit closes a call's room nobody joined after this",
  },
  LIVEKIT_ROOM_DEPARTURE_TIMEOUT_SECONDS: {
    parse: int(1, 3_600),
    default: "20",
    description: "LiveKit closes a call's room everyone left after this (grace for reconnects)",
  },
} satisfies Record<string, Variable<unknown>>;

export type EnvVar = keyof typeof VARIABLES;

/** The names of {@link VARIABLES}, in their order. */
export const ENV_VARS = Object.keys(VARIABLES) as readonly EnvVar[];

/** A variable's parsed value: always there when it has a literal default, else possibly unset. */
type ValueOf<V> = V extends { readonly parse: Parser<infer T> } ? (V extends { readonly default: string } ? T : T | undefined) : never;
type Values = { readonly [K in EnvVar]: ValueOf<(typeof VARIABLES)[K]> };

export interface Config {
  readonly host: string;
  readonly port: number;
  /**
   * A second port serving the unary RPCs over `@grpc/grpc-js` (faster than the
   * main port's gRPC); undefined: not served. 0: any free port.
   */
  readonly grpcPort: number | undefined;
  readonly databasePath: string;
  /** PostgreSQL instead of SQLite, when set. */
  readonly postgres: { readonly url: string; readonly poolSize: number; readonly statementTimeoutMs: number } | undefined;
  /** Largest accepted request body, bytes (REST, Connect, gRPC). */
  readonly maxRequestBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly auth: {
    readonly key: { readonly kind: "secret"; readonly secret: string } | { readonly kind: "jwks"; readonly url: string };
    readonly issuer: string | undefined;
    readonly audience: string | undefined;
  };
  /** How long a call rings unanswered before it ends as `no_answer`. */
  readonly ringTimeoutSeconds: number;
  readonly reconcile: {
    /** How often live calls are compared with LiveKit (0: never). */
    readonly intervalSeconds: number;
    /** How long an API join may go unseen by LiveKit before reconcile counts the participant gone. */
    readonly joinGraceSeconds: number;
  };
  /** Object storage for recordings; undefined when S3_* is not configured (recordings unavailable). */
  readonly s3:
    | {
        readonly endpoint: string;
        /** The address clients download from (presigned URLs are signed for it); undefined: `endpoint`. */
        readonly publicEndpoint: string | undefined;
        readonly accessKey: string;
        readonly secretKey: string;
        readonly bucket: string;
        readonly region: string;
      }
    | undefined;
  readonly recordings: {
    readonly maxDurationMs: number;
    readonly downloadUrlTtlSeconds: number;
  };
  /** Per user and RPC class, per instance; perMinute 0 turns a class's limit off. */
  readonly rateLimits: Readonly<Record<"initiate" | "recording" | "ring" | "other", { readonly perMinute: number; readonly burst: number }>>;
  /** Ended calls are deleted after this (0: never). */
  readonly callHistoryRetentionMs: number;
  /** Browser origins allowed to call the API (CORS); empty: no cross-origin access. */
  readonly corsAllowedOrigins: readonly string[];
  readonly transcription: {
    readonly engine: "local" | "openai";
    /** Run the worker inside the service process (`inline`), or only as `npm run worker` (`off`). */
    readonly worker: "inline" | "off";
    /** The local engine (Whisper). */
    readonly whisper: {
      readonly model: "base" | "tiny.en";
      /** Undefined: detected per recording. */
      readonly language: string | undefined;
      readonly threads: number;
      /** Holds `venv-whisper/` and `models/`. */
      readonly dir: string;
      readonly stallMs: number;
    };
    readonly openai: { readonly baseUrl: string; readonly apiKey: string | undefined; readonly model: string };
    readonly concurrency: number;
    readonly maxAttempts: number;
    readonly ackWaitMs: number;
    readonly retryBaseMs: number;
    readonly timeoutMs: number;
    /** The transcript posted to the room is cut past this many characters. */
    readonly eventMaxChars: number;
  };
  readonly nats: {
    /** Every server the client may connect to (one, or a cluster's). */
    readonly servers: readonly string[];
    readonly stream: string;
    /** `num_replicas` of the events and jobs streams. */
    readonly replicas: number;
    readonly maxAgeSeconds: number;
    readonly duplicateWindowSeconds: number;
    /** The outbox relay's poll for events no commit woke it for. */
    readonly relayPollMs: number;
  };
  readonly livekit: {
    /** Client-facing ws(s):// URL, returned as `livekit_url`. */
    readonly url: string;
    /** Server API http(s):// URL this service calls. */
    readonly apiUrl: string;
    readonly apiKey: string;
    readonly apiSecret: string;
    readonly tokenTtlSeconds: number;
    readonly requestTimeoutMs: number;
    readonly emptyTimeoutSeconds: number;
    readonly departureTimeoutSeconds: number;
  };
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Picks the variables of {@link VARIABLES} from the environment, trimmed; blank ones count as unset. */
export function readEnv(env: Env = process.env): Partial<Record<EnvVar, string>> {
  const out: Partial<Record<EnvVar, string>> = {};
  for (const name of ENV_VARS) {
    const value = env[name]?.trim();
    if (value) out[name] = value;
  }
  return out;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

/**
 * Parses every variable with its own parser: a bad value becomes one problem
 * naming the variable (quoting the value, unless it is a secret) and leaves
 * the default in its place, so every other problem is still found.
 */
function parseVariables(vars: Partial<Record<EnvVar, string>>, problems: string[]): { values: Values; given: ReadonlySet<EnvVar> } {
  const values: Record<string, unknown> = {};
  const given = new Set<EnvVar>();
  for (const name of ENV_VARS) {
    const variable: Variable<unknown> = VARIABLES[name];
    const fallback = typeof variable.default === "string" ? parseDefault(name, variable) : undefined;
    const raw = vars[name]?.trim();
    if (!raw) {
      if (variable.required !== undefined) problems.push(`${name}: required (${variable.required})`);
      values[name] = fallback;
      continue;
    }
    given.add(name);
    try {
      values[name] = variable.parse.parse(raw);
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err;
      problems.push(variable.secret ? `${name}: ${err.rule}` : `${name}: ${err.rule} (got ${JSON.stringify(err.got ?? raw)})`);
      values[name] = fallback;
    }
  }
  return { values: values as Values, given };
}

/** A literal default, read by the variable's own parser (a default it refuses is a bug, not a configuration problem). */
function parseDefault(name: EnvVar, variable: Variable<unknown>): unknown {
  const raw = variable.default as string;
  try {
    return variable.parse.parse(raw);
  } catch (err) {
    throw new Error(`the default of ${name} (${JSON.stringify(raw)}) is not ${variable.parse.accepts}`, { cause: err });
  }
}

/**
 * The typed view of the parsed variables, with the rules that span several
 * variables; throws {@link ConfigError} listing every problem, in the order of
 * {@link VARIABLES}.
 */
export function loadConfig(vars: Partial<Record<EnvVar, string>>): Config {
  const problems: string[] = [];
  const { values: v, given } = parseVariables(vars, problems);
  const need = (name: EnvVar, hint: string) => {
    if (!given.has(name)) problems.push(`${name}: required (${hint})`);
  };

  let key: Config["auth"]["key"] = { kind: "secret", secret: v.AUTH_JWT_SECRET ?? "" };
  if (given.has("AUTH_JWT_SECRET") && given.has("AUTH_JWKS_URL")) {
    problems.push("AUTH_JWT_SECRET / AUTH_JWKS_URL: set one, not both");
  } else if (given.has("AUTH_JWKS_URL")) {
    key = { kind: "jwks", url: v.AUTH_JWKS_URL ?? "" };
  } else if (!given.has("AUTH_JWT_SECRET")) {
    problems.push("AUTH_JWT_SECRET or AUTH_JWKS_URL: one is required to verify bearer tokens");
  }

  // Derived from a valid LIVEKIT_URL only, so a bad one is reported once, under its own name.
  const livekitUrl = v.LIVEKIT_URL ?? "";
  const apiUrl = given.has("LIVEKIT_API_URL") ? (v.LIVEKIT_API_URL ?? "") : livekitUrl.replace(/^ws/, "http");

  // Recordings need all of S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY, or none of them (nor S3_PUBLIC_ENDPOINT).
  let s3: Config["s3"];
  const s3Vars = ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_PUBLIC_ENDPOINT"] as const;
  if (s3Vars.some((name) => given.has(name))) {
    need("S3_ENDPOINT", "MinIO/S3 URL, with S3_ACCESS_KEY and S3_SECRET_KEY");
    need("S3_ACCESS_KEY", "with S3_ENDPOINT");
    need("S3_SECRET_KEY", "with S3_ENDPOINT");
    s3 = {
      endpoint: v.S3_ENDPOINT ?? "",
      publicEndpoint: v.S3_PUBLIC_ENDPOINT,
      accessKey: v.S3_ACCESS_KEY ?? "",
      secretKey: v.S3_SECRET_KEY ?? "",
      bucket: v.S3_BUCKET,
      region: v.S3_REGION,
    };
  }

  if (v.TRANSCRIPTION_ENGINE === "openai") need("TRANSCRIPTION_OPENAI_BASE_URL", "the OpenAI-compatible server");

  const config: Config = {
    host: v.HOST,
    port: v.PORT,
    grpcPort: v.GRPC_PORT,
    databasePath: v.DATABASE_PATH,
    postgres:
      v.DATABASE_URL === undefined
        ? undefined
        : { url: v.DATABASE_URL, poolSize: v.DATABASE_POOL_SIZE, statementTimeoutMs: v.DATABASE_STATEMENT_TIMEOUT_MS },
    maxRequestBytes: v.MAX_REQUEST_BYTES,
    logLevel: v.LOG_LEVEL,
    auth: { key, issuer: v.AUTH_ISSUER, audience: v.AUTH_AUDIENCE },
    ringTimeoutSeconds: v.RING_TIMEOUT_SECONDS,
    callHistoryRetentionMs: v.CALL_HISTORY_RETENTION_DAYS * 86_400_000,
    s3,
    recordings: {
      maxDurationMs: v.RECORDING_MAX_MINUTES,
      downloadUrlTtlSeconds: v.RECORDING_DOWNLOAD_URL_TTL_SECONDS,
    },
    reconcile: {
      intervalSeconds: v.RECONCILE_INTERVAL_SECONDS,
      joinGraceSeconds: v.RECONCILE_JOIN_GRACE_SECONDS,
    },
    rateLimits: {
      initiate: { perMinute: v.RATE_LIMIT_INITIATE_PER_MINUTE, burst: v.RATE_LIMIT_INITIATE_BURST },
      recording: { perMinute: v.RATE_LIMIT_RECORDING_PER_MINUTE, burst: v.RATE_LIMIT_RECORDING_BURST },
      ring: { perMinute: v.RATE_LIMIT_RING_PER_MINUTE, burst: v.RATE_LIMIT_RING_BURST },
      other: { perMinute: v.RATE_LIMIT_OTHER_PER_MINUTE, burst: v.RATE_LIMIT_OTHER_BURST },
    },
    corsAllowedOrigins: v.CORS_ALLOWED_ORIGINS ?? [],
    transcription: {
      engine: v.TRANSCRIPTION_ENGINE,
      worker: v.TRANSCRIPTION_WORKER,
      whisper: {
        model: v.TRANSCRIPTION_WHISPER_MODEL,
        language: v.TRANSCRIPTION_WHISPER_LANGUAGE,
        threads: v.TRANSCRIPTION_WHISPER_THREADS ?? Math.max(1, Math.floor(availableParallelism() / v.TRANSCRIPTION_CONCURRENCY)),
        dir: v.TRANSCRIPTION_WHISPER_DIR ?? join(homedir(), ".cache", "scaiwave-calls"),
        stallMs: v.TRANSCRIPTION_WHISPER_STALL_SECONDS * 1000,
      },
      openai: {
        baseUrl: v.TRANSCRIPTION_OPENAI_BASE_URL ?? "",
        apiKey: v.TRANSCRIPTION_OPENAI_API_KEY,
        model: v.TRANSCRIPTION_OPENAI_MODEL,
      },
      concurrency: v.TRANSCRIPTION_CONCURRENCY,
      maxAttempts: v.TRANSCRIPTION_MAX_ATTEMPTS,
      ackWaitMs: v.TRANSCRIPTION_ACK_WAIT_SECONDS * 1000,
      retryBaseMs: v.TRANSCRIPTION_RETRY_BASE_MS,
      timeoutMs: v.TRANSCRIPTION_TIMEOUT_SECONDS * 1000,
      eventMaxChars: v.TRANSCRIPT_EVENT_MAX_CHARS,
    },
    nats: {
      servers: v.NATS_URL,
      stream: v.NATS_STREAM,
      replicas: v.NATS_STREAM_REPLICAS,
      maxAgeSeconds: v.NATS_STREAM_MAX_AGE_SECONDS,
      duplicateWindowSeconds: v.NATS_DUPLICATE_WINDOW_SECONDS,
      relayPollMs: v.OUTBOX_POLL_MS,
    },
    livekit: {
      url: livekitUrl,
      apiUrl,
      apiKey: v.LIVEKIT_API_KEY ?? "",
      apiSecret: v.LIVEKIT_API_SECRET ?? "",
      tokenTtlSeconds: v.LIVEKIT_TOKEN_TTL_SECONDS,
      requestTimeoutMs: v.LIVEKIT_REQUEST_TIMEOUT_MS,
      emptyTimeoutSeconds: v.LIVEKIT_ROOM_EMPTY_TIMEOUT_SECONDS,
      departureTimeoutSeconds: v.LIVEKIT_ROOM_DEPARTURE_TIMEOUT_SECONDS,
    },
  };
  if (problems.length > 0) throw new ConfigError(inVariableOrder(problems));
  return config;
}

/** Problems listed in the order of {@link ENV_VARS}, whatever order they were found in. */
function inVariableOrder(problems: readonly string[]): string[] {
  const rank = (p: string) => {
    const i = ENV_VARS.findIndex((name) => p.startsWith(`${name}:`) || p.startsWith(`${name} `));
    return i === -1 ? ENV_VARS.length : i;
  };
  return [...problems].sort((a, b) => rank(a) - rank(b));
}
