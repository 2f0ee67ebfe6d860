import { ServerError } from "livekit-server-sdk";
import { CallError, CallErrorCode } from "../../domain/errors.js";

/** What the operator reads when LiveKit refuses the configured credentials. */
export const CREDENTIALS_REFUSED =
  "LiveKit refused our API key/secret (LIVEKIT_API_KEY/LIVEKIT_API_SECRET): check configuration";

/**
 * LiveKit answered 401 or 403 (Twirp's `unauthenticated`, `permission_denied`;
 * also what it answers for an unknown key or a bad signature): the configured
 * key or secret is wrong. That is the operator's to fix, not an outage to wait
 * out. It keeps LiveKit's status and message, minus the token LiveKit quotes
 * back: a token signed with our secret does not belong in the logs.
 */
export class LiveKitCredentialsRefused extends Error {
  override readonly name = "LiveKitCredentialsRefused";

  constructor(
    readonly status: number,
    liveKitMessage: string,
  ) {
    super(`${CREDENTIALS_REFUSED} (LiveKit answered ${status}: ${liveKitMessage.replace(JWT, "[token]")})`);
  }
}

const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;

/**
 * A failed LiveKit API request as a CallError: a refused key or secret is an
 * internal error (the client can do nothing about it; the cause says what is
 * wrong), anything else (refused connection, timeout, 5xx) is
 * SW_CALL_LIVEKIT_UNREACHABLE with `unreachableMessage`.
 */
export function liveKitFailure(err: unknown, unreachableMessage: string): CallError {
  if (err instanceof ServerError && (err.status === 401 || err.status === 403)) {
    return new CallError(CallErrorCode.Internal, "internal error", { cause: new LiveKitCredentialsRefused(err.status, err.message) });
  }
  return new CallError(CallErrorCode.LiveKitUnreachable, unreachableMessage, { cause: err });
}

/** The refusal behind `err` (from a LiveKit adapter), if LiveKit refused our credentials. */
export function credentialsRefusal(err: unknown): LiveKitCredentialsRefused | undefined {
  return err instanceof CallError && err.cause instanceof LiveKitCredentialsRefused ? err.cause : undefined;
}
