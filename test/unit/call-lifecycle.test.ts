import { describe, expect, it } from "vitest";
import {
  completeEnd,
  END_REQUEST_TTL_MS,
  endCall,
  joinCall,
  leaveCall,
  rejectCall,
  requestEnd,
  ringAgain,
  roomFinished,
  startCall,
  timeOutCall,
  withdrawEndRequest,
  type Call,
  type Invitee,
  type InviteState,
  type StartCallInput,
  type Transition,
} from "../../src/domain/call.js";
import { CallErrorCode } from "../../src/domain/errors.js";
import { deepFreeze } from "../support/freeze.js";
import { expectCallError } from "../support/call-errors.js";

const T0 = 1_700_000_000_000;
const RING_MS = 45_000;

/** A member whose phone rings since `since`, for the ring timeout. */
function rings(userId: string, since = T0): Invitee {
  return { userId, state: "ringing", changedAt: since, ringDeadline: since + RING_MS };
}

/** A member whose ring stopped at `at`, in `state`. */
function settled(userId: string, state: InviteState, at: number): Invitee {
  return { userId, state, changedAt: at, ringDeadline: null };
}

/** A deep copy to compare against after a transition. */
function snapshot<T>(value: T): T {
  return structuredClone(value);
}

function start(memberIds: readonly string[], initiatorId = "alice"): Transition {
  const input: StartCallInput = {
    id: "call-1",
    tenantId: "t1",
    roomId: "room-1",
    type: "video",
    initiatorId,
    memberIds,
    now: T0,
    ringTimeoutMs: RING_MS,
  };
  return startCall(deepFreeze(input));
}

/** A 1:1 call alice → bob, frozen. */
function oneToOne(): Call {
  return deepFreeze(start(["alice", "bob"]).call);
}

/** A group call alice → bob, carol, dave, frozen. */
function group(): Call {
  return deepFreeze(start(["alice", "bob", "carol", "dave"]).call);
}

describe("startCall", () => {
  it("creates a ringing call with the initiator as its only participant", () => {
    const { call } = start(["alice", "bob", "carol"]);
    expect(call).toEqual({
      id: "call-1",
      tenantId: "t1",
      roomId: "room-1",
      type: "video",
      status: "ringing",
      initiatorId: "alice",
      startedAt: T0,
      endedAt: null,
      endReason: null,
      endedBy: null,
      endRequest: null,
      ringDeadline: T0 + 45_000,
      participants: [{ userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null }],
      invitees: [rings("bob"), rings("carol")],
      endedSessions: [],
    });
  });

  it("rings every member but the initiator, once each, even when the member list repeats ids", () => {
    const { call, events } = start(["bob", "alice", "carol", "bob", "alice", "carol"]);
    expect(call.invitees).toEqual([rings("bob"), rings("carol")]);
    expect(events).toEqual([
      { type: "started" },
      { type: "participant_joined", userId: "alice" },
      { type: "invited", userId: "bob", busy: false },
      { type: "invited", userId: "carol", busy: false },
    ]);
  });

  it("emits started, then the initiator's join, then one invite per rung member in member order", () => {
    const { events } = start(["dave", "alice", "bob"]);
    expect(events.map((e) => e.type)).toEqual(["started", "participant_joined", "invited", "invited"]);
    expect(events).toEqual([
      { type: "started" },
      { type: "participant_joined", userId: "alice" },
      { type: "invited", userId: "dave", busy: false },
      { type: "invited", userId: "bob", busy: false },
    ]);
  });

  it("rings nobody when the initiator is alone in the room", () => {
    const { call, events } = start(["alice"]);
    expect(call.invitees).toEqual([]);
    expect(events).toEqual([{ type: "started" }, { type: "participant_joined", userId: "alice" }]);
  });
});

