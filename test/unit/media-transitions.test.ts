import { describe, expect, it } from "vitest";
import {
  endCall,
  joinCall,
  leaveCall,
  mediaChanged,
  mediaJoined,
  mediaLeft,
  rejectCall,
  roomFinished,
  startCall,
  type Call,
  type Invitee,
  type InviteState,
  type Participant,
  type Transition,
} from "../../src/domain/call.js";
import { deepFreeze } from "../support/freeze.js";

/**
 * The transitions driven by what LiveKit reports (webhooks, reconciliation):
 * they apply at least once and in any order, so stale, repeated or late
 * reports must change nothing, and none of them may throw on an ended call.
 */

const T0 = 1_700_000_000_000;
const RING_MS = 45_000;

/** A member whose phone rings since the call started. */
function rings(userId: string): Invitee {
  return { userId, state: "ringing", changedAt: T0, ringDeadline: T0 + RING_MS };
}

/** A member whose ring stopped at `at`, in `state`. */
function settled(userId: string, state: InviteState, at: number): Invitee {
  return { userId, state, changedAt: at, ringDeadline: null };
}

/** A group call alice → bob, carol, dave (all rung), still ringing, frozen. */
function ringing(): Call {
  return deepFreeze(
    startCall({
      id: "call-1",
      tenantId: "t1",
      roomId: "room-1",
      type: "video",
      initiatorId: "alice",
      memberIds: ["alice", "bob", "carol", "dave"],
      now: T0,
      ringTimeoutMs: RING_MS,
    }).call,
  );
}

/** Applies a transition and freezes the result, so the next step also runs on a frozen input. */
function then(call: Call, step: (c: Call) => Transition): Call {
  return deepFreeze(step(call).call);
}

/** alice (sid PA_a1) and bob (API join at T0+1s, sid PA_b1) in an active call; carol and dave still rung. */
function activeWithSids(): Call {
  let call = ringing();
  call = then(call, (c) => mediaJoined(c, "alice", "PA_a1", T0 + 500));
  call = then(call, (c) => joinCall(c, "bob", T0 + 1_000));
  call = then(call, (c) => mediaJoined(c, "bob", "PA_b1", T0 + 1_500));
  return call;
}

function participant(call: Call, userId: string): Participant | undefined {
  return call.participants.find((p) => p.userId === userId);
}

/** Runs a transition on a frozen input and checks the input is unchanged afterwards. */
function applyFrozen(input: Call, step: (c: Call) => Transition): Transition {
  const before = structuredClone(input);
  const result = step(deepFreeze(input));
  expect(input).toEqual(before);
  return result;
}

