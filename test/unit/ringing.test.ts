import { describe, expect, it } from "vitest";
import {
  completeEnd,
  endCall,
  joinCall,
  leaveCall,
  nextRingAt,
  rejectCall,
  requestEnd,
  ringAgain,
  roomFinished,
  startCall,
  timeOutCall,
  type Call,
  type CallEvent,
  type Invitee,
  type InviteState,
  type Transition,
} from "../../src/domain/call.js";
import { CallErrorCode } from "../../src/domain/errors.js";
import { deepFreeze } from "../support/freeze.js";
import { expectCallError } from "../support/call-errors.js";

/**
 * Ringing: who is rung, until when, and how each ring ends (answered,
 * declined, missed, canceled), with busy members rung as call waiting.
 */

const T0 = 1_700_000_000_000;
const RING_MS = 45_000;

/** alice calls `memberIds`; the members in `busy` are in another live call. Frozen. */
function start(memberIds: readonly string[], busy: readonly string[] = []): Call {
  return deepFreeze(
    startCall({
      id: "call-1",
      tenantId: "t1",
      roomId: "room-1",
      type: "audio",
      initiatorId: "alice",
      memberIds,
      now: T0,
      ringTimeoutMs: RING_MS,
      busyIds: new Set(busy),
    }).call,
  );
}

/** Applies a transition and freezes the result, so the next step also runs on a frozen input. */
function then(call: Call, step: (c: Call) => Transition): Call {
  return deepFreeze(step(call).call);
}

/** Runs the steps in order and returns the last call with every event of the way. */
function run(call: Call, steps: readonly ((c: Call) => Transition)[]): Transition {
  const events: CallEvent[] = [];
  for (const step of steps) {
    const next = step(call);
    call = deepFreeze(next.call);
    events.push(...next.events);
  }
  return { call, events };
}

function invitee(call: Call, userId: string): Invitee | undefined {
  return call.invitees.find((i) => i.userId === userId);
}

/** A member whose phone rings (or rings as call waiting, `busy`) since `since`. */
function rings(userId: string, since = T0, state: "ringing" | "busy" = "ringing"): Invitee {
  return { userId, state, changedAt: since, ringDeadline: since + RING_MS };
}

/** A member whose ring stopped at `at`, in `state`. */
function settled(userId: string, state: InviteState, at: number): Invitee {
  return { userId, state, changedAt: at, ringDeadline: null };
}

function missedOf(events: readonly CallEvent[], userId: string): CallEvent[] {
  return events.filter((e) => e.type === "missed" && e.userId === userId);
}

