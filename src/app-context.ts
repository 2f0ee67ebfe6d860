import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger as PinoLogger } from "pino";
import { CallsService } from "../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService } from "../gen/scaiwave/calls/v1/directory_pb.js";
import { JwtAuthenticator, type Authenticator } from "./adapters/auth/jwt-authenticator.js";
import { LiveKitRoomService } from "./adapters/livekit/rooms.js";
import { LiveKitTokenMinter } from "./adapters/livekit/tokens.js";
import { SqliteCallRepository } from "./adapters/sqlite/call-repository.js";
import { openDatabase, type SqliteDatabase } from "./adapters/sqlite/database.js";
import { SqliteDirectoryRepository } from "./adapters/sqlite/directory-repository.js";
import { CallsUseCases } from "./app/calls.js";
import { DirectoryUseCases } from "./app/directory.js";
import type { Clock, LiveKitRooms, LiveKitTokens } from "./app/ports.js";
import type { Config } from "./config.js";
import { createLogger } from "./logger.js";
import { connectRoutes } from "./transport/connect-routes.js";
import { cachedProbe, Health } from "./transport/health.js";
import { createRequestHandler } from "./transport/request-handler.js";
import { RestGateway } from "./transport/rest/gateway.js";
import { RouteTable } from "./transport/rest/route-table.js";
import { requireInternal, requireUser } from "./transport/rpc/access.js";
import { callsHandlers } from "./transport/rpc/calls-handlers.js";
import { directoryHandlers } from "./transport/rpc/directory-handlers.js";
import { RpcRegistry } from "./transport/rpc/registry.js";
import { createCallsServer, type CallsServer } from "./transport/server.js";

/** Replaceable parts, for tests (a fake clock, a LiveKit that fails on purpose, a log sink). */
export interface AppOverrides {
  readonly clock?: Clock;
  readonly rooms?: LiveKitRooms & { ping?(): Promise<void> };
  readonly tokens?: LiveKitTokens;
  readonly authenticator?: Authenticator;
  readonly logger?: PinoLogger;
}

export interface AppContext extends AsyncDisposable {
  readonly config: Config;
  readonly logger: PinoLogger;
  readonly db: SqliteDatabase;
  readonly health: Health;
  /** Not listening yet: `main.ts` (or a test) decides where. */
  readonly server: CallsServer;
  close(): Promise<void>;
}

/** The one place that builds every dependency, from config plus optional overrides. */
export function createAppContext(config: Config, overrides: AppOverrides = {}): AppContext {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? { now: () => Date.now() };
  const db = openDatabase(config.databasePath);

  const calls = new SqliteCallRepository(db);
  const directory = new SqliteDirectoryRepository(db, clock.now);
  const liveKitRooms = new LiveKitRoomService({ ...config.livekit });
  const rooms = overrides.rooms ?? liveKitRooms;
  const tokens =
    overrides.tokens ??
    new LiveKitTokenMinter({
      apiKey: config.livekit.apiKey,
      apiSecret: config.livekit.apiSecret,
      ttlSeconds: config.livekit.tokenTtlSeconds,
    });
  const authenticator = overrides.authenticator ?? new JwtAuthenticator(config.auth);

  const registry = new RpcRegistry()
    .register(
      CallsService,
      callsHandlers(new CallsUseCases({ calls, directory, rooms, tokens, clock, logger, livekitUrl: config.livekit.url })),
      requireUser,
    )
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
  ]);

  const server = createCallsServer(
    createRequestHandler({
      health,
      rest: new RestGateway({
        routes: new RouteTable(registry.methods()),
        authenticator,
        logger,
        maxBodyBytes: config.maxRequestBytes,
      }),
      connect: connectNodeAdapter({
        routes: connectRoutes(registry, authenticator, logger),
        readMaxBytes: config.maxRequestBytes,
      }),
    }),
  );

  const close = async (): Promise<void> => {
    health.startDraining();
    await server.close();
    db.close();
  };
  return { config, logger, db, health, server, close, [Symbol.asyncDispose]: close };
}