describe("mediaJoined", () => {
  it("a rung member LiveKit saw connect, whom we had not seen join, joins: answered, and the call becomes active", () => {
    const before = ringing();
    const { call, events } = applyFrozen(before, (c) => mediaJoined(c, "bob", "PA_b1", T0 + 2_000));
    expect(events).toEqual([
      { type: "participant_joined", userId: "bob" },
      { type: "ring_stopped", userId: "bob", reason: "answered" },
      { type: "active" },
    ]);
    expect(call.status).toBe("active");
    expect(call.participants).toEqual([
      { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null },
      { userId: "bob", joinedAt: T0 + 2_000, audioOn: false, videoOn: false, livekitSid: "PA_b1" },
    ]);
    expect(call.invitees).toEqual([settled("bob", "answered", T0 + 2_000), rings("carol"), rings("dave")]);
  });

  it("a second joiner of an active call joins without another active event", () => {
    const active = then(ringing(), (c) => mediaJoined(c, "bob", "PA_b1", T0 + 2_000));
    const { call, events } = applyFrozen(active, (c) => mediaJoined(c, "carol", "PA_c1", T0 + 3_000));
    expect(events).toEqual([
      { type: "participant_joined", userId: "carol" },
      { type: "ring_stopped", userId: "carol", reason: "answered" },
    ]);
    expect(call.status).toBe("active");
    expect(participant(call, "carol")).toEqual({
      userId: "carol",
      joinedAt: T0 + 3_000,
      audioOn: false,
      videoOn: false,
      livekitSid: "PA_c1",
    });
  });

  it("a member who was never rung joins without a ring_stopped, and still makes a ringing call active", () => {
    const { call, events } = applyFrozen(ringing(), (c) => mediaJoined(c, "erin", "PA_e1", T0 + 2_000));
    expect(events).toEqual([{ type: "participant_joined", userId: "erin" }, { type: "active" }]);
    expect(call.status).toBe("active");
    expect(call.invitees).toEqual(ringing().invitees);
    expect(participant(call, "erin")?.livekitSid).toBe("PA_e1");
  });

  it("the initiator's own media connecting only records the sid: no events, still ringing", () => {
    const before = ringing();
    const { call, events } = applyFrozen(before, (c) => mediaJoined(c, "alice", "PA_a1", T0 + 500));
    expect(events).toEqual([]);
    expect(call).not.toBe(before);
    expect(call).toEqual({
      ...before,
      participants: [{ userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: "PA_a1" }],
    });
  });

  it("a participant joined through the API gets LiveKit's sid recorded, with no events and joinedAt kept", () => {
    const joined = then(ringing(), (c) => joinCall(c, "bob", T0 + 1_000));
    const { call, events } = applyFrozen(joined, (c) => mediaJoined(c, "bob", "PA_b1", T0 + 1_500));
    expect(events).toEqual([]);
    expect(call).toEqual({
      ...joined,
      participants: [
        { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: null },
        { userId: "bob", joinedAt: T0 + 1_000, audioOn: false, videoOn: false, livekitSid: "PA_b1" },
      ],
    });
  });

  it("the same sid again (a retried webhook) is a no-op: the very same call, no events", () => {
    const call = activeWithSids();
    const result = applyFrozen(call, (c) => mediaJoined(c, "bob", "PA_b1", T0 + 9_000));
    expect(result.call).toBe(call);
    expect(result.events).toEqual([]);
  });

  it("a new sid (a reconnect) only replaces the sid: no events, everything else kept", () => {
    let call = activeWithSids();
    call = then(call, (c) => mediaChanged(c, "bob", { audioOn: true }));
    const { call: next, events } = applyFrozen(call, (c) => mediaJoined(c, "bob", "PA_b2", T0 + 9_000));
    expect(events).toEqual([]);
    expect(next).toEqual({
      ...call,
      participants: [
        { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: "PA_a1" },
        { userId: "bob", joinedAt: T0 + 1_000, audioOn: true, videoOn: false, livekitSid: "PA_b2" },
      ],
    });
  });
});

