import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { CallStatus, CallType, EndReason } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { failure, InMemoryEgress, inMemoryService } from "./in-memory-service.js";

/** Who may do what, through the service's RPC registry (in memory, on a real store). */

// Object storage is configured (never reached: starting a recording only asks the egress, played in memory).
const service = await inMemoryService(
  { S3_ENDPOINT: "http://s3.invalid", S3_ACCESS_KEY: "in-memory", S3_SECRET_KEY: "in-memory-secret", S3_BUCKET: "recordings" },
  { egress: new InMemoryEgress() },
);
const { calls, directory, as } = service;
afterAll(() => service.close());

describe("permissions", () => {
  it("only members of the room may start, join or see its call: others get PERMISSION_DENIED / SW_CALL_FORBIDDEN", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    expect(await failure(calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("mallory")))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "SW_CALL_FORBIDDEN",
    });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    const mallory = await as("mallory");
    const refused = await Promise.all(
      [calls.joinCall({ callId }, mallory), calls.getCall({ callId }, mallory), calls.rejectCall({ callId }, mallory)].map(failure),
    );
    for (const seen of refused) expect(seen).toMatchObject({ code: Code.PermissionDenied, reason: "SW_CALL_FORBIDDEN" });
    // Bob, a member, may.
    expect((await calls.joinCall({ callId }, await as("bob"))).callId).toBe(callId);
  });

  it("a member removed from the room loses access to its live call", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.VIDEO }, await as("alice"));
    await directory.removeMember(roomId, "bob");
    expect(await failure(calls.joinCall({ callId }, await as("bob")))).toMatchObject({ reason: "SW_CALL_FORBIDDEN" });
  });

  it("ending: the initiator or a moderator (power 50); a participant under 50 may not", async () => {
    const roomId = await directory.room({ alice: 0, bob: 49, mod: 50 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    await calls.joinCall({ callId }, await as("bob"));
    expect(await failure(calls.endCall({ callId }, await as("bob")))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "SW_CALL_FORBIDDEN",
      message: "only the initiator or a moderator (power level 50) may end the call",
    });
    expect((await calls.getCall({ callId }, await as("bob"))).call?.status).toBe(CallStatus.ACTIVE);
    const ended = (await calls.endCall({ callId }, await as("mod"))).call;
    expect(ended).toMatchObject({ status: CallStatus.ENDED, endReason: EndReason.ENDED });

    // The initiator needs no power level.
    const second = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    expect((await calls.endCall({ callId: second.callId }, await as("alice"))).call?.status).toBe(CallStatus.ENDED);
  });

  it("host controls (mute, remove) need a moderator", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0, mod: 50 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    await calls.joinCall({ callId }, await as("bob"));
    const alice = await as("alice");
    const refused = await Promise.all(
      [calls.muteParticipant({ callId, participantId: "bob" }, alice), calls.removeParticipant({ callId, participantId: "bob" }, alice)].map(failure),
    );
    for (const seen of refused) expect(seen).toMatchObject({ code: Code.PermissionDenied, reason: "SW_CALL_FORBIDDEN" });
    const removed = await calls.removeParticipant({ callId, participantId: "bob" }, await as("mod"));
    expect(removed.call?.participants.map((p) => p.participantId)).toEqual(["alice"]);
  });

  it("recordings need an admin (power 100): a moderator is refused, an admin starts and stops one", async () => {
    await service.policy("acme", { recordingsEnabled: true, transcriptionEnabled: false });
    const roomId = await directory.room({ admin: 100, mod: 50 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.VIDEO }, await as("admin"));
    const mod = await as("mod");
    const refused = await Promise.all([calls.startRecording({ callId }, mod), calls.stopRecording({ callId }, mod)].map(failure));
    for (const seen of refused) {
      expect(seen).toEqual({
        code: Code.PermissionDenied,
        reason: "SW_CALL_FORBIDDEN",
        message: "only an admin (power level 100) may start or stop recordings",
      });
    }
    const started = await calls.startRecording({ callId }, await as("admin"));
    expect(started.recording?.callId).toBe(callId);
    expect((await calls.stopRecording({ callId }, await as("admin"))).recording?.id).toBe(started.recording?.id);
  });

  it("another tenant cannot tell a call exists: NOT_FOUND / SW_CALL_NOT_FOUND, as for a call that does not", async () => {
    const roomId = await directory.room({ alice: 100 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    const otherTenant = await as("alice", "globex");
    const unknown = await failure(calls.getCall({ callId: "call-doesnotexist" }, otherTenant));
    const hidden = await Promise.all(
      [
        calls.getCall({ callId }, otherTenant),
        calls.joinCall({ callId }, otherTenant),
        calls.endCall({ callId }, otherTenant),
        calls.startRecording({ callId }, otherTenant),
      ].map(failure),
    );
    for (const seen of hidden) {
      expect(seen).toMatchObject({ code: Code.NotFound, reason: "SW_CALL_NOT_FOUND" });
      expect(seen.message).toBe(unknown.message.replace("call-doesnotexist", callId));
    }
    // Its live calls are not listed either.
    expect((await calls.listCalls({}, otherTenant)).calls).toEqual([]);
    expect((await calls.listCalls({}, await as("alice"))).calls.map((c) => c.id)).toContain(callId);
  });
});