describe("members busy in another call when it starts", () => {
  it("are rung as call waiting: state busy, with a ring deadline, and their invite says busy", () => {
    const { call, events } = startCall({
      id: "call-1",
      tenantId: "t1",
      roomId: "room-1",
      type: "audio",
      initiatorId: "alice",
      memberIds: ["alice", "bob", "carol"],
      now: T0,
      ringTimeoutMs: RING_MS,
      busyIds: new Set(["carol", "zoe"]),
    });
    expect(call.invitees).toEqual([rings("bob"), rings("carol", T0, "busy")]);
    expect(events).toEqual([
      { type: "started" },
      { type: "participant_joined", userId: "alice" },
      { type: "invited", userId: "bob", busy: false },
      { type: "invited", userId: "carol", busy: true },
    ]);
  });

  it("a busy member's ring timing out stays busy and gives no missed event; the call goes on", () => {
    const active = then(start(["alice", "bob", "carol"], ["carol"]), (c) => joinCall(c, "bob", T0 + 1_000));
    const { call, events } = timeOutCall(active, T0 + RING_MS);
    expect(call.status).toBe("active");
    expect(invitee(call, "carol")).toEqual(settled("carol", "busy", T0 + RING_MS));
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "timeout" },
      { type: "invitee_updated", userId: "carol" },
    ]);
  });

  it("a 1:1 call to a busy member nobody answered ends no_answer, without a missed event", () => {
    const { call, events } = timeOutCall(start(["alice", "bob"], ["bob"]), T0 + RING_MS);
    expect(call).toMatchObject({ status: "ended", endReason: "no_answer" });
    expect(call.invitees).toEqual([settled("bob", "busy", T0 + RING_MS)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "bob", reason: "timeout" },
      { type: "ended", reason: "no_answer" },
    ]);
  });

  it("a busy member's ring ended by the caller canceling stays busy, without a missed event", () => {
    const { call, events } = leaveCall(start(["alice", "bob", "carol"], ["carol"]), "alice", T0 + 2_000);
    expect(call.invitees).toEqual([settled("bob", "canceled", T0 + 2_000), settled("carol", "busy", T0 + 2_000)]);
    expect(events).toEqual([
      { type: "participant_left", userId: "alice" },
      { type: "ring_stopped", userId: "bob", reason: "ended" },
      { type: "missed", userId: "bob", reason: "canceled" },
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "ended", reason: "canceled" },
    ]);
  });

  it("a busy member can still answer: the call becomes active and their ring stops as answered", () => {
    const { call, events } = joinCall(start(["alice", "bob"], ["bob"]), "bob", T0 + 3_000);
    expect(call.status).toBe("active");
    expect(call.invitees).toEqual([settled("bob", "answered", T0 + 3_000)]);
    expect(events).toEqual([
      { type: "participant_joined", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "answered" },
      { type: "active" },
    ]);
  });

  it("a busy member can still decline: a 1:1 call ends rejected", () => {
    const { call, events } = rejectCall(start(["alice", "bob"], ["bob"]), "bob", T0 + 3_000);
    expect(call).toMatchObject({ status: "ended", endReason: "rejected" });
    expect(call.invitees).toEqual([settled("bob", "rejected", T0 + 3_000)]);
    expect(events).toEqual([
      { type: "rejected", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "rejected" },
      { type: "ended", reason: "rejected" },
    ]);
  });

  it("once a busy member's call waiting stopped, they can no longer decline: SW_CALL_NOT_RINGING", () => {
    let call = then(start(["alice", "bob", "carol"], ["carol"]), (c) => joinCall(c, "bob", T0 + 1_000));
    call = then(call, (c) => timeOutCall(c, T0 + RING_MS));
    expectCallError(() => rejectCall(call, "carol", T0 + RING_MS + 1), CallErrorCode.NotRinging);
  });
});