describe("mediaLeft", () => {
  it("the current session leaving removes the participant; others stay and the call goes on", () => {
    const call = activeWithSids();
    const { call: next, events } = applyFrozen(call, (c) => mediaLeft(c, "bob", "PA_b1", T0 + 5_000, T0 + 5_100));
    expect(events).toEqual([{ type: "participant_left", userId: "bob" }]);
    expect(next.status).toBe("active");
    expect(next.participants.map((p) => p.userId)).toEqual(["alice"]);
  });

  it("the last one out of an active call ends it as all_left; members still ringing missed it", () => {
    let call = activeWithSids();
    call = then(call, (c) => mediaLeft(c, "bob", "PA_b1", T0 + 5_000, T0 + 5_100));
    const { call: next, events } = applyFrozen(call, (c) => mediaLeft(c, "alice", "PA_a1", T0 + 6_000, T0 + 6_100));
    expect(events).toEqual([
      { type: "participant_left", userId: "alice" },
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "missed", userId: "carol", reason: "ended" },
      { type: "ring_stopped", userId: "dave", reason: "ended" },
      { type: "missed", userId: "dave", reason: "ended" },
      { type: "ended", reason: "all_left" },
    ]);
    expect(next).toMatchObject({ status: "ended", endReason: "all_left", endedAt: T0 + 6_100, participants: [] });
  });

  it("the initiator's media leaving a call nobody answered cancels it, for every member still ringing", () => {
    const call = then(ringing(), (c) => mediaJoined(c, "alice", "PA_a1", T0 + 500));
    const { call: next, events } = applyFrozen(call, (c) => mediaLeft(c, "alice", "PA_a1", T0 + 3_000, T0 + 3_100));
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
    expect(next).toMatchObject({ status: "ended", endReason: "canceled", endedAt: T0 + 3_100, participants: [] });
    expect(next.invitees).toEqual([
      settled("bob", "canceled", T0 + 3_100),
      settled("carol", "canceled", T0 + 3_100),
      settled("dave", "canceled", T0 + 3_100),
    ]);
  });

  it("an older session's left (after a reconnect) is ignored, only remembered as ended", () => {
    const call = then(activeWithSids(), (c) => mediaJoined(c, "bob", "PA_b2", T0 + 8_000));
    const result = applyFrozen(call, (c) => mediaLeft(c, "bob", "PA_b1", T0 + 9_000, T0 + 9_100));
    expect(result.call).toEqual({ ...call, endedSessions: ["PA_b1"] });
    expect(result.events).toEqual([]);
  });

  it("a join of a session that already left, arriving late, does not bring the participant back", () => {
    const call = activeWithSids();
    const gone = applyFrozen(call, (c) => mediaLeft(c, "bob", "PA_b1", T0 + 9_000, T0 + 9_100)).call;
    expect(participant(gone, "bob")).toBeUndefined();
    const late = applyFrozen(gone, (c) => mediaJoined(c, "bob", "PA_b1", T0 + 9_200));
    expect(late.call).toBe(gone);
    expect(late.events).toEqual([]);
    // A new session of the same user is a real rejoin.
    expect(applyFrozen(gone, (c) => mediaJoined(c, "bob", "PA_b2", T0 + 9_300)).events[0]).toEqual({
      type: "participant_joined",
      userId: "bob",
    });
  });

  it("with no sid known, a left created before the API join is ignored (it is about an earlier session)", () => {
    const call = then(activeWithSids(), (c) => joinCall(c, "carol", T0 + 10_000));
    expect(participant(call, "carol")?.livekitSid).toBeNull();
    const result = applyFrozen(call, (c) => mediaLeft(c, "carol", "PA_c0", T0 + 9_999, T0 + 10_500));
    expect(result.call).toEqual({ ...call, endedSessions: ["PA_c0"] });
    expect(result.events).toEqual([]);
  });

  it("with no sid known, a left created at or after the API join removes them", () => {
    const call = then(activeWithSids(), (c) => joinCall(c, "carol", T0 + 10_000));
    for (const at of [T0 + 10_000, T0 + 12_000]) {
      const { call: next, events } = applyFrozen(call, (c) => mediaLeft(c, "carol", "PA_c1", at, T0 + 12_500));
      expect(events).toEqual([{ type: "participant_left", userId: "carol" }]);
      expect(participant(next, "carol")).toBeUndefined();
    }
  });

  it("a known sid is not second-guessed by time: the current session's left applies even if created before joinedAt", () => {
    const call = activeWithSids();
    const { events } = applyFrozen(call, (c) => mediaLeft(c, "bob", "PA_b1", T0, T0 + 5_000));
    expect(events).toEqual([{ type: "participant_left", userId: "bob" }]);
  });

  it("sid null (reconciliation found them gone) always removes, whatever sid we know and however old `at` is", () => {
    const withSid = activeWithSids();
    const bySid = applyFrozen(withSid, (c) => mediaLeft(c, "bob", null, 0, T0 + 20_000));
    expect(bySid.events).toEqual([{ type: "participant_left", userId: "bob" }]);
    expect(participant(bySid.call, "bob")).toBeUndefined();

    const withoutSid = then(withSid, (c) => joinCall(c, "carol", T0 + 10_000));
    const noSid = applyFrozen(withoutSid, (c) => mediaLeft(c, "carol", null, T0, T0 + 40_000));
    expect(noSid.events).toEqual([{ type: "participant_left", userId: "carol" }]);
    expect(participant(noSid.call, "carol")).toBeUndefined();
  });

  it("someone who is not a participant leaving is a no-op", () => {
    const call = activeWithSids();
    for (const sid of ["PA_c1", null]) {
      const result = applyFrozen(call, (c) => mediaLeft(c, "carol", sid, T0 + 9_000, T0 + 9_100));
      expect(result.call).toEqual(sid === null ? call : { ...call, endedSessions: [sid] });
      expect(result.events).toEqual([]);
    }
  });
});

describe("mediaChanged", () => {
  it("turning the microphone on emits participant_updated and changes only audioOn", () => {
    const call = activeWithSids();
    const { call: next, events } = applyFrozen(call, (c) => mediaChanged(c, "bob", { audioOn: true }));
    expect(events).toEqual([{ type: "participant_updated", userId: "bob" }]);
    expect(next).toEqual({
      ...call,
      participants: [
        { userId: "alice", joinedAt: T0, audioOn: false, videoOn: false, livekitSid: "PA_a1" },
        { userId: "bob", joinedAt: T0 + 1_000, audioOn: true, videoOn: false, livekitSid: "PA_b1" },
      ],
    });
  });

  it("a partial report keeps the other medium as it was", () => {
    let call = activeWithSids();
    call = then(call, (c) => mediaChanged(c, "bob", { audioOn: true }));
    const { call: next, events } = applyFrozen(call, (c) => mediaChanged(c, "bob", { videoOn: true }));
    expect(events).toEqual([{ type: "participant_updated", userId: "bob" }]);
    expect(participant(next, "bob")).toMatchObject({ audioOn: true, videoOn: true });
    const off = applyFrozen(next, (c) => mediaChanged(c, "bob", { audioOn: false, videoOn: false }));
    expect(off.events).toEqual([{ type: "participant_updated", userId: "bob" }]);
    expect(participant(off.call, "bob")).toMatchObject({ audioOn: false, videoOn: false });
  });

  it("a report that changes nothing is a no-op: the very same call, no events", () => {
    const call = then(activeWithSids(), (c) => mediaChanged(c, "bob", { audioOn: true }));
    for (const media of [{ audioOn: true }, { videoOn: false }, { audioOn: true, videoOn: false }, {}]) {
      const result = applyFrozen(call, (c) => mediaChanged(c, "bob", media));
      expect(result.call).toBe(call);
      expect(result.events).toEqual([]);
    }
  });

  it("a report about someone who is not a participant is ignored", () => {
    const call = activeWithSids();
    const result = applyFrozen(call, (c) => mediaChanged(c, "carol", { audioOn: true, videoOn: true }));
    expect(result.call).toBe(call);
    expect(result.events).toEqual([]);
  });
});

