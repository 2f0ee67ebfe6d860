import { Code } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import { CallStatus, CallType, InviteeState, type Call } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { internalToken } from "../support/tokens.js";
import { failure, inMemoryService } from "./in-memory-service.js";

/** RingCall and the history RPCs through the registry: who may ring whom, and every way a request is refused. */

const service = await inMemoryService();
// One ring per user a minute, on a clock that stands still: the second ring is always over the limit.
const limited = await inMemoryService(
  { RATE_LIMIT_RING_PER_MINUTE: "1", RATE_LIMIT_RING_BURST: "1" },
  { clock: { now: () => Date.parse("2026-01-01T12:00:00Z") } },
);
const { calls, directory, as } = service;
afterAll(async () => {
  await service.close();
  await limited.close();
});

/** Where each invitee stands, by user id. */
const states = (call: Call | undefined) => Object.fromEntries((call?.invitees ?? []).map((i) => [i.userId, InviteeState[i.state]]));

async function groupCall(members: Record<string, number> = { alice: 0, bob: 0, carol: 0 }) {
  const roomId = await directory.room(members);
  const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
  return { roomId, callId };
}

describe("RingCall", () => {
  it("a participant rings a member who declined again: a fresh ring with a deadline of its own", async () => {
    const { callId } = await groupCall();
    const declined = (await calls.rejectCall({ callId }, await as("bob"))).call;
    expect(states(declined)).toEqual({ bob: "REJECTED", carol: "RINGING" });
    expect(declined?.invitees.find((i) => i.userId === "bob")?.ringDeadline).toBeUndefined();

    const rung = (await calls.ringCall({ callId, userIds: ["bob"] }, await as("alice"))).call;
    expect(states(rung)).toEqual({ bob: "RINGING", carol: "RINGING" });
    const bob = rung?.invitees.find((i) => i.userId === "bob");
    const carol = rung?.invitees.find((i) => i.userId === "carol");
    expect(bob?.ringDeadline).toBeDefined();
    // Bob's ring started now, after carol's: its deadline is no earlier than hers.
    expect(timestampMs(bob!.ringDeadline!)).toBeGreaterThanOrEqual(timestampMs(carol!.ringDeadline!));
    expect(timestampMs(bob!.changedAt!)).toBeGreaterThanOrEqual(timestampMs(declined!.invitees.find((i) => i.userId === "bob")!.changedAt!));
    // GetCall shows the same invitees.
    expect(states((await calls.getCall({ callId }, await as("carol"))).call)).toEqual({ bob: "RINGING", carol: "RINGING" });
  });

  it("without user_ids: every member neither in the call nor ringing is rung", async () => {
    const { roomId, callId } = await groupCall({ alice: 0, bob: 0, carol: 0, dave: 0 });
    await calls.rejectCall({ callId }, await as("bob"));
    await calls.joinCall({ callId }, await as("carol"));
    // Erin joins the room after the call started: she was never rung. Dave still rings: he is left as he is.
    const internal = { headers: { authorization: `Bearer ${await internalToken()}` } };
    await directory.client.putMember({ tenantId: "acme", roomId, member: { userId: "erin", powerLevel: 0 } }, internal);
    const rung = (await calls.ringCall({ callId }, await as("carol"))).call;
    expect(states(rung)).toEqual({ bob: "RINGING", carol: "ANSWERED", dave: "RINGING", erin: "RINGING" });
    // Carol would be busy for the calls of the tests below.
    await calls.endCall({ callId }, await as("alice"));
  });

  it("only a participant of the call may ring: a member being rung, or a stranger, is refused", async () => {
    const { callId } = await groupCall();
    expect(await failure(calls.ringCall({ callId, userIds: ["bob"] }, await as("carol")))).toEqual({
      code: Code.PermissionDenied,
      reason: "SW_CALL_FORBIDDEN",
      message: `only a participant of call ${callId} may ring members`,
    });
    expect(await failure(calls.ringCall({ callId, userIds: ["bob"] }, await as("mallory")))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "SW_CALL_FORBIDDEN",
    });
    // Another tenant cannot tell the call exists.
    expect(await failure(calls.ringCall({ callId, userIds: ["bob"] }, await as("alice", "globex")))).toMatchObject({
      code: Code.NotFound,
      reason: "SW_CALL_NOT_FOUND",
    });
  });

  it("a target who is not a member of the room: INVALID_ARGUMENT naming them, and nobody is rung", async () => {
    const { roomId, callId } = await groupCall();
    await calls.rejectCall({ callId }, await as("bob"));
    expect(await failure(calls.ringCall({ callId, userIds: ["bob", "mallory"] }, await as("alice")))).toEqual({
      code: Code.InvalidArgument,
      reason: "SW_CALL_INVALID_ARGUMENT",
      message: `not members of room ${roomId}: mallory`,
    });
    expect(states((await calls.getCall({ callId }, await as("alice"))).call)).toEqual({ bob: "REJECTED", carol: "RINGING" });
  });

  it("an ended call cannot ring: FAILED_PRECONDITION / SW_CALL_ENDED", async () => {
    const { callId } = await groupCall();
    await calls.endCall({ callId }, await as("alice"));
    expect(await failure(calls.ringCall({ callId, userIds: ["bob"] }, await as("alice")))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "SW_CALL_ENDED",
    });
  });

  it("breaking the request's rules: INVALID_ARGUMENT naming the field, before anything is read", async () => {
    const { callId } = await groupCall();
    const alice = await as("alice");
    const refused = await Promise.all(
      [
        calls.ringCall({ callId, userIds: ["bob", "bob"] }, alice),
        calls.ringCall({ callId, userIds: Array.from({ length: 101 }, (_, i) => `user-${i}`) }, alice),
        calls.ringCall({ callId, userIds: ["bob.smith"] }, alice),
        calls.ringCall({ callId, userIds: [""] }, alice),
        calls.ringCall({ callId: "", userIds: ["bob"] }, alice),
      ].map(failure),
    );
    for (const seen of refused) expect(seen).toMatchObject({ code: Code.InvalidArgument, reason: "SW_CALL_INVALID_ARGUMENT" });
    expect(refused.map((r) => r.message.split(":")[0])).toEqual(["user_ids", "user_ids", "user_ids[0]", "user_ids[0]", "call_id"]);
    expect((await calls.getCall({ callId }, alice)).call?.status).toBe(CallStatus.RINGING);
  });

  it("has a rate budget of its own (RATE_LIMIT_RING_*): over it, RESOURCE_EXHAUSTED, while other RPCs go on", async () => {
    const roomId = await limited.directory.room({ alice: 0, bob: 0, carol: 0 });
    const alice = await limited.as("alice");
    const { callId } = await limited.calls.initiateCall({ roomId, type: CallType.AUDIO }, alice);
    await limited.calls.ringCall({ callId, userIds: ["bob"] }, alice);
    expect(await failure(limited.calls.ringCall({ callId, userIds: ["carol"] }, alice))).toMatchObject({
      code: Code.ResourceExhausted,
      reason: "SW_CALL_RATE_LIMITED",
    });
    expect((await limited.calls.getCall({ callId }, alice)).call?.id).toBe(callId);
    // Another user's budget is their own.
    await limited.calls.joinCall({ callId }, await limited.as("bob"));
    expect((await limited.calls.ringCall({ callId, userIds: ["carol"] }, await limited.as("bob"))).call?.id).toBe(callId);
  });
});