describe("each member's ring has a deadline of its own", () => {
  it("in a group call bob answered, carol's ring still times out later: missed, and the call stays active", () => {
    const active = then(start(["alice", "bob", "carol"]), (c) => joinCall(c, "bob", T0 + 5_000));
    expect(invitee(active, "carol")).toEqual(rings("carol"));
    expect(timeOutCall(active, T0 + RING_MS - 1)).toEqual({ call: active, events: [] });

    const { call, events } = timeOutCall(active, T0 + RING_MS);
    expect(call.status).toBe("active");
    expect(call.participants.map((p) => p.userId)).toEqual(["alice", "bob"]);
    expect(call.invitees).toEqual([settled("bob", "answered", T0 + 5_000), settled("carol", "missed", T0 + RING_MS)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "timeout" },
      { type: "missed", userId: "carol", reason: "timeout" },
      { type: "invitee_updated", userId: "carol" },
    ]);
  });

  it("a timer that runs late times out every ring due by then, and only those", () => {
    let call = then(start(["alice", "bob", "carol"]), (c) => joinCall(c, "bob", T0 + 1_000));
    call = then(call, (c) => ringAgain(c, "bob", [{ userId: "dave", busy: false }], T0 + 30_000, RING_MS));
    const { call: next, events } = timeOutCall(call, T0 + 60_000);
    expect(next.invitees).toEqual([
      settled("bob", "answered", T0 + 1_000),
      settled("carol", "missed", T0 + 60_000),
      rings("dave", T0 + 30_000),
    ]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "timeout" },
      { type: "missed", userId: "carol", reason: "timeout" },
      { type: "invitee_updated", userId: "carol" },
    ]);
  });

  it("a ringing group call where one declines and the other times out ends no_answer", () => {
    let call = then(start(["alice", "bob", "carol"]), (c) => rejectCall(c, "bob", T0 + 1_000));
    expect(call.status).toBe("ringing");
    const { call: ended, events } = timeOutCall(call, T0 + RING_MS);
    expect(ended).toMatchObject({ status: "ended", endReason: "no_answer", endedAt: T0 + RING_MS });
    expect(ended.invitees).toEqual([settled("bob", "rejected", T0 + 1_000), settled("carol", "missed", T0 + RING_MS)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "timeout" },
      { type: "missed", userId: "carol", reason: "timeout" },
      { type: "ended", reason: "no_answer" },
    ]);

    // The other order: carol's ring times out first (bob was rung again), then bob declines.
    call = then(start(["alice", "bob", "carol"]), (c) => ringAgain(c, "alice", [{ userId: "bob", busy: false }], T0 + 10_000, RING_MS));
    call = then(call, (c) => timeOutCall(c, T0 + RING_MS));
    expect(call.status).toBe("ringing");
    const declined = rejectCall(call, "bob", T0 + 50_000);
    expect(declined.call).toMatchObject({ status: "ended", endReason: "no_answer", endedAt: T0 + 50_000 });
    expect(declined.events).toEqual([
      { type: "rejected", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "rejected" },
      { type: "ended", reason: "no_answer" },
    ]);
  });

  it("a ringing group call everyone declines (a busy member too) ends rejected", () => {
    const { call, events } = run(start(["alice", "bob", "carol"], ["carol"]), [
      (c) => rejectCall(c, "carol", T0 + 1_000),
      (c) => rejectCall(c, "bob", T0 + 2_000),
    ]);
    expect(call).toMatchObject({ status: "ended", endReason: "rejected", endedAt: T0 + 2_000 });
    expect(call.invitees).toEqual([settled("bob", "rejected", T0 + 2_000), settled("carol", "rejected", T0 + 1_000)]);
    expect(events.filter((e) => e.type === "missed")).toEqual([]);
    expect(events.at(-1)).toEqual({ type: "ended", reason: "rejected" });
  });

  it("answering stops the ring without a missed event, and its deadline passing later changes nothing", () => {
    const { call, events } = run(start(["alice", "bob"]), [(c) => joinCall(c, "bob", T0 + 2_000)]);
    expect(events).toEqual([
      { type: "participant_joined", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "answered" },
      { type: "active" },
    ]);
    expect(invitee(call, "bob")).toEqual(settled("bob", "answered", T0 + 2_000));
    expect(timeOutCall(call, T0 + RING_MS)).toEqual({ call, events: [] });
    expect(endCall(call, "ended", T0 + 60_000, "alice").events).toEqual([{ type: "ended", reason: "ended" }]);
  });
});

describe("a ring ending because the call ended", () => {
  it("the initiator ending a ringing call cancels it: members still ringing become canceled, missed reason canceled", () => {
    const ringingCall = then(start(["alice", "bob", "carol"]), (c) => rejectCall(c, "carol", T0 + 1_000));
    const { call, events } = endCall(ringingCall, "ended", T0 + 5_000, "alice");
    expect(call).toMatchObject({ status: "ended", endReason: "ended", endedBy: "alice" });
    expect(call.invitees).toEqual([settled("bob", "canceled", T0 + 5_000), settled("carol", "rejected", T0 + 1_000)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "bob", reason: "ended" },
      { type: "missed", userId: "bob", reason: "canceled" },
      { type: "ended", reason: "ended" },
    ]);
  });

  it("the initiator's end asked for through LiveKit cancels it too, whichever report ends it first", () => {
    const asked = then(start(["alice", "bob"]), (c) => requestEnd(c, "alice", T0 + 5_000));
    for (const end of [(c: Call) => completeEnd(c, "alice", T0 + 6_000), (c: Call) => roomFinished(c, T0 + 5_500)]) {
      const { call, events } = end(asked);
      expect(call).toMatchObject({ endReason: "ended", endedBy: "alice" });
      expect(invitee(call, "bob")?.state).toBe("canceled");
      expect(missedOf(events, "bob")).toEqual([{ type: "missed", userId: "bob", reason: "canceled" }]);
    }
  });

  it("a moderator (not the initiator) ending a ringing call: members still ringing missed it, reason ended", () => {
    const { call, events } = endCall(start(["alice", "bob", "carol"]), "ended", T0 + 5_000, "mod");
    expect(call).toMatchObject({ status: "ended", endReason: "ended", endedBy: "mod" });
    expect(call.invitees).toEqual([settled("bob", "missed", T0 + 5_000), settled("carol", "missed", T0 + 5_000)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "bob", reason: "ended" },
      { type: "missed", userId: "bob", reason: "ended" },
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "missed", userId: "carol", reason: "ended" },
      { type: "ended", reason: "ended" },
    ]);
  });

  it("an active call ending (even by its initiator) while someone still rings: they missed it, reason ended", () => {
    const active = then(start(["alice", "bob", "carol"]), (c) => joinCall(c, "bob", T0 + 1_000));
    const { call, events } = endCall(active, "ended", T0 + 20_000, "alice");
    expect(call.invitees).toEqual([settled("bob", "answered", T0 + 1_000), settled("carol", "missed", T0 + 20_000)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "missed", userId: "carol", reason: "ended" },
      { type: "ended", reason: "ended" },
    ]);
  });
});