describe("joinCall", () => {
  it("the first other member to join makes the call active and stops their ringing as answered", () => {
    const before = oneToOne();
    const { call, events } = joinCall(before, "bob", T0 + 5_000);
    expect(call.status).toBe("active");
    expect(call.participants).toEqual([
      { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null },
      { userId: "bob", joinedAt: T0 + 5_000, audioOn: false, videoOn: false, livekitSid: null },
    ]);
    expect(call.invitees).toEqual([settled("bob", "answered", T0 + 5_000)]);
    expect(events).toEqual([
      { type: "participant_joined", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "answered" },
      { type: "active" },
    ]);
  });

  it("a second joiner of an active call is added without another active event", () => {
    const active = deepFreeze(joinCall(group(), "bob", T0 + 1_000).call);
    const { call, events } = joinCall(active, "carol", T0 + 2_000);
    expect(call.status).toBe("active");
    expect(call.participants.map((p) => p.userId)).toEqual(["alice", "bob", "carol"]);
    expect(call.invitees).toEqual([
      settled("bob", "answered", T0 + 1_000),
      settled("carol", "answered", T0 + 2_000),
      rings("dave"),
    ]);
    expect(events).toEqual([
      { type: "participant_joined", userId: "carol" },
      { type: "ring_stopped", userId: "carol", reason: "answered" },
    ]);
  });

  it("a room member who was not rung (joined the room later) can join, without a ring_stopped", () => {
    const { call, events } = joinCall(oneToOne(), "erin", T0 + 1_000);
    expect(call.status).toBe("active");
    expect(call.invitees).toEqual([rings("bob")]);
    expect(events).toEqual([{ type: "participant_joined", userId: "erin" }, { type: "active" }]);
  });

  it("joining again (another device) is a no-op: same call object, no events", () => {
    const active = deepFreeze(joinCall(oneToOne(), "bob", T0 + 1_000).call);
    const again = joinCall(active, "bob", T0 + 9_000);
    expect(again.call).toBe(active);
    expect(again.events).toEqual([]);
    expect(again.call.participants.find((p) => p.userId === "bob")?.joinedAt).toBe(T0 + 1_000);
  });

  it("the initiator rejoining a ringing call does not make it active", () => {
    const ringing = oneToOne();
    const { call, events } = joinCall(ringing, "alice", T0 + 1_000);
    expect(call).toBe(ringing);
    expect(call.status).toBe("ringing");
    expect(events).toEqual([]);
  });
});

describe("rejectCall", () => {
  it("a 1:1 reject ends the call with reason rejected", () => {
    const { call, events } = rejectCall(oneToOne(), "bob", T0 + 3_000);
    expect(call.status).toBe("ended");
    expect(call.endReason).toBe("rejected");
    expect(call.endedAt).toBe(T0 + 3_000);
    expect(call.participants).toEqual([]);
    expect(call.invitees).toEqual([settled("bob", "rejected", T0 + 3_000)]);
    expect(events).toEqual([
      { type: "rejected", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "rejected" },
      { type: "ended", reason: "rejected" },
    ]);
  });

  it("in a group, one reject only stops that member's ringing", () => {
    const { call, events } = rejectCall(group(), "carol", T0 + 1_000);
    expect(call.status).toBe("ringing");
    expect(call.endedAt).toBeNull();
    expect(call.endReason).toBeNull();
    expect(call.participants.map((p) => p.userId)).toEqual(["alice"]);
    expect(call.invitees).toEqual([rings("bob"), settled("carol", "rejected", T0 + 1_000), rings("dave")]);
    expect(events).toEqual([
      { type: "rejected", userId: "carol" },
      { type: "ring_stopped", userId: "carol", reason: "rejected" },
    ]);
  });

  it("in a group, when everyone rung has rejected the call ends with reason rejected", () => {
    let call = group();
    call = deepFreeze(rejectCall(call, "bob", T0 + 1_000).call);
    call = deepFreeze(rejectCall(call, "dave", T0 + 2_000).call);
    expect(call.status).toBe("ringing");
    const last = rejectCall(call, "carol", T0 + 3_000);
    expect(last.call.status).toBe("ended");
    expect(last.call.endReason).toBe("rejected");
    expect(last.call.endedAt).toBe(T0 + 3_000);
    expect(last.call.invitees.map((i) => i.state)).toEqual(["rejected", "rejected", "rejected"]);
    expect(last.events).toEqual([
      { type: "rejected", userId: "carol" },
      { type: "ring_stopped", userId: "carol", reason: "rejected" },
      { type: "ended", reason: "rejected" },
    ]);
  });

  it("a reject after the call became active does not end it", () => {
    let call = group();
    call = deepFreeze(joinCall(call, "bob", T0 + 1_000).call);
    call = deepFreeze(rejectCall(call, "carol", T0 + 2_000).call);
    const { call: after, events } = rejectCall(call, "dave", T0 + 3_000);
    expect(after.status).toBe("active");
    expect(after.endReason).toBeNull();
    expect(after.participants.map((p) => p.userId)).toEqual(["alice", "bob"]);
    expect(events).toEqual([
      { type: "rejected", userId: "dave" },
      { type: "ring_stopped", userId: "dave", reason: "rejected" },
    ]);
  });

  it("rejecting twice is a no-op: same call object, no events", () => {
    const once = deepFreeze(rejectCall(group(), "bob", T0 + 1_000).call);
    const twice = rejectCall(once, "bob", T0 + 2_000);
    expect(twice.call).toBe(once);
    expect(twice.events).toEqual([]);
  });

  it("a user who was never rung cannot reject: SW_CALL_NOT_RINGING", () => {
    const err = expectCallError(() => rejectCall(oneToOne(), "mallory", T0), CallErrorCode.NotRinging);
    expect(err.code).toBe("SW_CALL_NOT_RINGING");
    expect(err.message).toBe("call call-1 is not ringing for you");
  });

  it("the initiator cannot reject their own call: SW_CALL_NOT_RINGING", () => {
    expectCallError(() => rejectCall(oneToOne(), "alice", T0), CallErrorCode.NotRinging);
  });

  it("a member who already joined cannot reject: SW_CALL_NOT_RINGING", () => {
    const active = deepFreeze(joinCall(group(), "bob", T0 + 1_000).call);
    expectCallError(() => rejectCall(active, "bob", T0 + 2_000), CallErrorCode.NotRinging);
  });
});

