import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAppContext, type AppContext, type AppOverrides } from "../../src/app-context.js";
import { loadConfig, type EnvVar } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { TEST_JWT_SECRET } from "./tokens.js";

export interface LiveKitEndpoint {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** The configuration variables pointing the service at a LiveKit server. */
export function liveKitEnv(livekit: LiveKitEndpoint): Record<"LIVEKIT_URL" | "LIVEKIT_API_URL" | "LIVEKIT_API_KEY" | "LIVEKIT_API_SECRET", string> {
  return {
    LIVEKIT_URL: livekit.wsUrl,
    LIVEKIT_API_URL: livekit.httpUrl,
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
  };
}

export interface RunningService extends AsyncDisposable {
  readonly app: AppContext;
  readonly baseUrl: string;
  readonly port: number;
  /** The grpc-js listener's port when GRPC_PORT was given, else undefined. */
  readonly grpcPort: number | undefined;
  /** Everything the service logged, as JSON lines. */
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * The real service, in-process, listening on a free loopback port with its
 * store in a fresh temp dir. `env` overrides config variables.
 */
export async function startService(
  livekit: LiveKitEndpoint,
  env: Partial<Record<EnvVar, string>> = {},
  overrides: AppOverrides = {},
  /** A fixed port, when something (LiveKit's webhook config) must know it in advance. */
  port = 0,
): Promise<RunningService> {
  const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-test-"));
  const logs: string[] = [];
  // The service's own logger (redaction, request ids), writing into memory.
  const logger = createLogger("debug", { write: (line: string) => void logs.push(line) });
  const config = loadConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_PATH: join(dir, "calls.db"),
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ...liveKitEnv(livekit),
    // Tests hammer the API as a few users; rate limits are tested on their own.
    RATE_LIMIT_INITIATE_PER_MINUTE: "0",
    RATE_LIMIT_RECORDING_PER_MINUTE: "0",
    RATE_LIMIT_OTHER_PER_MINUTE: "0",
    ...env,
  });
  const app = createAppContext(config, { logger, ...overrides });
  const address = await app.server.listen(port, "127.0.0.1");
  const grpcPort = await app.grpc?.listen();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { app, baseUrl: `http://127.0.0.1:${address.port}`, port: address.port, grpcPort, logs, stop, [Symbol.asyncDispose]: stop };
}
