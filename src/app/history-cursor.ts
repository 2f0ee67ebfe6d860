import { CallError, CallErrorCode } from "../domain/errors.js";
import type { HistoryPosition } from "../domain/history.js";

/**
 * Page cursors: opaque to clients, a position in the (started_at, call_id)
 * order underneath. A position does not move when newer calls arrive, so
 * paging on while calls are added neither repeats nor skips any.
 */
export function encodeCursor(position: HistoryPosition): string {
  return Buffer.from(JSON.stringify([position.startedAt, position.callId])).toString("base64url");
}

export function decodeCursor(cursor: string): HistoryPosition {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(decoded) && decoded.length === 2 && Number.isSafeInteger(decoded[0]) && typeof decoded[1] === "string" && decoded[1] !== "") {
      return { startedAt: decoded[0] as number, callId: decoded[1] };
    }
  } catch {
    // Not base64url JSON: refused below, as is any other shape.
  }
  throw new CallError(CallErrorCode.InvalidArgument, "cursor is not one this service gave out; start again without it");
}