describe("leaveCall", () => {
  it("the initiator leaving a ringing call alone cancels it: everyone's ringing stops, as a call canceled", () => {
    const { call, events } = leaveCall(group(), "alice", T0 + 4_000);
    expect(call.status).toBe("ended");
    expect(call.endReason).toBe("canceled");
    expect(call.endedAt).toBe(T0 + 4_000);
    expect(call.participants).toEqual([]);
    expect(call.invitees).toEqual([
      settled("bob", "canceled", T0 + 4_000),
      settled("carol", "canceled", T0 + 4_000),
      settled("dave", "canceled", T0 + 4_000),
    ]);
    expect(events).toEqual([
      { type: "participant_left", userId: "alice" },
      { type: "ring_stopped", userId: "bob", reason: "ended" },
      { type: "missed", userId: "bob", reason: "canceled" },
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "missed", userId: "carol", reason: "canceled" },
      { type: "ring_stopped", userId: "dave", reason: "ended" },
      { type: "missed", userId: "dave", reason: "canceled" },
      { type: "ended", reason: "canceled" },
    ]);
  });

  it("a participant leaving while others remain only removes them", () => {
    const active = deepFreeze(joinCall(group(), "bob", T0 + 1_000).call);
    const { call, events } = leaveCall(active, "alice", T0 + 2_000);
    expect(call.status).toBe("active");
    expect(call.endedAt).toBeNull();
    expect(call.participants).toEqual([{ userId: "bob", joinedAt: T0 + 1_000, audioOn: false, videoOn: false, livekitSid: null }]);
    expect(call.invitees).toEqual(active.invitees);
    expect(events).toEqual([{ type: "participant_left", userId: "alice" }]);
  });

  it("the last participant leaving an active call ends it with all_left; members still ringing missed it", () => {
    let call = group();
    call = deepFreeze(joinCall(call, "bob", T0 + 1_000).call);
    call = deepFreeze(rejectCall(call, "carol", T0 + 1_500).call);
    call = deepFreeze(leaveCall(call, "alice", T0 + 2_000).call);
    const last = leaveCall(call, "bob", T0 + 3_000);
    expect(last.call.status).toBe("ended");
    expect(last.call.endReason).toBe("all_left");
    expect(last.call.endedAt).toBe(T0 + 3_000);
    expect(last.call.participants).toEqual([]);
    expect(last.call.invitees).toEqual([
      settled("bob", "answered", T0 + 1_000),
      settled("carol", "rejected", T0 + 1_500),
      settled("dave", "missed", T0 + 3_000),
    ]);
    expect(last.events).toEqual([
      { type: "participant_left", userId: "bob" },
      { type: "ring_stopped", userId: "dave", reason: "ended" },
      { type: "missed", userId: "dave", reason: "ended" },
      { type: "ended", reason: "all_left" },
    ]);
  });

  it("leaving when not a participant is a no-op: same call object, no events", () => {
    const ringing = group();
    const { call, events } = leaveCall(ringing, "bob", T0 + 1_000);
    expect(call).toBe(ringing);
    expect(events).toEqual([]);
  });
});

