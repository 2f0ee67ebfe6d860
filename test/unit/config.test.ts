import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, ENV_VARS, loadConfig, readEnv, VARIABLES, type Config, type Env, type Variable } from "../../src/config.js";
import { InvalidValue } from "../../src/config-parsers.js";
import { configurationDoc } from "../../scripts/config-docs.js";

const SECRET = "s3cr3t-hs256-key-of-at-least-32-bytes!";
const LIVEKIT_SECRET = "lk-api-secret-value-do-not-print";

/** The smallest environment that starts the service. */
const MINIMAL: Env = {
  AUTH_JWT_SECRET: SECRET,
  LIVEKIT_URL: "wss://livekit.example.com",
  LIVEKIT_API_KEY: "APIkey123",
  LIVEKIT_API_SECRET: LIVEKIT_SECRET,
};

function load(env: Env): Config {
  return loadConfig(readEnv(env));
}

function problemsOf(env: Env): readonly string[] {
  let caught: unknown;
  try {
    load(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).problems;
}

describe("loadConfig defaults", () => {
  it("fills every optional setting from a minimal environment", () => {
    expect(load(MINIMAL)).toEqual({
      host: "0.0.0.0",
      port: 8080,
      grpcPort: undefined,
      databasePath: "./data/calls.db",
      maxRequestBytes: 65_536,
      logLevel: "info",
      auth: { key: { kind: "secret", secret: SECRET }, issuer: undefined, audience: undefined },
      ringTimeoutSeconds: 45,
      callHistoryRetentionMs: 365 * 86_400_000,
      reconcile: { intervalSeconds: 30, joinGraceSeconds: 20 },
      s3: undefined,
      recordings: { maxDurationMs: 3_600_000, downloadUrlTtlSeconds: 300 },
      rateLimits: {
        initiate: { perMinute: 30, burst: 10 },
        recording: { perMinute: 10, burst: 5 },
        ring: { perMinute: 20, burst: 5 },
        other: { perMinute: 600, burst: 100 },
      },
      corsAllowedOrigins: [],
      transcription: {
        engine: "local",
        worker: "inline",
        whisper: {
          model: "base",
          language: undefined,
          threads: Math.max(1, availableParallelism()),
          dir: join(homedir(), ".cache", "scaiwave-calls"),
          stallMs: 120_000,
        },
        openai: { baseUrl: "", apiKey: undefined, model: "whisper-1" },
        concurrency: 1,
        maxAttempts: 3,
        ackWaitMs: 60_000,
        retryBaseMs: 5_000,
        timeoutMs: 600_000,
        eventMaxChars: 2_000,
      },
      nats: { servers: ["nats://127.0.0.1:4222"], stream: "SWP_CALLS", replicas: 1, maxAgeSeconds: 86_400, duplicateWindowSeconds: 120, relayPollMs: 1000 },
      livekit: {
        url: "wss://livekit.example.com",
        apiUrl: "https://livekit.example.com",
        apiKey: "APIkey123",
        apiSecret: LIVEKIT_SECRET,
        tokenTtlSeconds: 600,
        requestTimeoutMs: 2_000,
        emptyTimeoutSeconds: 120,
        departureTimeoutSeconds: 20,
      },
    });
  });

  it("derives the LiveKit API URL from ws:// as http://", () => {
    const config = load({ ...MINIMAL, LIVEKIT_URL: "ws://127.0.0.1:7880" });
    expect(config.livekit.url).toBe("ws://127.0.0.1:7880");
    expect(config.livekit.apiUrl).toBe("http://127.0.0.1:7880");
  });

  it("derives the LiveKit API URL from wss:// as https://, dropping a trailing slash", () => {
    const config = load({ ...MINIMAL, LIVEKIT_URL: "wss://lk.example.com/" });
    expect(config.livekit.url).toBe("wss://lk.example.com");
    expect(config.livekit.apiUrl).toBe("https://lk.example.com");
  });

  it("accepts an upper-case scheme and derives the API URL from it", () => {
    expect(load({ ...MINIMAL, LIVEKIT_URL: "WSS://lk.example.com" }).livekit.apiUrl).toBe("https://lk.example.com");
  });

  it("blames a bad LIVEKIT_URL once, not the API URL derived from it", () => {
    expect(problemsOf({ ...MINIMAL, LIVEKIT_URL: "wsfoo" })).toEqual(['LIVEKIT_URL: not a URL (got "wsfoo")']);
  });

  it("uses LIVEKIT_API_URL when it is set", () => {
    const config = load({ ...MINIMAL, LIVEKIT_API_URL: "http://livekit.internal:7880/" });
    expect(config.livekit.url).toBe("wss://livekit.example.com");
    expect(config.livekit.apiUrl).toBe("http://livekit.internal:7880");
  });

  it("reads explicit values, trimming whitespace", () => {
    const config = load({
      ...MINIMAL,
      HOST: " 127.0.0.1 ",
      PORT: "9090",
      DATABASE_PATH: "/var/lib/calls/calls.db",
      MAX_REQUEST_BYTES: "1024",
      LOG_LEVEL: "debug",
      AUTH_ISSUER: "https://auth.scaiwave.example",
      AUTH_AUDIENCE: "scaiwave-calls",
      LIVEKIT_TOKEN_TTL_SECONDS: "30",
      LIVEKIT_REQUEST_TIMEOUT_MS: "60000",
      LIVEKIT_ROOM_EMPTY_TIMEOUT_SECONDS: "300",
      LIVEKIT_ROOM_DEPARTURE_TIMEOUT_SECONDS: "5",
    });
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(9090);
    expect(config.databasePath).toBe("/var/lib/calls/calls.db");
    expect(config.maxRequestBytes).toBe(1024);
    expect(config.logLevel).toBe("debug");
    expect(config.auth.issuer).toBe("https://auth.scaiwave.example");
    expect(config.auth.audience).toBe("scaiwave-calls");
    expect(config.livekit.tokenTtlSeconds).toBe(30);
    expect(config.livekit.requestTimeoutMs).toBe(60_000);
    expect(config.livekit.emptyTimeoutSeconds).toBe(300);
    expect(config.livekit.departureTimeoutSeconds).toBe(5);
  });

  it("treats empty and blank variables as unset", () => {
    const config = load({ ...MINIMAL, PORT: "", GRPC_PORT: " ", HOST: "   ", LOG_LEVEL: "" });
    expect(config.port).toBe(8080);
    expect(config.grpcPort).toBeUndefined();
    expect(config.host).toBe("0.0.0.0");
    expect(config.logLevel).toBe("info");
  });

  it("accepts a JWKS URL instead of a secret", () => {
    const { AUTH_JWT_SECRET: _unused, ...withoutSecret } = MINIMAL;
    const config = load({ ...withoutSecret, AUTH_JWKS_URL: "https://auth.example.com/.well-known/jwks.json" });
    expect(config.auth.key).toEqual({ kind: "jwks", url: "https://auth.example.com/.well-known/jwks.json" });
  });

  it("ignores variables it does not read", () => {
    expect(readEnv({ ...MINIMAL, PATH: "/usr/bin", HOME: "/root" })).toEqual({
      AUTH_JWT_SECRET: SECRET,
      LIVEKIT_URL: "wss://livekit.example.com",
      LIVEKIT_API_KEY: "APIkey123",
      LIVEKIT_API_SECRET: LIVEKIT_SECRET,
    });
  });
});

describe("loadConfig validation", () => {
  it("reports every bad variable at once, one line per variable, each naming it", () => {
    const problems = problemsOf({
      PORT: "abc",
      MAX_REQUEST_BYTES: "12",
      LOG_LEVEL: "loud",
      AUTH_JWT_SECRET: "too-short",
      LIVEKIT_URL: "http://livekit.example.com",
      LIVEKIT_TOKEN_TTL_SECONDS: "10m",
    });
    // The order of the lines is not part of this contract; their content is.
    expect([...problems].sort()).toEqual(
      [
        'PORT: must be an integer from 0 to 65535 (got "abc")',
        'MAX_REQUEST_BYTES: must be an integer from 1024 to 16777216 (got "12")',
        'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        "AUTH_JWT_SECRET: must be at least 32 bytes (HS256)",
        "LIVEKIT_API_KEY: required (the API key LiveKit knows this service by)",
        "LIVEKIT_API_SECRET: required (the secret of LIVEKIT_API_KEY)",
        'LIVEKIT_TOKEN_TTL_SECONDS: must be an integer from 30 to 86400 (got "10m")',
        problems.find((p) => p.startsWith("LIVEKIT_URL:")) ?? "LIVEKIT_URL: (missing)",
      ].sort(),
    );
    expect(problems.find((p) => p.startsWith("LIVEKIT_URL:"))).toMatch(
      /^LIVEKIT_URL: must be a ws:.* or wss:\/\/ URL \(got "http:\/\/livekit\.example\.com"\)$/,
    );
    const named = problems.map((p) => p.slice(0, p.indexOf(":")));
    expect(new Set(named).size).toBe(problems.length);
  });

  it("puts every problem on its own line of the error message", () => {
    let caught: unknown;
    try {
      load({ ...MINIMAL, PORT: "abc", LIVEKIT_API_KEY: undefined });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(
      [
        "invalid configuration:",
        '  PORT: must be an integer from 0 to 65535 (got "abc")',
        "  LIVEKIT_API_KEY: required (the API key LiveKit knows this service by)",
      ].join("\n"),
    );
  });

  it.each([
    ["abc"],
    ["-1"],
    ["65536"],
    ["80.5"],
    ["1e3"],
    ["0x50"],
  ])("rejects PORT=%s", (port) => {
    expect(problemsOf({ ...MINIMAL, PORT: port })).toEqual([
      `PORT: must be an integer from 0 to 65535 (got ${JSON.stringify(port)})`,
    ]);
  });

  it("accepts the PORT bounds 0 and 65535", () => {
    expect(load({ ...MINIMAL, PORT: "0" }).port).toBe(0);
    expect(load({ ...MINIMAL, PORT: "65535" }).port).toBe(65_535);
  });

  it("reads GRPC_PORT: unset means no grpc-js listener, 0 any free port", () => {
    expect(load(MINIMAL).grpcPort).toBeUndefined();
    expect(load({ ...MINIMAL, GRPC_PORT: "0" }).grpcPort).toBe(0);
    expect(load({ ...MINIMAL, GRPC_PORT: "50051" }).grpcPort).toBe(50_051);
  });

  it.each([["70000"], ["abc"], ["-1"], ["5005.1"]])("rejects GRPC_PORT=%s, naming the variable", (port) => {
    expect(problemsOf({ ...MINIMAL, GRPC_PORT: port })).toEqual([
      `GRPC_PORT: must be an integer from 0 to 65535 (got ${JSON.stringify(port)})`,
    ]);
  });

  it("rejects an HS256 secret shorter than 32 bytes without echoing it", () => {
    const short = "hunter2-but-31-bytes-long-12345";
    expect(Buffer.byteLength(short)).toBe(31);
    const problems = problemsOf({ ...MINIMAL, AUTH_JWT_SECRET: short });
    expect(problems).toEqual(["AUTH_JWT_SECRET: must be at least 32 bytes (HS256)"]);
  });

  it("accepts a secret of exactly 32 bytes", () => {
    const secret = "0123456789abcdef0123456789abcdef";
    expect(load({ ...MINIMAL, AUTH_JWT_SECRET: secret }).auth.key).toEqual({ kind: "secret", secret });
  });

  it("refuses both AUTH_JWT_SECRET and AUTH_JWKS_URL", () => {
    expect(problemsOf({ ...MINIMAL, AUTH_JWKS_URL: "https://auth.example.com/jwks.json" })).toEqual([
      "AUTH_JWT_SECRET / AUTH_JWKS_URL: set one, not both",
    ]);
  });

  it("requires one of AUTH_JWT_SECRET and AUTH_JWKS_URL", () => {
    expect(problemsOf({ ...MINIMAL, AUTH_JWT_SECRET: undefined })).toEqual([
      "AUTH_JWT_SECRET or AUTH_JWKS_URL: one is required to verify bearer tokens",
    ]);
  });

  it("refuses a JWKS URL that is not http(s)", () => {
    const problems = problemsOf({ ...MINIMAL, AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: "ftp://auth.example.com/jwks" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^AUTH_JWKS_URL: must be a .*https?.* URL \(got "ftp:\/\/auth\.example\.com\/jwks"\)$/);
  });

  it.each([["http://livekit.example.com"], ["https://livekit.example.com"]])(
    "refuses LIVEKIT_URL=%s: the client-facing URL must be ws:// or wss://",
    (url) => {
      const problems = problemsOf({ ...MINIMAL, LIVEKIT_URL: url });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^LIVEKIT_URL: must be a ws:.* or wss:\/\/ URL/);
      expect(problems[0]).toContain(JSON.stringify(url));
    },
  );

  it("refuses a LIVEKIT_API_URL that is not http(s)", () => {
    const problems = problemsOf({ ...MINIMAL, LIVEKIT_API_URL: "ws://livekit.internal:7880" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^LIVEKIT_API_URL: must be a .*https?.* URL \(got "ws:\/\/livekit\.internal:7880"\)$/);
  });

  it.each([["LIVEKIT_URL"], ["LIVEKIT_API_KEY"], ["LIVEKIT_API_SECRET"]])("requires %s", (name) => {
    const problems = problemsOf({ ...MINIMAL, [name]: undefined });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: required \\(`));
  });

  const S3: Env = { S3_ENDPOINT: "http://minio.internal:9000", S3_ACCESS_KEY: "key", S3_SECRET_KEY: "secret" };

  it("reads S3_PUBLIC_ENDPOINT for download URLs; unset, they use S3_ENDPOINT", () => {
    expect(load({ ...MINIMAL, ...S3 }).s3?.publicEndpoint).toBeUndefined();
    const config = load({ ...MINIMAL, ...S3, S3_PUBLIC_ENDPOINT: "HTTPS://Files.Example.com/" });
    expect(config.s3).toMatchObject({ endpoint: "http://minio.internal:9000", publicEndpoint: "https://files.example.com" });
  });

  it.each([
    ["https://files.example.com/s3", /^S3_PUBLIC_ENDPOINT: must be a scheme, host and port only, no path/],
    ["ftp://files.example.com", /^S3_PUBLIC_ENDPOINT: must be a .*https?.* URL/],
    ["files.example.com", /^S3_PUBLIC_ENDPOINT: not a URL/],
  ])("refuses S3_PUBLIC_ENDPOINT=%s", (value, problem) => {
    const problems = problemsOf({ ...MINIMAL, ...S3, S3_PUBLIC_ENDPOINT: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it("refuses S3_PUBLIC_ENDPOINT without the S3 settings it belongs to", () => {
    expect(problemsOf({ ...MINIMAL, S3_PUBLIC_ENDPOINT: "https://files.example.com" })).toEqual([
      "S3_ENDPOINT: required (MinIO/S3 URL, with S3_ACCESS_KEY and S3_SECRET_KEY)",
      "S3_ACCESS_KEY: required (with S3_ENDPOINT)",
      "S3_SECRET_KEY: required (with S3_ENDPOINT)",
    ]);
  });

  it("reports the whole empty environment at once", () => {
    expect([...problemsOf({})].sort()).toEqual([
      "AUTH_JWT_SECRET or AUTH_JWKS_URL: one is required to verify bearer tokens",
      "LIVEKIT_API_KEY: required (the API key LiveKit knows this service by)",
      "LIVEKIT_API_SECRET: required (the secret of LIVEKIT_API_KEY)",
      "LIVEKIT_URL: required (client-facing ws:// or wss:// URL)",
    ]);
  });

  it("never prints a secret's value in any problem or in the error message", () => {
    const shortSecret = "SHORT-jwt-secret-zzz";
    const env: Env = {
      AUTH_JWT_SECRET: shortSecret,
      LIVEKIT_URL: "http://livekit.example.com",
      LIVEKIT_API_SECRET: LIVEKIT_SECRET,
      PORT: "nope",
    };
    let caught: unknown;
    try {
      load(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems.length).toBe(4);
    for (const problem of error.problems) {
      expect(problem).not.toContain(shortSecret);
      expect(problem).not.toContain(LIVEKIT_SECRET);
    }
    expect(error.message).not.toContain(shortSecret);
    expect(error.message).not.toContain(LIVEKIT_SECRET);

    const both = problemsOf({ ...MINIMAL, AUTH_JWKS_URL: "https://auth.example.com/jwks.json" });
    expect(both.join("\n")).not.toContain(SECRET);
  });
});

describe("the declared variables", () => {
  const declared = Object.entries(VARIABLES) as [string, Variable<unknown>][];

  /** A value `variable` refuses, if it refuses any (free text accepts everything). */
  function badValueOf(variable: Variable<unknown>): string | undefined {
    return ["x", "a.b c"].find((candidate) => {
      try {
        variable.parse.parse(candidate);
        return false;
      } catch (err) {
        return err instanceof InvalidValue;
      }
    });
  }

  it("describes every variable, and never gives a required one a default", () => {
    expect(new Set(ENV_VARS).size).toBe(declared.length);
    for (const [name, variable] of declared) {
      expect(variable.description.trim(), name).not.toBe("");
      expect(variable.parse.accepts.trim(), name).not.toBe("");
      if (variable.required !== undefined) expect(variable.default, name).toBeUndefined();
    }
  });

  it("reports a bad value of every variable at once, one line each, naming it (and quoting it unless secret)", () => {
    const bad = declared.flatMap(([name, variable]) => {
      const value = badValueOf(variable);
      return value === undefined ? [] : [{ name, value, secret: variable.secret === true }];
    });
    // Every kind of parser with a rule is in the list: numbers, words, URLs, lists, checked text.
    expect(bad.map((b) => b.name)).toEqual(
      expect.arrayContaining(["PORT", "LOG_LEVEL", "LIVEKIT_URL", "CORS_ALLOWED_ORIGINS", "NATS_STREAM", "RECORDING_MAX_MINUTES", "AUTH_JWT_SECRET"]),
    );
    const problems = problemsOf({
      ...MINIMAL,
      S3_ACCESS_KEY: "key",
      S3_SECRET_KEY: "secret-key",
      ...Object.fromEntries(bad.map((b) => [b.name, b.value])),
    });
    for (const { name, value, secret } of bad) {
      const lines = problems.filter((p) => p.startsWith(`${name}: `));
      expect(lines, name).toHaveLength(1);
      if (secret) expect(lines[0], name).not.toContain(value);
      else expect(lines[0], name).toContain(`(got ${JSON.stringify(value)})`);
    }
  });

  it("documents every variable in docs/configuration.md, with its default and what it accepts", () => {
    const doc = configurationDoc();
    for (const [name, variable] of declared) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(variable.description);
      expect(row).toContain(variable.parse.accepts);
      if (typeof variable.default === "string") expect(row).toContain(`\`${variable.default}\``);
      if (variable.required !== undefined) expect(row).toContain("required");
    }
  });

  it("reads RECORDING_MAX_MINUTES with decimals, as milliseconds", () => {
    expect(load({ ...MINIMAL, RECORDING_MAX_MINUTES: "0.5" }).recordings.maxDurationMs).toBe(30_000);
    expect(problemsOf({ ...MINIMAL, RECORDING_MAX_MINUTES: "0" })).toEqual([
      'RECORDING_MAX_MINUTES: must be a number of minutes above 0, at most 1440 (got "0")',
    ]);
  });

  it("reads CORS_ALLOWED_ORIGINS as a list, quoting the one bad origin", () => {
    expect(load({ ...MINIMAL, CORS_ALLOWED_ORIGINS: "https://a.example.com, http://b.example.com:8080,*" }).corsAllowedOrigins).toEqual([
      "https://a.example.com",
      "http://b.example.com:8080",
      "*",
    ]);
    expect(problemsOf({ ...MINIMAL, CORS_ALLOWED_ORIGINS: "https://a.example.com,https://b.example.com/app" })).toEqual([
      'CORS_ALLOWED_ORIGINS: must be a comma-separated list of origins like https://app.example.com (or *) (got "https://b.example.com/app")',
    ]);
  });

  it("reads NATS_URL as one server or a cluster's comma-separated servers, each normalised, credentials kept for the client", () => {
    expect(load({ ...MINIMAL, NATS_URL: "nats://nats-1:4222" }).nats.servers).toEqual(["nats://nats-1:4222"]);
    expect(
      load({ ...MINIMAL, NATS_URL: " NATS://calls:s3cret@nats-1:4222, tls://nats-2:4222/ ,,nats://nats-3:4222 " }).nats.servers,
    ).toEqual(["nats://calls:s3cret@nats-1:4222", "tls://nats-2:4222", "nats://nats-3:4222"]);
  });

  it("names the bad NATS_URL entry, never with the credentials it carries", () => {
    const problems = problemsOf({ ...MINIMAL, NATS_URL: "nats://nats-1:4222,http://calls:s3cret@nats-2:4222,nats://nats-3:4222" });
    expect(problems).toEqual([
      'NATS_URL: must be a comma-separated list of nats:// or tls:// URLs (got "http://[credentials]@nats-2:4222")',
    ]);
    expect(problemsOf({ ...MINIMAL, NATS_URL: "nats://nats-1:4222, nats://tok3n@[::1" })).toEqual([
      'NATS_URL: must be a comma-separated list of nats:// or tls:// URLs (got "nats://[credentials]@[::1")',
    ]);
    expect(problemsOf({ ...MINIMAL, NATS_URL: " , ," })).toEqual([
      'NATS_URL: must be a comma-separated list of nats:// or tls:// URLs, at least one (got ", ,")',
    ]);
  });

  it("reads NATS_STREAM_REPLICAS from 1 to 5", () => {
    expect(load({ ...MINIMAL, NATS_STREAM_REPLICAS: "3" }).nats.replicas).toBe(3);
    expect(problemsOf({ ...MINIMAL, NATS_STREAM_REPLICAS: "0" })).toEqual([
      'NATS_STREAM_REPLICAS: must be an integer from 1 to 5 (got "0")',
    ]);
    expect(problemsOf({ ...MINIMAL, NATS_STREAM_REPLICAS: "6" })).toEqual(['NATS_STREAM_REPLICAS: must be an integer from 1 to 5 (got "6")']);
  });

  it("requires TRANSCRIPTION_OPENAI_BASE_URL with the openai engine only", () => {
    expect(problemsOf({ ...MINIMAL, TRANSCRIPTION_ENGINE: "openai" })).toEqual([
      "TRANSCRIPTION_OPENAI_BASE_URL: required (the OpenAI-compatible server)",
    ]);
    const config = load({ ...MINIMAL, TRANSCRIPTION_ENGINE: "openai", TRANSCRIPTION_OPENAI_BASE_URL: "http://whisper.internal:8000/" });
    expect(config.transcription.openai.baseUrl).toBe("http://whisper.internal:8000");
  });

  it("reads the local engine's Whisper settings; its threads share the cores among the jobs in flight", () => {
    const config = load({
      ...MINIMAL,
      TRANSCRIPTION_WHISPER_MODEL: "tiny.en",
      TRANSCRIPTION_WHISPER_LANGUAGE: "de",
      TRANSCRIPTION_WHISPER_DIR: "/srv/whisper",
      TRANSCRIPTION_CONCURRENCY: "2",
    });
    expect(config.transcription.whisper).toEqual({
      model: "tiny.en",
      language: "de",
      threads: Math.max(1, Math.floor(availableParallelism() / 2)),
      dir: "/srv/whisper",
      stallMs: 120_000,
    });
    expect(load({ ...MINIMAL, TRANSCRIPTION_WHISPER_THREADS: "3" }).transcription.whisper.threads).toBe(3);
    expect(problemsOf({ ...MINIMAL, TRANSCRIPTION_WHISPER_MODEL: "large-v3", TRANSCRIPTION_WHISPER_LANGUAGE: "English" })).toEqual([
      'TRANSCRIPTION_WHISPER_MODEL: must be one of base, tiny.en (got "large-v3")',
      'TRANSCRIPTION_WHISPER_LANGUAGE: must be a Whisper language code like en, de, fr (got "English")',
    ]);
  });
});
