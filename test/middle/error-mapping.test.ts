import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { CallType } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { liveKitFailure } from "../../src/adapters/livekit/failures.js";
import type { CallErrorCode } from "../../src/domain/errors.js";
import { failure, InMemoryEgress, inMemoryService } from "./in-memory-service.js";

/**
 * Every SW_CALL_* error a handler can raise reaches a Connect client with the
 * right code and the reason in its ErrorInfo detail. Each case causes the error
 * for real, through the registry, and what the client gets is checked against
 * the expected code written out here (not read from the catalogue under test).
 */

const recordable = {
  S3_ENDPOINT: "http://s3.invalid",
  S3_ACCESS_KEY: "in-memory",
  S3_SECRET_KEY: "in-memory-secret",
  S3_BUCKET: "recordings",
};
const service = await inMemoryService(recordable, { egress: new InMemoryEgress() });
// One initiate per user a minute, on a clock that stands still: the second is always over the limit.
const limited = await inMemoryService(
  { RATE_LIMIT_INITIATE_PER_MINUTE: "1", RATE_LIMIT_INITIATE_BURST: "1" },
  { clock: { now: () => Date.parse("2026-01-01T12:00:00Z") } },
);
const { calls, directory, as, rooms } = service;
afterAll(async () => {
  await service.close();
  await limited.close();
});

const liveCall = async (members: Record<string, number> = { alice: 100, bob: 0, carol: 0 }) => {
  const roomId = await directory.room(members);
  const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
  return { roomId, callId };
};

/** How to make each error happen; the codes that only the HTTP surfaces (REST, body limits) raise say so. */
const cases: Record<CallErrorCode, { code: Code; cause: () => Promise<unknown> } | "not from a handler"> = {
  SW_CALL_NOT_FOUND: { code: Code.NotFound, cause: async () => calls.getCall({ callId: "call-doesnotexist" }, await as("alice")) },
  SW_CALL_ENDED: {
    code: Code.FailedPrecondition,
    cause: async () => {
      const { callId } = await liveCall();
      await calls.endCall({ callId }, await as("alice"));
      return calls.joinCall({ callId }, await as("bob"));
    },
  },
  SW_CALL_FORBIDDEN: {
    code: Code.PermissionDenied,
    cause: async () => calls.initiateCall({ roomId: (await liveCall()).roomId, type: CallType.AUDIO }, await as("mallory")),
  },
  SW_CALL_RECORDING_DISABLED: {
    code: Code.FailedPrecondition,
    cause: async () => {
      await service.policy("acme", { recordingsEnabled: false, transcriptionEnabled: false });
      return calls.startRecording({ callId: (await liveCall()).callId }, await as("alice"));
    },
  },
  SW_CALL_LIVEKIT_UNREACHABLE: {
    code: Code.Unavailable,
    cause: async () => {
      const roomId = await directory.room({ alice: 0 });
      // What the LiveKit adapter throws when the server refuses connections.
      rooms.failure = liveKitFailure(new TypeError("fetch failed"), "LiveKit is unreachable; try again");
      try {
        return await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
      } finally {
        rooms.failure = undefined;
      }
    },
  },
  SW_CALL_STORE_UNAVAILABLE: {
    code: Code.Unavailable,
    cause: async () => {
      const { callId } = await liveCall();
      // Another process holds SQLite's write lock past busy_timeout (5 s).
      const other = new Database(service.ctx.config.databasePath);
      other.exec("BEGIN EXCLUSIVE");
      try {
        return await calls.joinCall({ callId }, await as("bob"));
      } finally {
        other.exec("ROLLBACK");
        other.close();
      }
    },
  },
  SW_CALL_UNAUTHENTICATED: { code: Code.Unauthenticated, cause: () => calls.getCall({ callId: "call-x" }) },
  SW_CALL_INVALID_ARGUMENT: {
    code: Code.InvalidArgument,
    cause: async () => calls.initiateCall({ roomId: "", type: CallType.AUDIO }, await as("alice")),
  },
  SW_CALL_NOT_RINGING: {
    code: Code.FailedPrecondition,
    // The initiator is in the call: there is nothing for her to reject.
    cause: async () => calls.rejectCall({ callId: (await liveCall()).callId }, await as("alice")),
  },
  SW_CALL_PARTICIPANT_NOT_FOUND: {
    code: Code.NotFound,
    cause: async () => calls.muteParticipant({ callId: (await liveCall()).callId, participantId: "carol" }, await as("alice")),
  },
  SW_CALL_ALREADY_RECORDING: {
    code: Code.FailedPrecondition,
    cause: async () => {
      await service.policy("acme", { recordingsEnabled: true, transcriptionEnabled: false });
      const { callId } = await liveCall();
      await calls.startRecording({ callId }, await as("alice"));
      return calls.startRecording({ callId }, await as("alice"));
    },
  },
  SW_CALL_NOT_RECORDING: {
    code: Code.FailedPrecondition,
    cause: async () => calls.stopRecording({ callId: (await liveCall()).callId }, await as("alice")),
  },
  SW_CALL_RATE_LIMITED: {
    code: Code.ResourceExhausted,
    cause: async () => {
      const roomId = await limited.directory.room({ alice: 0 });
      await limited.calls.initiateCall({ roomId, type: CallType.AUDIO }, await limited.as("alice"));
      return limited.calls.initiateCall({ roomId, type: CallType.AUDIO }, await limited.as("alice"));
    },
  },
  SW_CALL_INTERNAL: {
    code: Code.Internal,
    cause: async () => {
      const roomId = await directory.room({ alice: 0 });
      rooms.failure = new Error("unexpected: connection pool exhausted at 10.0.0.7");
      try {
        return await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
      } finally {
        rooms.failure = undefined;
      }
    },
  },
  // REST and body limits: the gateway and the HTTP server answer these, before any handler runs.
  SW_CALL_PAYLOAD_TOO_LARGE: "not from a handler",
  SW_CALL_ROUTE_NOT_FOUND: "not from a handler",
  SW_CALL_METHOD_NOT_ALLOWED: "not from a handler",
};

const fromHandlers = Object.entries(cases).flatMap(([reason, c]) => (c === "not from a handler" ? [] : [{ reason, ...c }]));

describe("error mapping over Connect", () => {
  it.each(fromHandlers)("$reason arrives as Connect code $code with its ErrorInfo reason", async ({ reason, code, cause }) => {
    const seen = await failure(cause());
    expect(seen).toMatchObject({ code, reason });
    expect(seen.message).not.toBe("");
  });

  it("an unexpected failure says nothing about its cause", async () => {
    const seen = await failure((cases.SW_CALL_INTERNAL as { cause: () => Promise<unknown> }).cause());
    expect(seen).toEqual({ code: Code.Internal, reason: "SW_CALL_INTERNAL", message: "internal error" });
  });
});