describe("endCall", () => {
  it("ends a ringing call: endedAt and endReason set, participants emptied, ringing invitees missed it", () => {
    const rung = deepFreeze(rejectCall(group(), "carol", T0 + 500).call);
    const { call, events } = endCall(rung, "no_answer", T0 + 30_000);
    expect(call).toEqual({
      ...rung,
      status: "ended",
      endedAt: T0 + 30_000,
      endReason: "no_answer",
      participants: [],
      invitees: [
        settled("bob", "missed", T0 + 30_000),
        settled("carol", "rejected", T0 + 500),
        settled("dave", "missed", T0 + 30_000),
      ],
    });
    expect(events).toEqual([
      { type: "ring_stopped", userId: "bob", reason: "timeout" },
      { type: "missed", userId: "bob", reason: "timeout" },
      { type: "ring_stopped", userId: "dave", reason: "timeout" },
      { type: "missed", userId: "dave", reason: "timeout" },
      { type: "ended", reason: "no_answer" },
    ]);
  });

  it("ends an active call with everyone in it, keeping answered invitees as answered", () => {
    const active = deepFreeze(joinCall(oneToOne(), "bob", T0 + 1_000).call);
    const { call, events } = endCall(active, "ended", T0 + 60_000);
    expect(call.status).toBe("ended");
    expect(call.endReason).toBe("ended");
    expect(call.endedAt).toBe(T0 + 60_000);
    expect(call.participants).toEqual([]);
    expect(call.invitees).toEqual([settled("bob", "answered", T0 + 1_000)]);
    expect(events).toEqual([{ type: "ended", reason: "ended" }]);
  });
});

describe("an ended call", () => {
  const ended = deepFreeze(endCall(group(), "ended", T0 + 10_000).call);

  it.each([
    ["joinCall", () => joinCall(ended, "bob", T0 + 11_000)],
    ["joinCall by a former participant", () => joinCall(ended, "alice", T0 + 11_000)],
    ["leaveCall", () => leaveCall(ended, "alice", T0 + 11_000)],
    ["leaveCall by a non-participant", () => leaveCall(ended, "mallory", T0 + 11_000)],
    ["rejectCall", () => rejectCall(ended, "bob", T0 + 11_000)],
    ["endCall", () => endCall(ended, "ended", T0 + 11_000)],
  ])("%s throws SW_CALL_ENDED", (_name, action) => {
    const err = expectCallError(action, CallErrorCode.Ended);
    expect(err.code).toBe("SW_CALL_ENDED");
    expect(err.message).toBe("call call-1 has ended");
  });
});

