import { DirectoryService } from "../../../gen/scaiwave/calls/v1/directory_pb.js";
import type { DirectoryUseCases } from "../../app/directory.js";
import type { InternalCaller } from "../../app/ports.js";
import { internalCaller } from "./access.js";
import type { Registration, ServiceHandlers } from "./registry.js";

/**
 * DirectoryService, for internal services only (the `calls.internal` scope).
 * Not rate-limited: the rooms service syncs rooms in bulk, and its token
 * (which may carry a `tid`) is not a user's.
 */
export function directoryRegistration(directory: DirectoryUseCases): Registration<typeof DirectoryService, InternalCaller> {
  return { handlers: directoryHandlers(directory), access: internalCaller };
}

/** DirectoryService: internal writes to the room/member/policy replica. */
function directoryHandlers(directory: DirectoryUseCases): ServiceHandlers<typeof DirectoryService, InternalCaller> {
  return {
    async putRoom(req) {
      await directory.putRoom(
        req.tenantId,
        req.roomId,
        req.members.map((m) => ({ userId: m.userId, powerLevel: m.powerLevel })),
      );
      return {};
    },
    async putMember(req) {
      await directory.putMember(
        req.tenantId,
        req.roomId,
        req.member && { userId: req.member.userId, powerLevel: req.member.powerLevel },
      );
      return {};
    },
    async removeMember(req) {
      await directory.removeMember(req.tenantId, req.roomId, req.userId);
      return {};
    },
    async putTenantPolicy(req) {
      await directory.putTenantPolicy(req.tenantId, {
        recordingsEnabled: req.policy?.recordingsEnabled ?? false,
        transcriptionEnabled: req.policy?.transcriptionEnabled ?? false,
      });
      return {};
    },
  };
}
