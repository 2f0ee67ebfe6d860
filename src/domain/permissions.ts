/**
 * Power levels follow ScaiWave's rooms: 0 member, 50 moderator, 100 admin.
 */
const PowerLevel = {
  Moderator: 50,
  Admin: 100,
} as const;

export interface Membership {
  readonly userId: string;
  readonly powerLevel: number;
}

/** The initiator may always end their call; otherwise a moderator or above. */
export function mayEndCall(initiatorId: string, member: Membership): boolean {
  return member.userId === initiatorId || mayModerate(member);
}

/** Host controls (mute, remove) are for moderators and above. */
export function mayModerate(member: Membership): boolean {
  return member.powerLevel >= PowerLevel.Moderator;
}

export function mayManageRecording(member: Membership): boolean {
  return member.powerLevel >= PowerLevel.Admin;
}
