import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryService, PutRoomRequestSchema } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { ApiError, grpcJsClient, restApi } from "../support/clients.js";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ConnectError, createClient, Code } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { internalToken, userToken } from "../support/tokens.js";

/** The internal DirectoryService: scope-protected, validating, and what the public API's permissions rest on. */

let service: RunningService;
let grpc: ReturnType<typeof grpcJsClient>;
let connect: ReturnType<typeof createClient<typeof DirectoryService>>;

beforeAll(async () => {
  service = await startService(sharedLiveKit());
  grpc = grpcJsClient(DirectoryService, `127.0.0.1:${service.port}`);
  connect = createClient(DirectoryService, createConnectTransport({ baseUrl: service.baseUrl, httpVersion: "2" }));
});

afterAll(async () => {
  grpc?.client.close();
  await service?.stop();
});

async function connectError(promise: Promise<unknown>): Promise<{ code: Code; reason: string | undefined; message: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  const e = ConnectError.from(err);
  return { code: e.code, reason: e.findDetails(ErrorInfoSchema)[0]?.reason, message: e.rawMessage };
}

const auth = async (token?: string) => ({ headers: { authorization: `Bearer ${token ?? (await internalToken())}` } });

describe("DirectoryService", () => {
  it("needs a token with the calls.internal scope", async () => {
    const err = await connectError(connect.putRoom({ tenantId: "acme", roomId: "r1", members: [] }, await auth(await userToken("alice"))));
    expect(err).toEqual({
      code: Code.PermissionDenied,
      reason: "SW_CALL_FORBIDDEN",
      message: "this API needs a token with the calls.internal scope",
    });
    const anonymous = await connectError(connect.putRoom({ tenantId: "acme", roomId: "r1", members: [] }));
    expect(anonymous.reason).toBe("SW_CALL_UNAUTHENTICATED");
  });

  it("rejects ids that cannot be NATS subject tokens, bad power levels and duplicates, storing nothing", async () => {
    const cases: [Parameters<typeof connect.putRoom>[0], string][] = [
      [{ tenantId: "acme", roomId: "room.with.dots", members: [] }, "room_id: does not match regex pattern"],
      [{ tenantId: "ac me", roomId: "r", members: [] }, "tenant_id: does not match regex pattern"],
      [{ tenantId: "acme", roomId: "r-bad", members: [{ userId: "a>b", powerLevel: 0 }] }, "members[0].user_id: does not match regex pattern"],
      [
        { tenantId: "acme", roomId: "r-bad", members: [{ userId: "bob", powerLevel: 0 }, { userId: "alice", powerLevel: 150 }] },
        "members[1].power_level: must be greater than or equal to 0 and less than or equal to 100",
      ],
      [
        {
          tenantId: "acme",
          roomId: "r-bad",
          members: [
            { userId: "alice", powerLevel: 0 },
            { userId: "alice", powerLevel: 50 },
          ],
        },
        "member alice is listed twice",
      ],
    ];
    for (const [req, message] of cases) {
      const err = await connectError(connect.putRoom(req, await auth()));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.reason).toBe("SW_CALL_INVALID_ARGUMENT");
      expect(err.message).toContain(message);
    }
    expect(service.app.db!.prepare("SELECT count(*) AS n FROM rooms WHERE room_id = 'r-bad'").get()).toEqual({ n: 0 });
  });

  it("works over gRPC (grpc-js) and drives the public API's permissions", async () => {
    const token = await internalToken();
    await grpc.call(
      "putRoom",
      create(PutRoomRequestSchema, { tenantId: "acme", roomId: "team", members: [{ userId: "alice", powerLevel: 0 }] }),
      token,
    );
    const api = restApi(service.baseUrl);
    const { call_id } = await api.initiate(await userToken("alice"), "team", "audio");

    // Bob is not a member yet; PutMember adds him, with moderator power.
    await expect(api.join(await userToken("bob"), call_id)).rejects.toMatchObject({ code: "SW_CALL_FORBIDDEN" });
    await connect.putMember({ tenantId: "acme", roomId: "team", member: { userId: "bob", powerLevel: 50 } }, await auth());
    await api.join(await userToken("bob"), call_id);
    expect((await api.end(await userToken("bob"), call_id)).end_reason).toBe("ended");

    // PutRoom replaces the member list: bob is gone afterwards.
    await connect.putRoom({ tenantId: "acme", roomId: "team", members: [{ userId: "alice", powerLevel: 0 }] }, await auth());
    await expect(api.initiate(await userToken("bob"), "team", "audio")).rejects.toBeInstanceOf(ApiError);
  });

  it("stores tenant policies", async () => {
    await connect.putTenantPolicy({ tenantId: "acme", policy: { recordingsEnabled: true, transcriptionEnabled: false } }, await auth());
    expect(service.app.db!.prepare("SELECT recordings_enabled, transcription_enabled FROM tenant_policies WHERE tenant_id = 'acme'").get()).toEqual({
      recordings_enabled: 1,
      transcription_enabled: 0,
    });
  });
});