describe("ringAgain", () => {
  /** alice and bob in the call since T0+1s; carol declined at T0+2s; dave's ring timed out at T0+45s. */
  function settledGroup(): Call {
    let call = start(["alice", "bob", "carol", "dave"]);
    call = then(call, (c) => joinCall(c, "bob", T0 + 1_000));
    call = then(call, (c) => rejectCall(c, "carol", T0 + 2_000));
    return then(call, (c) => timeOutCall(c, T0 + RING_MS));
  }

  it("only a participant may ring members: SW_CALL_FORBIDDEN", () => {
    const call = settledGroup();
    for (const by of ["carol", "dave", "mallory"]) {
      const err = expectCallError(() => ringAgain(call, by, [{ userId: "carol", busy: false }], T0 + 50_000, RING_MS), CallErrorCode.Forbidden);
      expect(err.message).toBe("only a participant of call call-1 may ring members");
    }
  });

  it("re-ringing a member who declined or missed it makes them ringing again, each with a fresh deadline", () => {
    const first = ringAgain(settledGroup(), "bob", [{ userId: "carol", busy: false }], T0 + 50_000, RING_MS);
    expect(first.call.invitees).toEqual([
      settled("bob", "answered", T0 + 1_000),
      rings("carol", T0 + 50_000),
      settled("dave", "missed", T0 + RING_MS),
    ]);
    expect(first.events).toEqual([
      { type: "invited", userId: "carol", busy: false },
      { type: "invitee_updated", userId: "carol" },
    ]);

    const second = ringAgain(deepFreeze(first.call), "alice", [{ userId: "dave", busy: false }], T0 + 60_000, RING_MS);
    expect(invitee(second.call, "carol")).toEqual(rings("carol", T0 + 50_000));
    expect(invitee(second.call, "dave")).toEqual(rings("dave", T0 + 60_000));
    expect(second.events).toEqual([
      { type: "invited", userId: "dave", busy: false },
      { type: "invitee_updated", userId: "dave" },
    ]);
    expect(nextRingAt(second.call)).toBe(T0 + 50_000 + RING_MS);
  });

  it("a member busy in another call is rung again as call waiting", () => {
    const { call, events } = ringAgain(settledGroup(), "bob", [{ userId: "dave", busy: true }], T0 + 50_000, RING_MS);
    expect(invitee(call, "dave")).toEqual(rings("dave", T0 + 50_000, "busy"));
    expect(events).toEqual([
      { type: "invited", userId: "dave", busy: true },
      { type: "invitee_updated", userId: "dave" },
    ]);
  });

  it("a member never rung before is added to the invitees, ringing", () => {
    const { call, events } = ringAgain(settledGroup(), "alice", [{ userId: "erin", busy: false }], T0 + 50_000, RING_MS);
    expect(call.invitees.map((i) => i.userId)).toEqual(["bob", "carol", "dave", "erin"]);
    expect(invitee(call, "erin")).toEqual(rings("erin", T0 + 50_000));
    expect(events).toEqual([
      { type: "invited", userId: "erin", busy: false },
      { type: "invitee_updated", userId: "erin" },
    ]);
  });

  it("participants are skipped; when only participants were named nothing changes", () => {
    const call = settledGroup();
    const targets = [
      { userId: "alice", busy: false },
      { userId: "bob", busy: false },
      { userId: "carol", busy: false },
    ];
    const { call: next, events } = ringAgain(call, "bob", targets, T0 + 50_000, RING_MS);
    expect(next.invitees.map((i) => i.state)).toEqual(["answered", "ringing", "missed"]);
    expect(events).toEqual([
      { type: "invited", userId: "carol", busy: false },
      { type: "invitee_updated", userId: "carol" },
    ]);

    const none = ringAgain(call, "bob", targets.slice(0, 2), T0 + 50_000, RING_MS);
    expect(none.call).toBe(call);
    expect(none.events).toEqual([]);
  });

  it("extends the call's own deadline while it rings, never shortens it, and leaves it alone once answered", () => {
    const ringingCall = start(["alice", "bob", "carol"]);
    const later = ringAgain(ringingCall, "alice", [{ userId: "bob", busy: false }], T0 + 30_000, RING_MS).call;
    expect(later.ringDeadline).toBe(T0 + 30_000 + RING_MS);
    const shorter = ringAgain(ringingCall, "alice", [{ userId: "bob", busy: false }], T0 + 1_000, 10_000).call;
    expect(shorter.ringDeadline).toBe(T0 + RING_MS);
    expect(invitee(shorter, "bob")).toMatchObject({ ringDeadline: T0 + 11_000 });

    const active = settledGroup();
    const rung = ringAgain(active, "bob", [{ userId: "dave", busy: false }], T0 + 50_000, RING_MS).call;
    expect(rung.ringDeadline).toBe(active.ringDeadline);
  });

  it("a ringing call keeps ringing until its last ring times out, then ends no_answer", () => {
    let call = then(start(["alice", "bob", "carol"]), (c) => ringAgain(c, "alice", [{ userId: "carol", busy: false }], T0 + 20_000, RING_MS));
    call = then(call, (c) => timeOutCall(c, T0 + RING_MS));
    expect(call.status).toBe("ringing");
    expect(call.invitees).toEqual([settled("bob", "missed", T0 + RING_MS), rings("carol", T0 + 20_000)]);
    const { call: ended, events } = timeOutCall(call, T0 + 20_000 + RING_MS);
    expect(ended).toMatchObject({ status: "ended", endReason: "no_answer", endedAt: T0 + 20_000 + RING_MS });
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "timeout" },
      { type: "missed", userId: "carol", reason: "timeout" },
      { type: "ended", reason: "no_answer" },
    ]);
  });

  it("an ended call cannot be rung again: SW_CALL_ENDED", () => {
    const ended = then(settledGroup(), (c) => endCall(c, "ended", T0 + 50_000, "alice"));
    const err = expectCallError(() => ringAgain(ended, "alice", [{ userId: "dave", busy: false }], T0 + 51_000, RING_MS), CallErrorCode.Ended);
    expect(err.message).toBe("call call-1 has ended");
  });
});