describe("history and room calls: access and paging input", () => {
  it("ListRoomCalls is for members of the room only", async () => {
    const { roomId, callId } = await groupCall();
    expect((await calls.listRoomCalls({ roomId }, await as("bob"))).calls.map((c) => c.id)).toEqual([callId]);
    expect(await failure(calls.listRoomCalls({ roomId }, await as("mallory")))).toEqual({
      code: Code.PermissionDenied,
      reason: "SW_CALL_FORBIDDEN",
      message: `you are not a member of room ${roomId}`,
    });
    // Another tenant's member of a room with the same id is no member of this one.
    expect(await failure(calls.listRoomCalls({ roomId }, await as("bob", "globex")))).toMatchObject({ reason: "SW_CALL_FORBIDDEN" });
  });

  it("a cursor this service never gave out, or a page too large, is refused with INVALID_ARGUMENT", async () => {
    const { roomId } = await groupCall();
    const bob = await as("bob");
    const refused = await Promise.all(
      [
        calls.listCallHistory({ cursor: "not-a-cursor" }, bob),
        calls.listRoomCalls({ roomId, cursor: Buffer.from(JSON.stringify(["x", "call-1"])).toString("base64url") }, bob),
        calls.listCallHistory({ pageSize: 101 }, bob),
        calls.listCallHistory({ pageSize: -1 }, bob),
        calls.listRoomCalls({ roomId, cursor: "c".repeat(513) }, bob),
      ].map(failure),
    );
    for (const seen of refused) expect(seen).toMatchObject({ code: Code.InvalidArgument, reason: "SW_CALL_INVALID_ARGUMENT" });
    expect(refused[0]?.message).toBe("cursor is not one this service gave out; start again without it");
    expect(refused.slice(2).map((r) => r.message.split(":")[0])).toEqual(["page_size", "page_size", "cursor"]);
  });
});