describe("roomFinished", () => {
  it("ends a ringing call as room_finished: every member still ringing missed it", () => {
    const { call, events } = applyFrozen(ringing(), (c) => roomFinished(c, T0 + 30_000));
    expect(events).toEqual([
      { type: "ring_stopped", userId: "bob", reason: "ended" },
      { type: "missed", userId: "bob", reason: "ended" },
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "missed", userId: "carol", reason: "ended" },
      { type: "ring_stopped", userId: "dave", reason: "ended" },
      { type: "missed", userId: "dave", reason: "ended" },
      { type: "ended", reason: "room_finished" },
    ]);
    expect(call).toMatchObject({ status: "ended", endReason: "room_finished", endedAt: T0 + 30_000, participants: [] });
  });

  it("ends an active call as room_finished", () => {
    const { call, events } = applyFrozen(activeWithSids(), (c) => roomFinished(c, T0 + 30_000));
    expect(events).toEqual([
      { type: "ring_stopped", userId: "carol", reason: "ended" },
      { type: "missed", userId: "carol", reason: "ended" },
      { type: "ring_stopped", userId: "dave", reason: "ended" },
      { type: "missed", userId: "dave", reason: "ended" },
      { type: "ended", reason: "room_finished" },
    ]);
    expect(call).toMatchObject({ status: "ended", endReason: "room_finished", endedAt: T0 + 30_000, participants: [] });
    expect(call.invitees).toEqual([
      settled("bob", "answered", T0 + 1_000),
      settled("carol", "missed", T0 + 30_000),
      settled("dave", "missed", T0 + 30_000),
    ]);
  });
});

describe("media transitions on an ended call are no-ops (LiveKit reports arrive late), never errors", () => {
  const endings: [string, () => Call][] = [
    ["ended by a user", () => then(activeWithSids(), (c) => endCall(c, "ended", T0 + 20_000))],
    ["ended as all_left", () => then(then(activeWithSids(), (c) => leaveCall(c, "bob", T0 + 20_000)), (c) => leaveCall(c, "alice", T0 + 21_000))],
    ["rejected by everyone", () => {
      let call = ringing();
      for (const user of ["bob", "carol", "dave"]) call = then(call, (c) => rejectCall(c, user, T0 + 5_000));
      return call;
    }],
    ["room_finished", () => then(activeWithSids(), (c) => roomFinished(c, T0 + 20_000))],
  ];

  it.each(endings)("a call %s", (_name, make) => {
    const ended = make();
    expect(ended.status).toBe("ended");
    const steps: [string, (c: Call) => Transition][] = [
      ["mediaJoined of a former participant", (c) => mediaJoined(c, "alice", "PA_a1", T0 + 30_000)],
      ["mediaJoined of a new session", (c) => mediaJoined(c, "bob", "PA_b9", T0 + 30_000)],
      ["mediaJoined of someone rung", (c) => mediaJoined(c, "carol", "PA_c1", T0 + 30_000)],
      ["mediaLeft by sid", (c) => mediaLeft(c, "alice", "PA_a1", T0 + 30_000, T0 + 30_000)],
      ["mediaLeft by reconciliation", (c) => mediaLeft(c, "bob", null, T0 + 30_000, T0 + 30_000)],
      ["mediaChanged", (c) => mediaChanged(c, "alice", { audioOn: true, videoOn: true })],
      ["roomFinished", (c) => roomFinished(c, T0 + 30_000)],
    ];
    for (const [name, step] of steps) {
      const result = applyFrozen(ended, step);
      expect(result.call, name).toBe(ended);
      expect(result.events, name).toEqual([]);
    }
  });
});
