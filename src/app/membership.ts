import { CallError, CallErrorCode } from "../domain/errors.js";
import type { Membership } from "../domain/permissions.js";
import type { Caller, DirectoryReads } from "./ports.js";

/** The caller's membership of the room, or SW_CALL_FORBIDDEN: every use case asks this one way. */
export async function requireMember(reads: { readonly directory: DirectoryReads }, caller: Caller, roomId: string): Promise<Membership> {
  const member = await reads.directory.findMember(caller.tenantId, roomId, caller.userId);
  if (!member) throw new CallError(CallErrorCode.Forbidden, `you are not a member of room ${roomId}`);
  return member;
}