describe("nextRingAt", () => {
  it("a ringing call rings out at the earliest ring deadline, or its own if that comes first", () => {
    let call = start(["alice", "bob", "carol"]);
    expect(nextRingAt(call)).toBe(T0 + RING_MS);
    call = then(call, (c) => ringAgain(c, "alice", [{ userId: "carol", busy: false }], T0 + 10_000, RING_MS));
    expect(nextRingAt(call)).toBe(T0 + RING_MS);
    call = then(call, (c) => rejectCall(c, "bob", T0 + 20_000));
    expect(nextRingAt(call)).toBe(T0 + 10_000 + RING_MS);
    // The call's own deadline counts while it rings, even ahead of every member's.
    expect(nextRingAt({ ...call, ringDeadline: T0 + 30_000 })).toBe(T0 + 30_000);
  });

  it("a busy member's call waiting counts as ringing", () => {
    const call = then(start(["alice", "bob", "carol"], ["carol"]), (c) => joinCall(c, "bob", T0 + 1_000));
    expect(nextRingAt(call)).toBe(T0 + RING_MS);
  });

  it("an answered call rings out at the earliest member still ringing, its own deadline no longer counts", () => {
    let call = then(start(["alice", "bob", "carol"]), (c) => joinCall(c, "bob", T0 + 1_000));
    expect(nextRingAt({ ...call, ringDeadline: T0 + 5_000 })).toBe(T0 + RING_MS);
    call = then(call, (c) => timeOutCall(c, T0 + RING_MS));
    expect(nextRingAt(call)).toBeNull();
    call = then(call, (c) => ringAgain(c, "bob", [{ userId: "carol", busy: false }], T0 + 50_000, RING_MS));
    expect(nextRingAt(call)).toBe(T0 + 50_000 + RING_MS);
  });

  it("is null once the call ended", () => {
    expect(nextRingAt(then(start(["alice", "bob"]), (c) => endCall(c, "ended", T0 + 1_000, "mod")))).toBeNull();
    expect(nextRingAt(then(start(["alice"]), (c) => timeOutCall(c, T0 + RING_MS)))).toBeNull();
  });
});

