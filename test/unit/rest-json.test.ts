import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  CallSchema,
  CallStatus,
  CallType,
  EndReason,
  InitiateCallRequestSchema,
  InviteeState,
  ListRecordingsResponseSchema,
  MediaReferenceSchema,
  RecordingSchema,
  RecordingStatus,
  StartRecordingRequestSchema,
} from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { listToRestJson, messageToRestJson, restJsonToMessage } from "../../src/transport/rest/rest-json.js";

const STARTED = Date.UTC(2024, 0, 15, 9, 30, 0); // 2024-01-15T09:30:00Z
const JOINED = Date.UTC(2024, 0, 15, 9, 30, 5, 250);
const ENDED = Date.UTC(2024, 0, 15, 10, 0, 0);

function errorOf(fn: () => unknown): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Error);
  return caught as Error;
}

describe("messageToRestJson", () => {
  it("renders a live call with snake_case keys, lower-case enums, RFC 3339 times and null for the unset ones", () => {
    const call = create(CallSchema, {
      id: "call-1",
      roomId: "room-1",
      type: CallType.VIDEO,
      status: CallStatus.ACTIVE,
      startedAt: timestampFromMs(STARTED),
      initiatorId: "alice",
      participants: [
        { participantId: "alice", joinedAt: timestampFromMs(STARTED), videoOn: true, audioOn: true },
        { participantId: "bob", joinedAt: timestampFromMs(JOINED), videoOn: false, audioOn: true },
      ],
      livekitRoom: "scaiwave-call-1",
      invitees: [
        { userId: "bob", state: InviteeState.ANSWERED, changedAt: timestampFromMs(JOINED) },
        { userId: "carol", state: InviteeState.BUSY, changedAt: timestampFromMs(STARTED), ringDeadline: timestampFromMs(ENDED) },
      ],
    });
    const json = messageToRestJson(CallSchema, call);
    expect(json).toEqual({
      id: "call-1",
      room_id: "room-1",
      type: "video",
      status: "active",
      started_at: "2024-01-15T09:30:00Z",
      ended_at: null,
      initiator_id: "alice",
      participants: [
        { participant_id: "alice", joined_at: "2024-01-15T09:30:00Z", video_on: true, audio_on: true },
        { participant_id: "bob", joined_at: "2024-01-15T09:30:05.250Z", video_on: false, audio_on: true },
      ],
      recordings: [],
      end_reason: null,
      livekit_room: "scaiwave-call-1",
      invitees: [
        { user_id: "bob", state: "answered", changed_at: "2024-01-15T09:30:05.250Z", ring_deadline: null },
        { user_id: "carol", state: "busy", changed_at: "2024-01-15T09:30:00Z", ring_deadline: "2024-01-15T10:00:00Z" },
      ],
    });
  });

  it("keeps the proto's field order, including in nested messages", () => {
    const call = create(CallSchema, {
      id: "call-1",
      participants: [{ participantId: "alice" }],
    });
    const json = messageToRestJson(CallSchema, call);
    expect(Object.keys(json)).toEqual([
      "id",
      "room_id",
      "type",
      "status",
      "started_at",
      "ended_at",
      "initiator_id",
      "participants",
      "recordings",
      "end_reason",
      "livekit_room",
      "invitees",
    ]);
    const participants = json["participants"] as Record<string, unknown>[];
    expect(Object.keys(participants[0]!)).toEqual(["participant_id", "joined_at", "video_on", "audio_on"]);
  });

  it("renders an empty call with every scalar present, null for messages and enums, [] for lists", () => {
    expect(JSON.stringify(messageToRestJson(CallSchema, create(CallSchema)))).toBe(
      '{"id":"","room_id":"","type":null,"status":null,"started_at":null,"ended_at":null,' +
        '"initiator_id":"","participants":[],"recordings":[],"end_reason":null,"livekit_room":"","invitees":[]}',
    );
  });

  it("renders an ended call's end reason and end time", () => {
    const call = create(CallSchema, {
      id: "call-2",
      type: CallType.AUDIO,
      status: CallStatus.ENDED,
      startedAt: timestampFromMs(STARTED),
      endedAt: timestampFromMs(ENDED),
      endReason: EndReason.NO_ANSWER,
    });
    const json = messageToRestJson(CallSchema, call);
    expect(json["type"]).toBe("audio");
    expect(json["status"]).toBe("ended");
    expect(json["end_reason"]).toBe("no_answer");
    expect(json["ended_at"]).toBe("2024-01-15T10:00:00Z");
    expect(messageToRestJson(CallSchema, create(CallSchema, { endReason: EndReason.ROOM_FINISHED }))["end_reason"]).toBe(
      "room_finished",
    );
  });

  it("renders recordings inside a call, with their media reference and int64 size as a JSON number", () => {
    const call = create(CallSchema, {
      id: "call-3",
      recordings: [
        {
          id: "rec-1",
          callId: "call-3",
          status: RecordingStatus.READY,
          audio: true,
          video: false,
          transcript: true,
          startedAt: timestampFromMs(STARTED),
          endedAt: timestampFromMs(ENDED),
          media: {
            mediaId: "media-1",
            bucket: "recordings",
            key: "recordings/call-3/20240115T093000Z.mp4",
            mimeType: "audio/mp4",
            sizeBytes: 123_456_789n,
            durationSeconds: 1800.5,
            downloadUrl: "https://s3.example.com/recordings/x?sig=1",
            downloadUrlExpiresAt: timestampFromMs(ENDED + 900_000),
          },
        },
      ],
    });
    const json = messageToRestJson(CallSchema, call);
    expect(json["recordings"]).toEqual([
      {
        id: "rec-1",
        call_id: "call-3",
        status: "ready",
        audio: true,
        video: false,
        transcript: true,
        transcription: null,
        started_at: "2024-01-15T09:30:00Z",
        ended_at: "2024-01-15T10:00:00Z",
        media: {
          media_id: "media-1",
          bucket: "recordings",
          key: "recordings/call-3/20240115T093000Z.mp4",
          mime_type: "audio/mp4",
          size_bytes: 123_456_789,
          duration_seconds: 1800.5,
          download_url: "https://s3.example.com/recordings/x?sig=1",
          download_url_expires_at: "2024-01-15T10:15:00Z",
        },
        error: "",
      },
    ]);
  });

  it("renders a MediaReference's size_bytes as a number, and 0 when unset", () => {
    const json = messageToRestJson(MediaReferenceSchema, create(MediaReferenceSchema, { sizeBytes: 9_007_199_254_740_991n }));
    expect(json["size_bytes"]).toBe(9_007_199_254_740_991);
    expect(typeof json["size_bytes"]).toBe("number");
    expect(messageToRestJson(MediaReferenceSchema, create(MediaReferenceSchema))["size_bytes"]).toBe(0);
  });

  it("keeps an int64 that a JSON number cannot hold exactly as a string", () => {
    const json = messageToRestJson(MediaReferenceSchema, create(MediaReferenceSchema, { sizeBytes: 2n ** 60n }));
    expect(json["size_bytes"]).toBe("1152921504606846976");
  });

  it("a recording without media has media: null", () => {
    const json = messageToRestJson(RecordingSchema, create(RecordingSchema, { id: "rec-1", status: RecordingStatus.STARTING }));
    expect(json["status"]).toBe("starting");
    expect(json["media"]).toBeNull();
    expect(json["started_at"]).toBeNull();
  });
});

