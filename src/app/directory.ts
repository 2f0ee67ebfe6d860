import { CallError, CallErrorCode } from "../domain/errors.js";
import { assertSafeId } from "../domain/ids.js";
import type { DirectoryRepository, RoomMember, TenantPolicy } from "./ports.js";

/**
 * Writes to the local replica of ScaiWave's rooms. Requests meet the protos'
 * `buf.validate` rules at the edge (rpc/request-validation.ts); ids are checked
 * again here, for any other caller, because they later become NATS subject
 * tokens and LiveKit identities.
 */
export class DirectoryUseCases {
  constructor(private readonly directory: DirectoryRepository) {}

  putRoom(tenantId: string, roomId: string, members: readonly RoomMember[]): void {
    assertSafeId("tenant_id", tenantId);
    assertSafeId("room_id", roomId);
    const seen = new Set<string>();
    for (const member of members) {
      validateMember(member);
      if (seen.has(member.userId)) {
        throw new CallError(CallErrorCode.InvalidArgument, `member ${member.userId} is listed twice`);
      }
      seen.add(member.userId);
    }
    this.directory.putRoom(tenantId, roomId, members);
  }

  putMember(tenantId: string, roomId: string, member: RoomMember | undefined): void {
    assertSafeId("tenant_id", tenantId);
    assertSafeId("room_id", roomId);
    if (!member) throw new CallError(CallErrorCode.InvalidArgument, "member is required");
    validateMember(member);
    this.directory.putMember(tenantId, roomId, member);
  }

  removeMember(tenantId: string, roomId: string, userId: string): void {
    assertSafeId("tenant_id", tenantId);
    assertSafeId("room_id", roomId);
    assertSafeId("user_id", userId);
    this.directory.removeMember(tenantId, roomId, userId);
  }

  putTenantPolicy(tenantId: string, policy: TenantPolicy): void {
    assertSafeId("tenant_id", tenantId);
    this.directory.putTenantPolicy(tenantId, policy);
  }
}

function validateMember(member: RoomMember): void {
  assertSafeId("user_id", member.userId);
  if (!Number.isInteger(member.powerLevel) || member.powerLevel < 0 || member.powerLevel > 100) {
    throw new CallError(CallErrorCode.InvalidArgument, `power_level of ${member.userId} must be an integer from 0 to 100`);
  }
}
