/**
 * Configuration in two steps (as atproto's PDS does): {@link readEnv} only
 * picks the variables, {@link loadConfig} applies defaults and validates,
 * reporting every bad variable at once, one line each.
 */

export interface Config {
  readonly host: string;
  readonly port: number;
  /**
   * A second port serving the unary RPCs over `@grpc/grpc-js` (faster than the
   * main port's gRPC); undefined: not served. 0: any free port.
   */
  readonly grpcPort: number | undefined;
  readonly databasePath: string;
  /** Largest accepted request body, bytes (REST, Connect, gRPC). */
  readonly maxRequestBytes: number;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
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
  readonly rateLimits: Readonly<Record<"initiate" | "recording" | "other", { readonly perMinute: number; readonly burst: number }>>;
  /** Browser origins allowed to call the API (CORS); empty: no cross-origin access. */
  readonly corsAllowedOrigins: readonly string[];
  readonly transcription: {
    readonly engine: "local" | "openai";
    /** Run the worker inside the service process (`inline`), or only as `npm run worker` (`off`). */
    readonly worker: "inline" | "off";
    readonly modelDir: string;
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
    readonly url: string;
    readonly stream: string;
    readonly maxAgeSeconds: number;
    readonly duplicateWindowSeconds: number;
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

/** The variables this service reads; everything else in the environment is ignored. */
export const ENV_VARS = [
  "HOST",
  "PORT",
  "GRPC_PORT",
  "DATABASE_PATH",
  "MAX_REQUEST_BYTES",
  "LOG_LEVEL",
  "RING_TIMEOUT_SECONDS",
  "RECONCILE_INTERVAL_SECONDS",
  "RECONCILE_JOIN_GRACE_SECONDS",
  "S3_ENDPOINT",
  "S3_ACCESS_KEY",
  "S3_SECRET_KEY",
  "S3_BUCKET",
  "S3_REGION",
  "RECORDING_MAX_MINUTES",
  "RECORDING_DOWNLOAD_URL_TTL_SECONDS",
  "RATE_LIMIT_INITIATE_PER_MINUTE",
  "RATE_LIMIT_INITIATE_BURST",
  "RATE_LIMIT_RECORDING_PER_MINUTE",
  "RATE_LIMIT_RECORDING_BURST",
  "RATE_LIMIT_OTHER_PER_MINUTE",
  "RATE_LIMIT_OTHER_BURST",
  "CORS_ALLOWED_ORIGINS",
  "TRANSCRIPTION_ENGINE",
  "TRANSCRIPTION_WORKER",
  "TRANSCRIPTION_MODEL_DIR",
  "TRANSCRIPTION_OPENAI_BASE_URL",
  "TRANSCRIPTION_OPENAI_API_KEY",
  "TRANSCRIPTION_OPENAI_MODEL",
  "TRANSCRIPTION_CONCURRENCY",
  "TRANSCRIPTION_MAX_ATTEMPTS",
  "TRANSCRIPTION_ACK_WAIT_SECONDS",
  "TRANSCRIPTION_RETRY_BASE_MS",
  "TRANSCRIPTION_TIMEOUT_SECONDS",
  "TRANSCRIPT_EVENT_MAX_CHARS",
  "NATS_URL",
  "NATS_STREAM",
  "NATS_STREAM_MAX_AGE_SECONDS",
  "NATS_DUPLICATE_WINDOW_SECONDS",
  "AUTH_JWT_SECRET",
  "AUTH_JWKS_URL",
  "AUTH_ISSUER",
  "AUTH_AUDIENCE",
  "LIVEKIT_URL",
  "LIVEKIT_API_URL",
  "LIVEKIT_API_KEY",
  "LIVEKIT_API_SECRET",
  "LIVEKIT_TOKEN_TTL_SECONDS",
  "LIVEKIT_REQUEST_TIMEOUT_MS",
  "LIVEKIT_ROOM_EMPTY_TIMEOUT_SECONDS",
  "LIVEKIT_ROOM_DEPARTURE_TIMEOUT_SECONDS",
] as const;

export type EnvVar = (typeof ENV_VARS)[number];

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

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function loadConfig(vars: Partial<Record<EnvVar, string>>): Config {
  const problems: string[] = [];
  const int = (name: EnvVar, fallback: number, min: number, max: number): number => {
    const raw = vars[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return value;
  };
  const required = (name: EnvVar, hint: string): string => {
    const value = vars[name];
    if (value === undefined) problems.push(`${name}: required (${hint})`);
    return value ?? "";
  };
  /** A valid URL comes back normalised (lower-case scheme and host, no trailing slash); an invalid one as "". */
  const url = (name: EnvVar, value: string, protocols: readonly string[]): string => {
    if (value === "") return value;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      problems.push(`${name}: not a URL (got ${JSON.stringify(value)})`);
      return "";
    }
    if (!protocols.includes(parsed.protocol)) {
      problems.push(`${name}: must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL (got ${JSON.stringify(value)})`);
      return "";
    }
    return parsed.href.replace(/\/+$/, "");
  };

  const logLevel = vars.LOG_LEVEL ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(logLevel)})`);
  }

  let key: Config["auth"]["key"] = { kind: "secret", secret: "" };
  const secret = vars.AUTH_JWT_SECRET;
  const jwksUrl = vars.AUTH_JWKS_URL;
  if (secret !== undefined && jwksUrl !== undefined) {
    problems.push("AUTH_JWT_SECRET / AUTH_JWKS_URL: set one, not both");
  } else if (secret !== undefined) {
    // RFC 7518 §3.2: an HS256 key must have at least 256 bits.
    if (Buffer.byteLength(secret) < 32) problems.push("AUTH_JWT_SECRET: must be at least 32 bytes (HS256)");
    key = { kind: "secret", secret };
  } else if (jwksUrl !== undefined) {
    key = { kind: "jwks", url: url("AUTH_JWKS_URL", jwksUrl, ["https:", "http:"]) };
  } else {
    problems.push("AUTH_JWT_SECRET or AUTH_JWKS_URL: one is required to verify bearer tokens");
  }

  const livekitUrl = url("LIVEKIT_URL", required("LIVEKIT_URL", "client-facing ws:// or wss:// URL"), ["ws:", "wss:"]);
  // Derived from a valid LIVEKIT_URL only, so a bad one is reported once, under its own name.
  const derivedApiUrl = livekitUrl.replace(/^ws/, "http");
  const apiUrl =
    vars.LIVEKIT_API_URL !== undefined ? url("LIVEKIT_API_URL", vars.LIVEKIT_API_URL, ["http:", "https:"]) : derivedApiUrl;

  // Recordings need all of S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY, or none of them.
  const s3Vars = [vars.S3_ENDPOINT, vars.S3_ACCESS_KEY, vars.S3_SECRET_KEY];
  let s3: Config["s3"];
  if (s3Vars.some((v) => v !== undefined)) {
    const endpoint = url("S3_ENDPOINT", required("S3_ENDPOINT", "MinIO/S3 URL, with S3_ACCESS_KEY and S3_SECRET_KEY"), ["http:", "https:"]);
    s3 = {
      endpoint,
      accessKey: required("S3_ACCESS_KEY", "with S3_ENDPOINT"),
      secretKey: required("S3_SECRET_KEY", "with S3_ENDPOINT"),
      bucket: vars.S3_BUCKET ?? "scaiwave-recordings",
      region: vars.S3_REGION ?? "us-east-1",
    };
  }
  const maxMinutesRaw = vars.RECORDING_MAX_MINUTES ?? "60";
  const maxMinutes = Number(maxMinutesRaw);
  if (!/^\d+(\.\d+)?$/.test(maxMinutesRaw) || maxMinutes <= 0 || maxMinutes > 24 * 60) {
    problems.push(`RECORDING_MAX_MINUTES: must be a number of minutes above 0, at most 1440 (got ${JSON.stringify(maxMinutesRaw)})`);
  }

  const oneOf = <T extends string>(name: EnvVar, allowed: readonly T[], fallback: T): T => {
    const value = vars[name] ?? fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      problems.push(`${name}: must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return value as T;
  };
  const engine = oneOf("TRANSCRIPTION_ENGINE", ["local", "openai"] as const, "local");
  const openaiBaseUrl =
    engine === "openai"
      ? url("TRANSCRIPTION_OPENAI_BASE_URL", required("TRANSCRIPTION_OPENAI_BASE_URL", "the OpenAI-compatible server"), ["http:", "https:"])
      : (vars.TRANSCRIPTION_OPENAI_BASE_URL ?? "");

  const corsOrigins = (vars.CORS_ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (origin !== "*" && !/^https?:\/\/[^/]+$/.test(origin)) {
      problems.push(`CORS_ALLOWED_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com (or *)`);
    }
  }

  const natsUrl = url("NATS_URL", vars.NATS_URL ?? "nats://127.0.0.1:4222", ["nats:", "tls:"]);
  const natsStream = vars.NATS_STREAM ?? "SWP_CALLS";
  // JetStream stream names may not contain whitespace, '.', '*', '>', path separators.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(natsStream)) {
    problems.push(`NATS_STREAM: must be 1-64 characters of A-Z a-z 0-9 _ - (got ${JSON.stringify(natsStream)})`);
  }

  const config: Config = {
    host: vars.HOST ?? "0.0.0.0",
    port: int("PORT", 8080, 0, 65535),
    grpcPort: vars.GRPC_PORT === undefined ? undefined : int("GRPC_PORT", 0, 0, 65535),
    databasePath: vars.DATABASE_PATH ?? "./data/calls.db",
    maxRequestBytes: int("MAX_REQUEST_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
    logLevel: logLevel as Config["logLevel"],
    auth: { key, issuer: vars.AUTH_ISSUER, audience: vars.AUTH_AUDIENCE },
    ringTimeoutSeconds: int("RING_TIMEOUT_SECONDS", 45, 1, 3_600),
    s3,
    recordings: {
      maxDurationMs: Math.round(maxMinutes * 60_000),
      downloadUrlTtlSeconds: int("RECORDING_DOWNLOAD_URL_TTL_SECONDS", 300, 10, 7 * 86_400),
    },
    reconcile: {
      intervalSeconds: int("RECONCILE_INTERVAL_SECONDS", 30, 0, 86_400),
      joinGraceSeconds: int("RECONCILE_JOIN_GRACE_SECONDS", 20, 0, 3_600),
    },
    rateLimits: {
      initiate: { perMinute: int("RATE_LIMIT_INITIATE_PER_MINUTE", 30, 0, 1_000_000), burst: int("RATE_LIMIT_INITIATE_BURST", 10, 1, 1_000_000) },
      recording: { perMinute: int("RATE_LIMIT_RECORDING_PER_MINUTE", 10, 0, 1_000_000), burst: int("RATE_LIMIT_RECORDING_BURST", 5, 1, 1_000_000) },
      other: { perMinute: int("RATE_LIMIT_OTHER_PER_MINUTE", 600, 0, 1_000_000), burst: int("RATE_LIMIT_OTHER_BURST", 100, 1, 1_000_000) },
    },
    corsAllowedOrigins: corsOrigins,
    transcription: {
      engine,
      worker: oneOf("TRANSCRIPTION_WORKER", ["inline", "off"] as const, "inline"),
      modelDir: vars.TRANSCRIPTION_MODEL_DIR ?? "/usr/share/pocketsphinx/model/en-us",
      openai: {
        baseUrl: openaiBaseUrl,
        apiKey: vars.TRANSCRIPTION_OPENAI_API_KEY,
        model: vars.TRANSCRIPTION_OPENAI_MODEL ?? "whisper-1",
      },
      concurrency: int("TRANSCRIPTION_CONCURRENCY", 1, 1, 64),
      maxAttempts: int("TRANSCRIPTION_MAX_ATTEMPTS", 3, 1, 20),
      ackWaitMs: int("TRANSCRIPTION_ACK_WAIT_SECONDS", 60, 1, 3_600) * 1000,
      retryBaseMs: int("TRANSCRIPTION_RETRY_BASE_MS", 5_000, 10, 600_000),
      timeoutMs: int("TRANSCRIPTION_TIMEOUT_SECONDS", 600, 5, 86_400) * 1000,
      eventMaxChars: int("TRANSCRIPT_EVENT_MAX_CHARS", 2_000, 100, 100_000),
    },
    nats: {
      url: natsUrl,
      stream: natsStream,
      maxAgeSeconds: int("NATS_STREAM_MAX_AGE_SECONDS", 86_400, 60, 365 * 86_400),
      duplicateWindowSeconds: int("NATS_DUPLICATE_WINDOW_SECONDS", 120, 1, 86_400),
    },
    livekit: {
      url: livekitUrl,
      apiUrl,
      apiKey: required("LIVEKIT_API_KEY", "the API key LiveKit knows this service by"),
      apiSecret: required("LIVEKIT_API_SECRET", "the secret of LIVEKIT_API_KEY"),
      tokenTtlSeconds: int("LIVEKIT_TOKEN_TTL_SECONDS", 600, 30, 86_400),
      requestTimeoutMs: int("LIVEKIT_REQUEST_TIMEOUT_MS", 2000, 100, 60_000),
      emptyTimeoutSeconds: int("LIVEKIT_ROOM_EMPTY_TIMEOUT_SECONDS", 120, 1, 86_400),
      departureTimeoutSeconds: int("LIVEKIT_ROOM_DEPARTURE_TIMEOUT_SECONDS", 20, 1, 3_600),
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