describe("listToRestJson", () => {
  it("renders a repeated response field as a bare array", () => {
    const field = ListRecordingsResponseSchema.fields.find((f) => f.name === "recordings")!;
    const response = create(ListRecordingsResponseSchema, {
      recordings: [{ id: "rec-1", status: RecordingStatus.FAILED, error: "egress failed" }],
    });
    const json = listToRestJson(field, response);
    expect(Array.isArray(json)).toBe(true);
    expect(json).toEqual([
      {
        id: "rec-1",
        call_id: "",
        status: "failed",
        audio: false,
        video: false,
        transcript: false,
        transcription: null,
        started_at: null,
        ended_at: null,
        media: null,
        error: "egress failed",
      },
    ]);
    expect(listToRestJson(field, create(ListRecordingsResponseSchema))).toEqual([]);
  });
});

describe("restJsonToMessage", () => {
  it("leaves the caller's JSON untouched", () => {
    const input = Object.freeze({ room_id: "r", type: "audio" });
    expect(restJsonToMessage(InitiateCallRequestSchema, input).type).toBe(CallType.AUDIO);
    expect(input).toEqual({ room_id: "r", type: "audio" });
  });

  it('accepts the documented body {"room_id":"r","type":"audio"}', () => {
    const message = restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "audio" });
    expect(message.roomId).toBe("r");
    expect(message.type).toBe(CallType.AUDIO);
  });

  it("accepts camelCase (proto JSON) field names", () => {
    const message = restJsonToMessage(InitiateCallRequestSchema, { roomId: "r", type: "video" });
    expect(message.roomId).toBe("r");
    expect(message.type).toBe(CallType.VIDEO);
  });

  it('accepts the full proto enum name "CALL_TYPE_VIDEO" and the enum number', () => {
    expect(restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "CALL_TYPE_VIDEO" }).type).toBe(CallType.VIDEO);
    expect(restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: 1 }).type).toBe(CallType.AUDIO);
  });

  it("takes the short enum spelling in lower case only, as documented", () => {
    expect(restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "audio" }).type).toBe(CallType.AUDIO);
    expect(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "VIDEO" })).toThrow(/VIDEO/);
    expect(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "Audio" })).toThrow(/Audio/);
  });

  it("leaves absent fields at their defaults", () => {
    const message = restJsonToMessage(InitiateCallRequestSchema, {});
    expect(message.roomId).toBe("");
    expect(message.type).toBe(CallType.UNSPECIFIED);
  });

  it("reads optional booleans of the recording request", () => {
    const message = restJsonToMessage(StartRecordingRequestSchema, { call_id: "call-1", audio: true, transcript: false });
    expect(message.callId).toBe("call-1");
    expect(message.audio).toBe(true);
    expect(message.video).toBeUndefined();
    expect(message.transcript).toBe(false);
  });

  it('rejects an unknown enum spelling ("type":"fax") with an error naming it', () => {
    const error = errorOf(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "fax" }));
    expect(error.message).toContain("scaiwave.calls.v1.CallType");
    expect(error.message).toContain('"fax"');
  });

  it('rejects "unspecified" as a short spelling of the zero value', () => {
    const error = errorOf(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "unspecified" }));
    expect(error.message).toContain('"unspecified"');
  });

  it("rejects unknown keys with an error naming the key", () => {
    const error = errorOf(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", type: "audio", colour: "red" }));
    expect(error.message).toContain('key "colour" is unknown');
  });

  it("rejects a field given under both its snake_case and camelCase names", () => {
    const error = errorOf(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: "r", roomId: "q" }));
    expect(error.message).toContain("set multiple times");
  });

  it("rejects a value of the wrong JSON type", () => {
    errorOf(() => restJsonToMessage(InitiateCallRequestSchema, { room_id: 42 }));
    errorOf(() => restJsonToMessage(StartRecordingRequestSchema, { call_id: "c", audio: "yes" }));
  });

  it("round-trips a Call through the REST dialect", () => {
    const call = create(CallSchema, {
      id: "call-1",
      roomId: "room-1",
      type: CallType.VIDEO,
      status: CallStatus.ENDED,
      startedAt: timestampFromMs(STARTED),
      endedAt: timestampFromMs(ENDED),
      initiatorId: "alice",
      participants: [{ participantId: "bob", joinedAt: timestampFromMs(JOINED), audioOn: true }],
      recordings: [{ id: "rec-1", status: RecordingStatus.READY, media: { mediaId: "m", sizeBytes: 42n } }],
      endReason: EndReason.ALL_LEFT,
      livekitRoom: "scaiwave-call-1",
    });
    const json = JSON.parse(JSON.stringify(messageToRestJson(CallSchema, call)));
    const back = restJsonToMessage(CallSchema, json);
    expect(back).toEqual(call);
  });
});
