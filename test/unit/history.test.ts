import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../src/app/history-cursor.js";
import { CallError, CallErrorCode } from "../../src/domain/errors.js";
import { directionOf, outcomeOf, type CallHistoryRecord } from "../../src/domain/history.js";

const T0 = 1_700_000_000_000;

/** alice's call, as the store keeps it for one user; ended no_answer unless overridden. */
function record(overrides: Partial<CallHistoryRecord> = {}): CallHistoryRecord {
  return {
    callId: "call-1",
    roomId: "room-1",
    type: "video",
    status: "ended",
    initiatorId: "alice",
    startedAt: T0,
    endedAt: T0 + 45_000,
    endReason: "no_answer",
    participantCount: 1,
    inviteState: null,
    joined: false,
    missedUnseen: false,
    ...overrides,
  };
}

const live = { status: "ringing", endedAt: null, endReason: null } as const;

describe("directionOf", () => {
  it("is outgoing for the initiator and incoming for everyone else", () => {
    expect(directionOf(record(), "alice")).toBe("outgoing");
    expect(directionOf(record({ inviteState: "missed" }), "bob")).toBe("incoming");
    expect(directionOf(record({ joined: true }), "erin")).toBe("incoming");
  });
});

describe("outcomeOf a call the user made (outgoing)", () => {
  it.each<[string, Partial<CallHistoryRecord>, ReturnType<typeof outcomeOf>]>([
    ["still ringing", { ...live }, null],
    ["active, someone answered", { status: "active", endedAt: null, endReason: null, participantCount: 2 }, "answered"],
    ["ended for everyone after someone answered", { endReason: "ended", participantCount: 3 }, "answered"],
    ["everyone left after someone answered", { endReason: "all_left", participantCount: 2 }, "answered"],
    ["room finished after someone answered", { endReason: "room_finished", participantCount: 2 }, "answered"],
    ["everyone declined", { endReason: "rejected" }, "declined"],
    ["nobody answered in time", { endReason: "no_answer" }, "missed"],
    ["the caller left before anyone answered", { endReason: "canceled" }, "canceled"],
    ["the caller ended it before anyone answered", { endReason: "ended" }, "canceled"],
    ["the room finished before anyone answered", { endReason: "room_finished" }, "canceled"],
  ])("%s", (_name, overrides, outcome) => {
    expect(outcomeOf(record(overrides), "alice")).toBe(outcome);
  });
});

describe("outcomeOf a call the user was rung for (incoming)", () => {
  it.each<[string, Partial<CallHistoryRecord>, ReturnType<typeof outcomeOf>]>([
    ["still ringing for them", { ...live, inviteState: "ringing" }, null],
    ["they answered, the call goes on", { status: "active", endedAt: null, endReason: null, inviteState: "answered", joined: true }, "answered"],
    ["they answered", { endReason: "ended", inviteState: "answered", joined: true, participantCount: 2 }, "answered"],
    ["they joined without being rung", { endReason: "all_left", inviteState: null, joined: true, participantCount: 2 }, "answered"],
    ["they joined, then missed a later ring", { endReason: "ended", inviteState: "missed", joined: true, participantCount: 2 }, "answered"],
    ["they declined", { endReason: "rejected", inviteState: "rejected" }, "declined"],
    ["they declined while the call went on", { status: "active", endedAt: null, endReason: null, inviteState: "rejected", participantCount: 2 }, "declined"],
    ["they were busy and did not answer", { endReason: "no_answer", inviteState: "busy" }, "busy"],
    ["the caller canceled", { endReason: "canceled", inviteState: "canceled" }, "canceled"],
    ["they missed it", { endReason: "no_answer", inviteState: "missed", missedUnseen: true }, "missed"],
    ["they missed it while the call went on", { status: "active", endedAt: null, endReason: null, inviteState: "missed", participantCount: 2 }, "missed"],
  ])("%s", (_name, overrides, outcome) => {
    expect(outcomeOf(record(overrides), "bob")).toBe(outcome);
  });
});

describe("history cursors", () => {
  it.each([
    { startedAt: T0, callId: "call-1" },
    { startedAt: 0, callId: "c" },
    { startedAt: Number.MAX_SAFE_INTEGER, callId: "01J9Z-ünïcødé/+=\"[]" },
  ])("round-trip $startedAt / $callId, as URL-safe text", (position) => {
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  const asCursor = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

  it.each([
    ["empty", ""],
    ["not base64", "%%%not a cursor%%%"],
    ["base64 of something that is not JSON", Buffer.from("hello").toString("base64url")],
    ["an object instead of the pair", asCursor({ startedAt: T0, callId: "call-1" })],
    ["a pair in the wrong order", asCursor(["call-1", T0])],
    ["too short", asCursor([T0])],
    ["too long", asCursor([T0, "call-1", "x"])],
    ["null", asCursor(null)],
    ["an empty call id", asCursor([T0, ""])],
    ["a call id that is not a string", asCursor([T0, 42])],
    ["a time that is not an integer", asCursor([T0 + 0.5, "call-1"])],
    ["a time given as text", asCursor([String(T0), "call-1"])],
    ["a time beyond the safe integers", asCursor([2 ** 53, "call-1"])],
  ])("refuses a cursor that is %s: SW_CALL_INVALID_ARGUMENT", (_name, cursor) => {
    let caught: unknown;
    try {
      decodeCursor(cursor);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CallError);
    expect((caught as CallError).code).toBe(CallErrorCode.InvalidArgument);
    expect((caught as CallError).message).toBe("cursor is not one this service gave out; start again without it");
  });
});