describe("transitions never mutate their input", () => {
  it("the deep-freeze helper makes any write into a call throw", () => {
    const call = group();
    expect(() => {
      (call as { status: string }).status = "ended";
    }).toThrow(TypeError);
    expect(() => {
      (call.participants as unknown[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (call.invitees[0] as { state: string }).state = "answered";
    }).toThrow(TypeError);
  });

  it("every transition leaves a deep-frozen input identical to before", () => {
    const ringing = group();
    const active = deepFreeze(joinCall(ringing, "bob", T0 + 1_000).call);
    const copies = { ringing: snapshot(ringing), active: snapshot(active) };

    // Each of these would throw a TypeError on any write into the frozen input.
    joinCall(ringing, "carol", T0 + 2_000);
    rejectCall(ringing, "carol", T0 + 2_000);
    rejectCall(active, "carol", T0 + 2_000);
    leaveCall(ringing, "alice", T0 + 2_000);
    leaveCall(active, "alice", T0 + 2_000);
    leaveCall(deepFreeze(leaveCall(active, "alice", T0 + 2_000).call), "bob", T0 + 3_000);
    endCall(ringing, "ended", T0 + 2_000);
    endCall(active, "room_finished", T0 + 2_000);
    timeOutCall(ringing, T0 + RING_MS);
    timeOutCall(active, T0 + RING_MS);
    ringAgain(ringing, "alice", [{ userId: "carol", busy: false }], T0 + 2_000, RING_MS);
    ringAgain(active, "bob", [{ userId: "carol", busy: true }], T0 + 2_000, RING_MS);

    expect(ringing).toEqual(copies.ringing);
    expect(active).toEqual(copies.active);
    expect(ringing.status).toBe("ringing");
    expect(active.participants).toHaveLength(2);
  });

  it("startCall does not mutate a frozen member list", () => {
    const memberIds = deepFreeze(["alice", "bob", "bob"]);
    const { call } = start(memberIds);
    expect(memberIds).toEqual(["alice", "bob", "bob"]);
    expect(call.invitees).toEqual([rings("bob")]);
  });
});

describe("ring timeout", () => {
  it("ends a call nobody answered as no_answer: everyone's ringing stops with reason timeout, each missed it", () => {
    const { call } = start(["alice", "bob", "carol"]);
    expect(call.ringDeadline).toBe(T0 + 45_000);
    expect(timeOutCall(call, T0 + 44_999)).toEqual({ call, events: [] });
    const { call: ended, events } = timeOutCall(call, T0 + 45_000);
    expect(ended).toMatchObject({ status: "ended", endReason: "no_answer", endedAt: T0 + 45_000, participants: [] });
    expect(ended.invitees).toEqual([settled("bob", "missed", T0 + 45_000), settled("carol", "missed", T0 + 45_000)]);
    expect(events).toEqual([
      { type: "ring_stopped", userId: "bob", reason: "timeout" },
      { type: "missed", userId: "bob", reason: "timeout" },
      { type: "ring_stopped", userId: "carol", reason: "timeout" },
      { type: "missed", userId: "carol", reason: "timeout" },
      { type: "ended", reason: "no_answer" },
    ]);
  });

  it("leaves an answered or ended call alone", () => {
    const { call } = start(["alice", "bob"]);
    const answered = joinCall(call, "bob", T0 + 1).call;
    expect(timeOutCall(answered, T0 + 60_000)).toEqual({ call: answered, events: [] });
    const over = endCall(call, "ended", T0 + 2).call;
    expect(timeOutCall(over, T0 + 60_000)).toEqual({ call: over, events: [] });
  });
});

describe("an end asked for while LiveKit deletes the room", () => {
  /** alice's 1:1 with bob, answered, and alice asked to end it. */
  function endRequested(at = T0 + 10_000): Call {
    const answered = joinCall(oneToOne(), "bob", T0 + 5_000).call;
    return deepFreeze(requestEnd(answered, "alice", at).call);
  }

  it("records who asked, and emits nothing yet", () => {
    const { call, events } = requestEnd(deepFreeze(joinCall(oneToOne(), "bob", T0 + 5_000).call), "alice", T0 + 10_000);
    expect(call.status).toBe("active");
    expect(call.endRequest).toEqual({ by: "alice", at: T0 + 10_000 });
    expect(events).toEqual([]);
  });

  it("completes as ended by the one who asked", () => {
    const { call, events } = completeEnd(endRequested(), "alice", T0 + 11_000);
    expect(call).toMatchObject({ status: "ended", endReason: "ended", endedBy: "alice", endRequest: null });
    expect(events).toEqual([{ type: "ended", reason: "ended" }]);
  });

  it("a room_finished report of the deletion that commits first ends it as the asked-for end, and completing then changes nothing", () => {
    const reported = roomFinished(endRequested(), T0 + 10_500);
    expect(reported.call).toMatchObject({ status: "ended", endReason: "ended", endedBy: "alice" });
    expect(reported.events).toEqual([{ type: "ended", reason: "ended" }]);
    const completed = completeEnd(deepFreeze(reported.call), "alice", T0 + 11_000);
    expect(completed.call).toBe(reported.call);
    expect(completed.events).toEqual([]);
  });

  it("the last participant_left of the deletion also ends it as ended, not all_left", () => {
    const first = leaveCall(endRequested(), "bob", T0 + 10_200).call;
    const last = leaveCall(deepFreeze(first), "alice", T0 + 10_300);
    expect(last.call).toMatchObject({ endReason: "ended", endedBy: "alice" });
  });

  it("a lapsed request no longer speaks for its caller: LiveKit's report ends the call as room_finished", () => {
    const { call } = roomFinished(endRequested(T0), T0 + END_REQUEST_TTL_MS);
    expect(call).toMatchObject({ endReason: "room_finished", endedBy: null });
  });

  it("withdrawn (LiveKit unreachable), the call goes on and later reports end it for their own reason", () => {
    const withdrawn = withdrawEndRequest(endRequested(), "alice");
    expect(withdrawn.call).toMatchObject({ status: "active", endRequest: null });
    expect(withdrawn.events).toEqual([]);
    expect(roomFinished(deepFreeze(withdrawn.call), T0 + 12_000).call.endReason).toBe("room_finished");
  });

  it("only the one who asked withdraws their request", () => {
    const call = endRequested();
    expect(withdrawEndRequest(call, "bob").call).toBe(call);
  });

  it("cannot be asked of an ended call: SW_CALL_ENDED", () => {
    const ended = deepFreeze(endCall(oneToOne(), "no_answer", T0 + 45_000).call);
    expectCallError(() => requestEnd(ended, "alice", T0 + 46_000), CallErrorCode.Ended);
  });

  it("completing after the call ended for another reason is SW_CALL_ENDED", () => {
    const ended = deepFreeze(endCall(oneToOne(), "no_answer", T0 + 45_000).call);
    expectCallError(() => completeEnd(ended, "alice", T0 + 46_000), CallErrorCode.Ended);
  });
});
