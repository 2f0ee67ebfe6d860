import { CallError, CallErrorCode } from "../domain/errors.js";
import { assertSafeId } from "../domain/ids.js";
import type { RoomMember, Store, TenantPolicy } from "./ports.js";

/**
 * Writes to the local replica of ScaiWave's rooms. Requests meet the protos'
 * `buf.validate` rules at the edge (rpc/request-validation.ts); ids are checked
 * again here, for any other caller, because they later become NATS subject
 * tokens and LiveKit identities.
 */
export class DirectoryUseCases {
  constructor(private readonly store: Store) {}

  async putRoom(tenantId: string, roomId: string, members: readonly RoomMember[]): Promise<void> {
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
    await this.store.transaction((tx) => tx.directory.putRoom(tenantId, roomId, members));
  }

  async putMember(tenantId: string, roomId: string, member: RoomMember | undefined): Promise<void> {
    assertSafeId("tenant_id", tenantId);
    assertSafeId("room_id", roomId);
    if (!member) throw new CallError(CallErrorCode.InvalidArgument, "member is required");
    validateMember(member);
    await this.store.transaction((tx) => tx.directory.putMember(tenantId, roomId, member));
  }

  async removeMember(tenantId: string, roomId: string, userId: string): Promise<void> {
    assertSafeId("tenant_id", tenantId);
    assertSafeId("room_id", roomId);
    assertSafeId("user_id", userId);
    await this.store.transaction((tx) => tx.directory.removeMember(tenantId, roomId, userId));
  }

  async putTenantPolicy(tenantId: string, policy: TenantPolicy): Promise<void> {
    assertSafeId("tenant_id", tenantId);
    await this.store.transaction((tx) => tx.directory.putTenantPolicy(tenantId, policy));
  }
}

function validateMember(member: RoomMember): void {
  assertSafeId("user_id", member.userId);
  if (!Number.isInteger(member.powerLevel) || member.powerLevel < 0 || member.powerLevel > 100) {
    throw new CallError(CallErrorCode.InvalidArgument, `power_level of ${member.userId} must be an integer from 0 to 100`);
  }
}
