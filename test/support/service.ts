import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppContext, AppOverrides } from "../../src/composition/app-context.js";
import { createService } from "../../src/composition/service.js";
import { loadConfig, type EnvVar } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import type { LiveKitEndpoint } from "./livekit-server.js";
import { sharedPostgres, type SharedLiveKit } from "./shared-servers.js";
import { TEST_JWT_SECRET } from "./tokens.js";
import { subscribeToWebhooks } from "./webhook-hub.js";

export type { LiveKitEndpoint };

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
 * The store a test service runs on: SQLite in its temp dir, or, when the
 * suite runs with TEST_STORE=postgresql (the integration-postgresql project),
 * a fresh database on the run's shared PostgreSQL. A test that restarts a
 * service on the same store takes it once from here and passes it as `env`.
 */
export async function testStoreEnv(): Promise<Partial<Record<EnvVar, string>>> {
  const kind = process.env["TEST_STORE"] ?? "sqlite";
  if (kind === "sqlite") return {};
  if (kind !== "postgresql") throw new Error(`TEST_STORE=${kind}: use sqlite or postgresql`);
  return { DATABASE_URL: await sharedPostgres().createDatabase() };
}

export interface ServiceOptions {
  /** A fixed port, when something must know it before the service starts (default: any free port). */
  readonly port?: number;
  /**
   * Receive the shared livekit-server's webhooks while running (subscribed at
   * its webhook hub). Off by default: a service then sees only the webhooks a
   * test posts itself.
   */
  readonly liveKitWebhooks?: boolean;
}

/**
 * The real service, in-process, listening on a free loopback port with its
 * store in a fresh temp dir. `env` overrides config variables.
 */
export async function startService(
  livekit: LiveKitEndpoint | SharedLiveKit,
  env: Partial<Record<EnvVar, string>> = {},
  overrides: AppOverrides = {},
  { port = 0, liveKitWebhooks = false }: ServiceOptions = {},
): Promise<RunningService> {
  const hubUrl = "webhookHubUrl" in livekit ? livekit.webhookHubUrl : undefined;
  if (liveKitWebhooks && hubUrl === undefined) {
    throw new Error("startService: liveKitWebhooks needs the shared livekit-server (sharedLiveKit()), whose webhooks go through the hub");
  }
  const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-test-"));
  const logs: string[] = [];
  // The service's own logger (redaction, request ids), writing into memory.
  const logger = createLogger("debug", { write: (line: string) => void logs.push(line) });
  const config = loadConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_PATH: join(dir, "calls.db"),
    ...(env.DATABASE_URL === undefined && (await testStoreEnv())),
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ...liveKitEnv(livekit),
    // Tests hammer the API as a few users; rate limits are tested on their own.
    RATE_LIMIT_INITIATE_PER_MINUTE: "0",
    RATE_LIMIT_RECORDING_PER_MINUTE: "0",
    RATE_LIMIT_RING_PER_MINUTE: "0",
    RATE_LIMIT_OTHER_PER_MINUTE: "0",
    ...env,
  });
  const service = await createService(config, { logger, ...overrides });
  service.start();
  const address = await service.server.listen(port, "127.0.0.1");
  const grpcPort = await service.server.grpc?.listen();
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const webhooks = liveKitWebhooks && hubUrl ? await subscribeToWebhooks(hubUrl, `${baseUrl}/v1/calls/webhook`) : undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await webhooks?.unsubscribe();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { app: service.ctx, baseUrl, port: address.port, grpcPort, logs, stop, [Symbol.asyncDispose]: stop };
}
