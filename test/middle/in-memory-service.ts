import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, createRouterTransport, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { CallsService } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import type { EgressService, LiveKitParticipant, LiveKitRooms } from "../../src/app/ports.js";
import { createAppContext, type AppContext, type AppOverrides } from "../../src/composition/app-context.js";
import { loadConfig, type EnvVar } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { connectRoutes } from "../../src/transport/connect-routes.js";
import { directoryClient } from "../support/directory.js";
import { internalToken, TEST_JWT_SECRET, userToken } from "../support/tokens.js";

/**
 * The middle tier: the service's RPC registry, built by the composition root
 * on a real SQLite store in a temp dir, served in memory through Connect's
 * router transport (the real Connect protocol, error details included, without
 * a socket). LiveKit is played by the in-memory fakes below: legitimate only
 * here; the integration tier runs the real livekit-server.
 */

/** LiveKit's room service, in memory. */
export class InMemoryRooms implements LiveKitRooms {
  readonly rooms = new Set<string>();
  readonly created: string[] = [];
  readonly deleted: string[] = [];
  /** When set, every call throws it (LiveKit down, or failing in a way nobody expected). */
  failure: Error | undefined;
  /** When set, createRoom waits for it: holds concurrent initiates at the same point. */
  beforeCreate: (() => Promise<void>) | undefined;

  async createRoom(name: string): Promise<void> {
    this.check();
    await this.beforeCreate?.();
    this.rooms.add(name);
    this.created.push(name);
  }
  async deleteRoom(name: string): Promise<void> {
    this.check();
    this.rooms.delete(name);
    this.deleted.push(name);
  }
  async listRoomNames(): Promise<Set<string>> {
    this.check();
    return new Set(this.rooms);
  }
  async listParticipants(): Promise<LiveKitParticipant[]> {
    this.check();
    return [];
  }
  async muteParticipant(): Promise<void> {
    this.check();
  }
  async removeParticipant(): Promise<void> {
    this.check();
  }
  private check(): void {
    if (this.failure) throw this.failure;
  }
}

/** LiveKit's egress, in memory: every start gets a fresh egress id. */
export class InMemoryEgress implements EgressService {
  readonly started: string[] = [];
  async start(): Promise<string> {
    const id = `EG_${this.started.length + 1}`;
    this.started.push(id);
    return id;
  }
  async stop(): Promise<void> {}
  async listActive(): Promise<{ egressId: string; roomName: string }[]> {
    return [];
  }
}

export interface InMemoryService extends AsyncDisposable {
  readonly ctx: AppContext;
  readonly rooms: InMemoryRooms;
  readonly transport: Transport;
  readonly calls: Client<typeof CallsService>;
  readonly directory: ReturnType<typeof directoryClient>;
  /** Call options with `Authorization: Bearer <user's token>`, as a client sends them. */
  as(userId: string, tenantId?: string): Promise<CallOptions>;
  /** Sets a tenant's policy through the DirectoryService. */
  policy(tenantId: string, policy: { recordingsEnabled: boolean; transcriptionEnabled: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** The registry of a service configured by `env` (plus overrides), in memory. Nothing listens, nothing runs in the background. */
export async function inMemoryService(env: Partial<Record<EnvVar, string>> = {}, overrides: AppOverrides = {}): Promise<InMemoryService> {
  const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-middle-"));
  const rooms = new InMemoryRooms();
  const config = loadConfig({
    DATABASE_PATH: join(dir, "calls.db"),
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    // Never dialled: rooms (and egress, where given) are the fakes above.
    LIVEKIT_URL: "ws://livekit.invalid",
    LIVEKIT_API_KEY: "in-memory",
    LIVEKIT_API_SECRET: "in-memory-secret-in-memory-secret-0123",
    RATE_LIMIT_INITIATE_PER_MINUTE: "0",
    RATE_LIMIT_RECORDING_PER_MINUTE: "0",
    RATE_LIMIT_RING_PER_MINUTE: "0",
    RATE_LIMIT_OTHER_PER_MINUTE: "0",
    ...env,
  });
  const ctx = await createAppContext(config, { logger: createLogger("silent"), rooms, ...overrides });
  const transport = createRouterTransport(connectRoutes(ctx.registry, ctx.logger));
  const directory = directoryClient(transport);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    })());
  return {
    ctx,
    rooms,
    transport,
    calls: createClient(CallsService, transport),
    directory,
    as: async (userId, tenantId = "acme") => ({ headers: { authorization: `Bearer ${await userToken(userId, tenantId)}` } }),
    policy: async (tenantId, policy) => {
      await directory.client.putTenantPolicy({ tenantId, policy }, { headers: { authorization: `Bearer ${await internalToken()}` } });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** How an RPC failed, as a client sees it: the Connect code and the ErrorInfo reason (SW_CALL_*). */
export async function failure(call: Promise<unknown>): Promise<{ code: Code; reason: string | undefined; message: string }> {
  const err = await call.then(
    () => {
      throw new Error("expected the call to fail, it succeeded");
    },
    (e: unknown) => e,
  );
  const e = ConnectError.from(err);
  return { code: e.code, reason: e.findDetails(ErrorInfoSchema)[0]?.reason, message: e.rawMessage };
}
