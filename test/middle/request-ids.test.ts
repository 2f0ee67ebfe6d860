import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { CallType } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import type { Envelope } from "../../src/app/events.js";
import { createLogger } from "../../src/logger.js";
import { failure, InMemoryEgress, inMemoryService } from "./in-memory-service.js";

/**
 * The request id travels explicitly from the transport to what a request
 * causes: the events it writes to the outbox (also those written after it
 * answered, like the recording stopped by the call it ended), and the log
 * line of a request that failed. Through the real Connect routes.
 */

const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString());
    done();
  },
});
const service = await inMemoryService(
  { S3_ENDPOINT: "http://s3.invalid", S3_ACCESS_KEY: "in-memory", S3_SECRET_KEY: "in-memory-secret", S3_BUCKET: "recordings" },
  { egress: new InMemoryEgress(), logger: createLogger("info", logSink) },
);
const { calls, directory, as, rooms } = service;
afterAll(() => service.close());

/** Call options of `userId` naming the request `requestId`. */
const asRequest = async (userId: string, requestId: string) => {
  const options = await as(userId);
  return { headers: { ...(options.headers as Record<string, string>), "x-request-id": requestId } };
};

/** What the outbox holds for a call, as `type request_id` lines. */
function written(callId: string): string[] {
  const rows = service.ctx.db?.prepare("SELECT payload FROM outbox ORDER BY seq").all() as { payload: string }[];
  return rows
    .map((row) => JSON.parse(row.payload) as Envelope)
    .filter((e) => e.call_id === callId)
    .map((e) => `${e.type} ${String(e.request_id)}`);
}

describe("request ids", () => {
  it("the events of a Connect call name its x-request-id, or one made up when it sends none", async () => {
    const roomId = await directory.room({ alice: 0, bob: 0 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await asRequest("alice", "mid-initiate-1"));
    await calls.joinCall({ callId }, await as("bob"));
    const lines = written(callId);
    expect(lines.slice(0, 3)).toEqual([
      "swp.call.started mid-initiate-1",
      "swp.call.participant_joined mid-initiate-1",
      "swp.call.invite mid-initiate-1",
    ]);
    const joined = lines.slice(3);
    expect(joined).toHaveLength(3);
    const madeUp = joined[0]?.split(" ")[1];
    expect(madeUp).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(joined.every((line) => line.endsWith(` ${madeUp}`))).toBe(true);
  });

  it("a recording stopped because a request ended its call names that request", async () => {
    await service.policy("acme", { recordingsEnabled: true, transcriptionEnabled: false });
    const roomId = await directory.room({ alice: 100, bob: 0 });
    const { callId } = await calls.initiateCall({ roomId, type: CallType.AUDIO }, await as("alice"));
    await calls.startRecording({ callId }, await as("alice"));
    await calls.endCall({ callId }, await asRequest("alice", "mid-end-1"));
    // The recording stops after the end answered.
    await expect.poll(() => written(callId).filter((line) => line.startsWith("swp.call.recording_stopped"))).toEqual([
      "swp.call.recording_stopped mid-end-1",
    ]);
    expect(written(callId).filter((line) => line.startsWith("swp.call.ended"))).toEqual(["swp.call.ended mid-end-1"]);
  });

  it("the log line of a request that failed names it", async () => {
    const roomId = await directory.room({ alice: 0 });
    rooms.failure = new Error("LiveKit fell over in a way nobody expected");
    try {
      const failed = await failure(calls.initiateCall({ roomId, type: CallType.AUDIO }, await asRequest("alice", "mid-failing-1")));
      expect(failed.reason).toBe("SW_CALL_INTERNAL");
    } finally {
      rooms.failure = undefined;
    }
    const logged = logLines.map((line) => JSON.parse(line) as { msg: string; requestId?: string; err?: { message?: string } });
    expect(logged.filter((entry) => entry.requestId === "mid-failing-1")).toEqual([
      expect.objectContaining({ msg: "unexpected error while handling a request", err: expect.objectContaining({ message: "LiveKit fell over in a way nobody expected" }) }),
    ]);
  });
});
