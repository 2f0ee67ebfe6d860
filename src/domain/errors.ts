/**
 * The `SW_CALL_*` error codes clients see on every protocol. The domain and
 * the use cases throw {@link CallError} with one of these; the transport maps
 * each to a Connect code and an HTTP status in one table
 * (`transport/error-catalogue.ts`).
 */
export const CallErrorCode = {
  NotFound: "SW_CALL_NOT_FOUND",
  Ended: "SW_CALL_ENDED",
  Forbidden: "SW_CALL_FORBIDDEN",
  RecordingDisabled: "SW_CALL_RECORDING_DISABLED",
  LiveKitUnreachable: "SW_CALL_LIVEKIT_UNREACHABLE",
  StoreUnavailable: "SW_CALL_STORE_UNAVAILABLE",
  Unauthenticated: "SW_CALL_UNAUTHENTICATED",
  InvalidArgument: "SW_CALL_INVALID_ARGUMENT",
  NotRinging: "SW_CALL_NOT_RINGING",
  ParticipantNotFound: "SW_CALL_PARTICIPANT_NOT_FOUND",
  AlreadyRecording: "SW_CALL_ALREADY_RECORDING",
  NotRecording: "SW_CALL_NOT_RECORDING",
  RateLimited: "SW_CALL_RATE_LIMITED",
  PayloadTooLarge: "SW_CALL_PAYLOAD_TOO_LARGE",
  RouteNotFound: "SW_CALL_ROUTE_NOT_FOUND",
  MethodNotAllowed: "SW_CALL_METHOD_NOT_ALLOWED",
  Internal: "SW_CALL_INTERNAL",
} as const;

export type CallErrorCode = (typeof CallErrorCode)[keyof typeof CallErrorCode];

/** A failure the client can act on; `message` is safe to show to the client. */
export class CallError extends Error {
  override readonly name = "CallError";

  constructor(
    readonly code: CallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isCallError(value: unknown): value is CallError {
  return value instanceof CallError;
}
