import { DirectoryService } from "../../../gen/scaiwave/calls/v1/directory_pb.js";
import type { DirectoryUseCases } from "../../app/directory.js";
import type { ServiceHandlers } from "./registry.js";

/** DirectoryService: internal writes to the room/member/policy replica. */
export function directoryHandlers(directory: DirectoryUseCases): ServiceHandlers<typeof DirectoryService> {
  return {
    putRoom(req) {
      directory.putRoom(
        req.tenantId,
        req.roomId,
        req.members.map((m) => ({ userId: m.userId, powerLevel: m.powerLevel })),
      );
      return {};
    },
    putMember(req) {
      directory.putMember(
        req.tenantId,
        req.roomId,
        req.member && { userId: req.member.userId, powerLevel: req.member.powerLevel },
      );
      return {};
    },
    removeMember(req) {
      directory.removeMember(req.tenantId, req.roomId, req.userId);
      return {};
    },
    putTenantPolicy(req) {
      directory.putTenantPolicy(req.tenantId, {
        recordingsEnabled: req.policy?.recordingsEnabled ?? false,
        transcriptionEnabled: req.policy?.transcriptionEnabled ?? false,
      });
      return {};
    },
  };
}
