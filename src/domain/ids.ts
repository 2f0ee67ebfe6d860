import { randomFillSync } from "node:crypto";
import { CallError, CallErrorCode } from "./errors.js";

/**
 * Ids of tenants, rooms and users end up as NATS subject tokens
 * (`swp.user.<user_id>.call`) and in LiveKit identities, so they are limited
 * to characters that are safe in both: no `.`, `*`, `>` or whitespace.
 * Requests meet the same rule at the edge, as the protos' `buf.validate`
 * options (required, `max_len: 128`, `pattern: "^[A-Za-z0-9_=@:+-]+$"`); a
 * unit test (request-validation.test.ts) pins that the two accept the same ids.
 */
const SAFE_ID = /^[A-Za-z0-9_\-=@:+]{1,128}$/;

export function assertSafeId(field: string, value: string): void {
  if (!SAFE_ID.test(value)) {
    throw new CallError(
      CallErrorCode.InvalidArgument,
      `${field} must be 1-128 characters of A-Z a-z 0-9 _ - = @ : + (got ${JSON.stringify(value.slice(0, 140))})`,
    );
  }
}

export function isSafeId(value: string): boolean {
  return SAFE_ID.test(value);
}

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * `call-` + 26 lowercase Crockford base32 characters: a 48-bit millisecond
 * time prefix (ids sort by creation) and 80 random bits.
 */
export function newCallId(nowMs: number): string {
  return `call-${timeSortableId(nowMs)}`;
}

// Random bits come from a pool refilled 4 KiB at a time: a randomBytes call
// per id (every event has one) showed in the join profile.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function copyRandom(target: Buffer, at: number, length: number): void {
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(target, at, poolOffset, poolOffset + length);
  poolOffset += length;
}

export function timeSortableId(nowMs: number): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(Math.max(0, Math.floor(nowMs)), 0, 6);
  copyRandom(bytes, 6, 10);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += CROCKFORD[(value << (5 - bits)) & 31];
  return out;
}

const ROOM_PREFIX = "scaiwave-";

/** The LiveKit room of a call: exactly `scaiwave-<call_id>`. */
export function liveKitRoomName(callId: string): string {
  return `${ROOM_PREFIX}${callId}`;
}

/** The call a LiveKit room belongs to, or undefined for a room that is not one of ours. */
export function callIdOfRoom(roomName: string): string | undefined {
  return roomName.startsWith(ROOM_PREFIX) ? roomName.slice(ROOM_PREFIX.length) : undefined;
}
