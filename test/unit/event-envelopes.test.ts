import { describe, expect, it } from "vitest";
import { CallEventFactory } from "../../src/app/events.js";
import {
  endCall,
  joinCall,
  leaveCall,
  mediaChanged,
  rejectCall,
  startCall,
  timeOutCall,
  type Transition,
} from "../../src/domain/call.js";
import { renderCallJson } from "../../src/transport/rest/call-json.js";

/**
 * Event payloads are written as strings around the call state rendered once
 * per transition. They must be exactly what JSON.stringify of the documented
 * envelope object gives: same keys, same order, `call` last in `data`, and
 * the same call JSON as GET /v1/calls/{id}.
 */

const T0 = Date.UTC(2026, 11, 5, 1, 2, 3, 450);

function scenario(): Transition[] {
  const started = startCall({
    id: "call-1",
    tenantId: "tenant \"quoted\"",
    roomId: "room-1",
    type: "video",
    initiatorId: "alice",
    memberIds: ["alice", "bob", "carol", "dave", "erin"],
    now: T0,
    ringTimeoutMs: 30_000,
    busyIds: new Set(["dave"]),
  });
  const joined = joinCall(started.call, "bob", T0 + 1_000);
  const rejected = rejectCall(joined.call, "carol", T0 + 2_000);
  const muted = mediaChanged(rejected.call, "bob", { audioOn: true, videoOn: false });
  const timedOut = timeOutCall(muted.call, T0 + 31_000);
  const left = leaveCall(timedOut.call, "bob", T0 + 40_000);
  const ended = endCall(left.call, "ended", T0 + 41_000, "alice");
  const lone = startCall({ ...{ id: "call-2", tenantId: "t", roomId: "r", type: "audio" }, initiatorId: "a", memberIds: ["a", "b"], now: T0, ringTimeoutMs: 1 });
  return [started, joined, rejected, muted, timedOut, left, ended, lone, timeOutCall(lone.call, T0 + 5)];
}

describe("call event envelopes", () => {
  const factory = new CallEventFactory(renderCallJson, () => T0 + 99);
  const transitions = scenario();

  it("covers every kind of call event the domain emits", () => {
    const types = new Set(transitions.flatMap((t) => factory.fromTransition(t, "req-1")).map((e) => JSON.parse(e.payload).type as string));
    expect([...types].sort()).toEqual([
        "swp.call.active",
        "swp.call.ended",
        "swp.call.invite",
        "swp.call.invitee_updated",
        "swp.call.missed",
        "swp.call.participant_joined",
        "swp.call.participant_left",
        "swp.call.participant_updated",
        "swp.call.rejected",
        "swp.call.ring_stopped",
        "swp.call.started",
      ]);
  });

  it("writes each payload exactly as JSON.stringify of the envelope object, with the call state as GetCall shows it", () => {
    for (const transition of transitions) {
      for (const requestId of ["req-\"1\"", undefined]) {
        for (const event of factory.fromTransition(transition, requestId)) {
          const parsed = JSON.parse(event.payload) as { data: Record<string, unknown> } & Record<string, unknown>;
          // Canonical: re-serialising the parsed object gives the same bytes (key order, no spacing, escapes).
          expect(event.payload).toBe(JSON.stringify(parsed));
          expect(Object.keys(parsed)).toEqual(["id", "type", "ts", "tenant_id", "room_id", "call_id", "data", "request_id"]);
          expect(parsed).toMatchObject({
            id: event.id,
            ts: new Date(T0 + 99).toISOString(),
            tenant_id: transition.call.tenantId,
            room_id: transition.call.roomId,
            call_id: transition.call.id,
            request_id: requestId ?? null,
          });
          if (parsed.type === "swp.call.ring_stopped") {
            expect(parsed.data).not.toHaveProperty("call");
          } else {
            expect(Object.keys(parsed.data).at(-1)).toBe("call");
            expect(JSON.stringify(parsed.data.call)).toBe(renderCallJson(transition.call));
          }
        }
      }
    }
  });

  it("renders the call state once per transition, however many events carry it", () => {
    let renders = 0;
    const counting = new CallEventFactory((call) => {
      renders++;
      return renderCallJson(call);
    }, () => T0);
    const [started] = transitions;
    const events = counting.fromTransition(started!, undefined);
    expect(events.length).toBeGreaterThan(4);
    expect(renders).toBe(1);
  });
});