describe("a call with nobody to ring", () => {
  it("still rings until its own deadline, then ends no_answer", () => {
    const call = start(["alice"]);
    expect(call.invitees).toEqual([]);
    expect(nextRingAt(call)).toBe(T0 + RING_MS);
    expect(timeOutCall(call, T0 + RING_MS - 1)).toEqual({ call, events: [] });
    const { call: ended, events } = timeOutCall(call, T0 + RING_MS);
    expect(ended).toMatchObject({ status: "ended", endReason: "no_answer", endedAt: T0 + RING_MS, participants: [] });
    expect(events).toEqual([{ type: "ended", reason: "no_answer" }]);
  });
});

describe("exactly one missed event per ring", () => {
  it("a member rung twice who misses both gets two, one per ring, however often the timer fires", () => {
    const { call, events } = run(start(["alice", "bob", "carol"]), [
      (c) => joinCall(c, "bob", T0 + 1_000),
      (c) => timeOutCall(c, T0 + RING_MS),
      (c) => timeOutCall(c, T0 + RING_MS),
      (c) => timeOutCall(c, T0 + RING_MS + 1_000),
      (c) => ringAgain(c, "bob", [{ userId: "carol", busy: false }], T0 + 50_000, RING_MS),
      (c) => timeOutCall(c, T0 + 50_000 + RING_MS),
      (c) => timeOutCall(c, T0 + 50_000 + RING_MS + 1),
      (c) => endCall(c, "ended", T0 + 120_000, "alice"),
    ]);
    expect(call.status).toBe("ended");
    expect(missedOf(events, "carol")).toEqual([
      { type: "missed", userId: "carol", reason: "timeout" },
      { type: "missed", userId: "carol", reason: "timeout" },
    ]);
    expect(missedOf(events, "bob")).toEqual([]);
  });

  it("a ring the call's end cuts short is missed once, and its deadline passing afterwards adds none", () => {
    const { events } = run(start(["alice", "bob", "carol"]), [
      (c) => joinCall(c, "bob", T0 + 1_000),
      (c) => leaveCall(c, "bob", T0 + 10_000),
      (c) => leaveCall(c, "alice", T0 + 11_000),
      (c) => timeOutCall(c, T0 + RING_MS),
    ]);
    expect(missedOf(events, "carol")).toEqual([{ type: "missed", userId: "carol", reason: "ended" }]);
  });

  it("re-ringing a member whose phone still rings restarts that ring: one missed when it runs out", () => {
    const { call, events } = run(start(["alice", "bob", "carol"]), [
      (c) => joinCall(c, "bob", T0 + 1_000),
      (c) => ringAgain(c, "bob", [{ userId: "carol", busy: false }], T0 + 20_000, RING_MS),
      (c) => timeOutCall(c, T0 + RING_MS),
      (c) => timeOutCall(c, T0 + 20_000 + RING_MS),
    ]);
    expect(invitee(call, "carol")).toEqual(settled("carol", "missed", T0 + 20_000 + RING_MS));
    expect(missedOf(events, "carol")).toEqual([{ type: "missed", userId: "carol", reason: "timeout" }]);
  });

  it("declining or answering is never a missed call", () => {
    const { events } = run(start(["alice", "bob", "carol", "dave"]), [
      (c) => rejectCall(c, "carol", T0 + 1_000),
      (c) => joinCall(c, "bob", T0 + 2_000),
      (c) => rejectCall(c, "dave", T0 + 3_000),
      (c) => timeOutCall(c, T0 + RING_MS),
      (c) => endCall(c, "ended", T0 + 60_000, "bob"),
    ]);
    expect(events.filter((e) => e.type === "missed")).toEqual([]);
  });
});
