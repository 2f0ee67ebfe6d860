import { afterAll, describe, expect, it, vi } from "vitest";
import { CallStatus, CallType } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { inMemoryService } from "./in-memory-service.js";

/** Two members start a call in the same room at the same moment: one call, both in it. */

const service = await inMemoryService();
const { calls, directory, as, rooms } = service;
afterAll(() => service.close());

/** Holds every createRoom until `n` of them are waiting, then lets them all go at once. */
function barrier(n: number): () => Promise<void> {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    if (++waiting === n) open();
    return opened;
  };
}

describe("glare", () => {
  it("two concurrent initiates in one room make one call; the loser's LiveKit room is deleted", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0, carol: 0 });
    // Both initiates pass the "no live call here" check and create a LiveKit room before either stores its call.
    rooms.beforeCreate = barrier(2);
    try {
      const [a, b] = await Promise.all([
        calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice")),
        calls.initiateCall({ roomId, type: CallType.VIDEO }, await as("bob")),
      ]);
      expect(b.callId).toBe(a.callId);
      expect(b.livekitRoom).toBe(a.livekitRoom);
    } finally {
      rooms.beforeCreate = undefined;
    }
    expect(rooms.created).toHaveLength(2);

    const [call] = (await calls.listCalls({}, await as("carol"))).calls.filter((c) => c.roomId === roomId);
    expect(call?.status).toBe(CallStatus.ACTIVE);
    expect(call?.participants.map((p) => p.participantId).sort()).toEqual(["alice", "bob"]);
    // The room of the call that lost is removed in the background; the winner's stays.
    const loser = rooms.created.find((name) => name !== `scaiwave-${call?.id}`);
    await vi.waitFor(() => expect(rooms.deleted).toEqual([loser]));
    expect(rooms.rooms.has(`scaiwave-${call?.id}`)).toBe(true);
  });

  it("an initiate after the call started joins it, and creates no second room", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const first = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    const created = rooms.created.length;
    const second = await calls.initiateCall({ roomId, type: CallType.VIDEO }, await as("bob"));
    expect(second.callId).toBe(first.callId);
    expect(rooms.created).toHaveLength(created);
    const call = (await calls.getCall({ callId: first.callId }, await as("alice"))).call;
    expect(call).toMatchObject({ status: CallStatus.ACTIVE, type: CallType.AUDIO });
  });
});
