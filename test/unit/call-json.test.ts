import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CallSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import type { RecordingView } from "../../src/app/recordings.js";
import type { Call, CallStatus, EndReason, Invitee, InviteState, Participant } from "../../src/domain/call.js";
import type { MediaEntry, Recording, RecordingStatus } from "../../src/domain/recording.js";
import type { Transcript, TranscriptStatus } from "../../src/domain/transcript.js";
import { renderCallJson } from "../../src/transport/rest/call-json.js";
import { messageToRestJson } from "../../src/transport/rest/rest-json.js";
import { callToProto } from "../../src/transport/rpc/call-mapping.js";

/**
 * renderCallJson writes a call's REST JSON by hand, for speed; these tests pin
 * it byte for byte to the generic protobuf path it replaces, over thousands of
 * generated calls and the edge cases picked below.
 */

/** The generic path: what GET /v1/calls/{id} answers inside `{"data": …}`. */
const generic = (call: Call, recordings: readonly RecordingView[] = []): string =>
  JSON.stringify(messageToRestJson(CallSchema, create(CallSchema, callToProto(call, recordings))));

/** Equal strings, or a failure naming the case and showing both sides from the first byte that differs. */
function expectSameBytes(actual: string, expected: string, label: string): void {
  if (actual === expected) return;
  let at = 0;
  while (actual[at] === expected[at]) at++;
  const around = (s: string) => JSON.stringify(s.slice(Math.max(0, at - 40), at + 40));
  throw new Error(`${label}: differs at byte ${at}\n  renderCallJson: ${around(actual)}\n  protobuf path:  ${around(expected)}`);
}

const expectSameAsGeneric = (call: Call, recordings: readonly RecordingView[] = [], label = call.id) =>
  expectSameBytes(renderCallJson(call, recordings), generic(call, recordings), label);

// ---- fixtures -------------------------------------------------------------

const T = Date.UTC(2026, 11, 5, 1, 2, 3); // 2026-12-05T01:02:03Z

const baseCall = (over: Partial<Call> = {}): Call => ({
  id: "call-1",
  tenantId: "acme",
  roomId: "room-1",
  type: "video",
  status: "active",
  initiatorId: "alice",
  startedAt: T,
  endedAt: null,
  endReason: null,
  endedBy: null,
  endRequest: null,
  ringDeadline: T + 60_000,
  participants: [],
  invitees: [],
  endedSessions: [],
  ...over,
});

const participant = (userId: string, over: Partial<Participant> = {}): Participant => ({
  userId,
  joinedAt: T,
  audioOn: false,
  videoOn: false,
  livekitSid: null,
  ...over,
});

const invitee = (userId: string, state: InviteState, over: Partial<Invitee> = {}): Invitee => ({
  userId,
  state,
  changedAt: T,
  ringDeadline: null,
  ...over,
});

const media = (over: Partial<MediaEntry> = {}): MediaEntry => ({
  id: "media-1",
  bucket: "calls",
  key: "recordings/call-1/a.mp4",
  mimeType: "video/mp4",
  sizeBytes: 1234,
  durationMs: 61_500,
  startedAt: T,
  endedAt: T + 61_500,
  ...over,
});

const recordingOf = (over: Partial<Recording> = {}): Recording => ({
  id: "rec-1",
  callId: "call-1",
  tenantId: "acme",
  roomId: "room-1",
  status: "recording",
  audio: true,
  video: false,
  transcript: false,
  egressId: null,
  fileKey: "recordings/call-1/a.mp4",
  requestedBy: "alice",
  startedAt: T,
  endedAt: null,
  error: null,
  stopDeadline: T + 3_600_000,
  media: null,
  ...over,
});

const transcriptOf = (over: Partial<Transcript> = {}): Transcript => ({
  recordingId: "rec-1",
  callId: "call-1",
  tenantId: "acme",
  roomId: "room-1",
  status: "pending",
  engine: null,
  text: null,
  segments: [],
  vttKey: null,
  txtKey: null,
  attempts: 0,
  error: null,
  language: null,
  progress: 0,
  ...over,
});

const view = (recording: Recording, over: Partial<RecordingView> = {}): RecordingView => ({
  recording,
  downloadUrl: null,
  downloadUrlExpiresAt: null,
  transcript: null,
  ...over,
});

// ---- a deterministic generator --------------------------------------------

/** mulberry32: a tiny seeded PRNG, so every run checks the same calls. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES: CallStatus[] = ["ringing", "active", "ended"];
const END_REASONS: EndReason[] = ["ended", "all_left", "canceled", "rejected", "no_answer", "room_finished"];
const INVITE_STATES: InviteState[] = ["ringing", "answered", "rejected", "missed", "busy", "canceled"];
const RECORDING_STATUSES: RecordingStatus[] = ["starting", "recording", "stopping", "ready", "failed"];
const TRANSCRIPT_STATUSES: TranscriptStatus[] = ["pending", "ready", "failed"];

/** Pieces of ids and texts, some of which JSON must escape. */
const FRAGMENTS = ["alice", "bob", "call-", "X_9", "a=b", "u@host:1+2", '"', "\\", "/", "\n", "\t", "\u0000", "\u001f", "\u007f", "é", "漢字", "😀", "\u2028", "\u2029", "\ud800", "</script>", " "];

function generator(seed: number) {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const chance = (p: number) => random() < p;
  const pick = <V>(values: readonly V[]): V => values[int(values.length)] as V;
  const text = () => Array.from({ length: 1 + int(4) }, () => pick(FRAGMENTS)).join("");
  const maybe = <V>(p: number, value: () => V): V | null => (chance(p) ? value() : null);

  /** When the call being generated started: half of its times fall within hours of it, as a real call's do. */
  let start = 0;
  /** Mostly milliseconds near now; some whole seconds; some far past, pre-1970 or sub-millisecond. */
  const time = (): number => {
    const roll = random();
    const recent = chance(0.5) ? start + int(4 * 3_600_000) : Date.UTC(2020, 0, 1) + int(10 * 365 * 86_400_000);
    if (roll < 0.25) return Math.floor(recent / 1000) * 1000;
    if (roll < 0.85) return recent;
    if (roll < 0.9) return -int(2_000_000_000_000); // back to 1906
    if (roll < 0.95) return recent + int(64) / 64; // sub-millisecond: 6 or 9 digits of nanos
    return pick([Date.UTC(1970, 0, 1), Date.parse("0001-01-01T00:00:00Z"), Date.parse("9999-12-31T23:59:59.999Z"), Date.UTC(2000, 1, 29, 23, 59, 59, 999)]);
  };
  const size = () => pick([0, 1, int(1_000_000_000), Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 60, int(2 ** 40)]);
  const double = () => pick([0, 1, 0.5, 1 / 3, 1e-7, 1e21, 123.456, random(), -0, NaN, Infinity, -Infinity]);

  const participantGen = (): Participant => ({
    userId: text(),
    joinedAt: time(),
    audioOn: chance(0.5),
    videoOn: chance(0.5),
    livekitSid: maybe(0.5, text),
  });
  const inviteeGen = (): Invitee => ({ userId: text(), state: pick(INVITE_STATES), changedAt: time(), ringDeadline: maybe(0.4, time) });
  const mediaGen = (): MediaEntry => ({
    id: text(),
    bucket: text(),
    key: text(),
    mimeType: pick(["video/mp4", "audio/ogg", ""]),
    sizeBytes: size(),
    durationMs: chance(0.8) ? int(10_000_000) : double(),
    startedAt: time(),
    endedAt: time(),
  });
  const transcriptGen = (): NonNullable<RecordingView["transcript"]> => ({
    transcript: transcriptOf({
      status: pick(TRANSCRIPT_STATUSES),
      engine: maybe(0.5, () => pick(["whisper", "openai", text()])),
      text: maybe(0.5, text),
      vttKey: maybe(0.6, () => (chance(0.1) ? "" : text())),
      txtKey: maybe(0.6, () => (chance(0.1) ? "" : text())),
      attempts: int(5),
      error: maybe(0.3, text),
      language: maybe(0.5, () => pick(["en", "de", text()])),
      progress: chance(0.7) ? random() : double(),
    }),
    vttUrl: maybe(0.5, text),
    txtUrl: maybe(0.5, text),
  });
  const recordingGen = (): RecordingView => ({
    recording: recordingOf({
      id: text(),
      callId: text(),
      status: pick(RECORDING_STATUSES),
      audio: chance(0.5),
      video: chance(0.5),
      transcript: chance(0.5),
      egressId: maybe(0.5, text),
      startedAt: time(),
      endedAt: maybe(0.5, time),
      error: maybe(0.3, () => (chance(0.2) ? "" : text())),
      media: maybe(0.5, mediaGen),
    }),
    downloadUrl: maybe(0.5, text),
    downloadUrlExpiresAt: maybe(0.5, time),
    transcript: maybe(0.4, transcriptGen),
  });

  return (): { call: Call; recordings: RecordingView[] } => {
    start = Date.UTC(2020, 0, 1) + int(10 * 365 * 86_400_000);
    return { call: generated(), recordings: chance(0.6) ? [] : Array.from({ length: 1 + int(3) }, recordingGen) };
  };

  function generated(): Call {
    return baseCall({
      id: text(),
      tenantId: text(),
      roomId: text(),
      type: chance(0.5) ? "audio" : "video",
      status: pick(STATUSES),
      initiatorId: text(),
      startedAt: time(),
      endedAt: maybe(0.4, time),
      endReason: maybe(0.5, () => pick(END_REASONS)),
      endedBy: maybe(0.3, text),
      endRequest: maybe(0.2, () => ({ by: text(), at: time() })),
      ringDeadline: time(),
      participants: Array.from({ length: int(6) }, participantGen),
      invitees: Array.from({ length: int(7) }, inviteeGen),
      endedSessions: Array.from({ length: int(3) }, text),
    });
  }
}

// ---- tests ----------------------------------------------------------------

describe("renderCallJson", () => {
  it("writes the same bytes as the protobuf path for 3000 generated calls", () => {
    const SEED = 20261205;
    const next = generator(SEED);
    for (let n = 0; n < 3000; n++) {
      const { call, recordings } = next();
      expectSameAsGeneric(call, recordings, `generated call #${n} (seed ${SEED})`);
    }
  });

  it("writes the documented shape: proto field order, video_on before audio_on, null for what is unset", () => {
    const call = baseCall({
      participants: [participant("alice", { audioOn: true }), participant("bob", { joinedAt: T + 120, videoOn: true })],
      invitees: [invitee("bob", "answered", { changedAt: T + 120 }), invitee("carol", "ringing", { ringDeadline: T + 60_000 })],
    });
    const json =
      '{"id":"call-1","room_id":"room-1","type":"video","status":"active","started_at":"2026-12-05T01:02:03Z","ended_at":null,' +
      '"initiator_id":"alice","participants":[' +
      '{"participant_id":"alice","joined_at":"2026-12-05T01:02:03Z","video_on":false,"audio_on":true},' +
      '{"participant_id":"bob","joined_at":"2026-12-05T01:02:03.120Z","video_on":true,"audio_on":false}],' +
      '"recordings":[],"end_reason":null,"livekit_room":"scaiwave-call-1","invitees":[' +
      '{"user_id":"bob","state":"answered","changed_at":"2026-12-05T01:02:03.120Z","ring_deadline":null},' +
      '{"user_id":"carol","state":"ringing","changed_at":"2026-12-05T01:02:03Z","ring_deadline":"2026-12-05T01:03:03Z"}]}';
    expect(renderCallJson(call)).toBe(json);
    expect(generic(call)).toBe(json);
  });

  it("writes a ready recording with its media, download URL and transcript files as the protobuf path does", () => {
    const ready = recordingOf({ status: "ready", transcript: true, endedAt: T + 61_500, media: media() });
    const transcript = transcriptOf({ status: "ready", engine: "whisper", text: "hi", vttKey: "a.vtt", txtKey: "a.txt", attempts: 1, language: "en", progress: 1 });
    const recordings = [
      view(ready, { downloadUrl: "http://s3/a.mp4?X-Amz-Signature=x&y", downloadUrlExpiresAt: T + 900_000, transcript: { transcript, vttUrl: "http://s3/a.vtt", txtUrl: null } }),
      view(recordingOf({ id: "rec-2", status: "failed", endedAt: T + 5, error: "egress failed: \"disk full\"" })),
      view(recordingOf({ id: "rec-3", status: "starting" })),
    ];
    const json = renderCallJson(baseCall(), recordings);
    expectSameBytes(json, generic(baseCall(), recordings), "recordings");
    expect(json).toContain(
      '"media":{"media_id":"media-1","bucket":"calls","key":"recordings/call-1/a.mp4","mime_type":"video/mp4","size_bytes":1234,' +
        '"duration_seconds":61.5,"download_url":"http://s3/a.mp4?X-Amz-Signature=x&y","download_url_expires_at":"2026-12-05T01:17:03Z"}',
    );
    expect(json).toContain(
      '"txt":{"media_id":"","bucket":"calls","key":"a.txt","mime_type":"text/plain","size_bytes":0,"duration_seconds":0,"download_url":"","download_url_expires_at":null}',
    );
  });

  describe("every enum value, by name", () => {
    it.each(STATUSES)('status "%s"', (status) => {
      const call = baseCall({ status });
      expect(renderCallJson(call)).toContain(`"status":"${status}"`);
      expectSameAsGeneric(call);
    });
    it.each(["audio", "video"] as const)('type "%s"', (type) => {
      const call = baseCall({ type });
      expect(renderCallJson(call)).toContain(`"type":"${type}"`);
      expectSameAsGeneric(call);
    });
    it.each(END_REASONS)('end reason "%s", with and without ended_by', (endReason) => {
      for (const endedBy of [null, "alice"]) {
        const call = baseCall({ status: "ended", endedAt: T + 1, endReason, endedBy });
        expect(renderCallJson(call)).toContain(`"end_reason":"${endReason}"`);
        expectSameAsGeneric(call);
      }
    });
    it("no end reason is null (END_REASON_UNSPECIFIED)", () => {
      const call = baseCall({ endReason: null });
      expect(renderCallJson(call)).toContain('"end_reason":null');
      expectSameAsGeneric(call);
    });
    it.each(INVITE_STATES)('invitee state "%s", ringing or not', (state) => {
      const call = baseCall({ invitees: [invitee("bob", state, { ringDeadline: T + 30_000 }), invitee("carol", state)] });
      expect(renderCallJson(call)).toContain(`"state":"${state}"`);
      expectSameAsGeneric(call);
    });
    it.each(RECORDING_STATUSES)('recording status "%s"', (status) => {
      const recordings = [view(recordingOf({ status }))];
      expect(renderCallJson(baseCall(), recordings)).toContain(`"status":"${status}","audio":true`);
      expectSameAsGeneric(baseCall(), recordings);
    });
    it.each(TRANSCRIPT_STATUSES)('transcript status "%s"', (status) => {
      const recordings = [view(recordingOf({ transcript: true }), { transcript: { transcript: transcriptOf({ status }), vttUrl: null, txtUrl: null } })];
      expect(renderCallJson(baseCall(), recordings)).toContain(`"transcription":{"status":"${status}"`);
      expectSameAsGeneric(baseCall(), recordings);
    });
  });

  describe("timestamps, as protobuf JSON prints them", () => {
    it.each([
      [T, "2026-12-05T01:02:03Z"],
      [T + 120, "2026-12-05T01:02:03.120Z"],
      [T + 1, "2026-12-05T01:02:03.001Z"],
      [T + 999, "2026-12-05T01:02:03.999Z"],
      [T + 120.5, "2026-12-05T01:02:03.120500Z"],
      [T + 1 / 64, "2026-12-05T01:02:03.000015625Z"],
      [0, "1970-01-01T00:00:00Z"],
      [-1, "1969-12-31T23:59:59.999Z"],
      [Date.parse("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00Z"],
      [Date.parse("9999-12-31T23:59:59.999Z"), "9999-12-31T23:59:59.999Z"],
    ])("%d ms → %s", (ms, printed) => {
      const call = baseCall({ startedAt: ms, endedAt: ms, participants: [participant("a", { joinedAt: ms })] });
      expect(renderCallJson(call)).toContain(`"started_at":"${printed}","ended_at":"${printed}"`);
      expectSameAsGeneric(call, [], `${ms} ms`);
    });

    it("refuses a time protobuf JSON cannot print, as the protobuf path does", () => {
      for (const ms of [Date.parse("0000-12-31T23:59:59Z"), Date.parse("+010000-01-01T00:00:00Z")]) {
        const call = baseCall({ startedAt: ms });
        expect(() => generic(call)).toThrow(/0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/);
        expect(() => renderCallJson(call)).toThrow(/0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/);
      }
    });
  });

  it("escapes ids and texts the way JSON.stringify does (quotes, backslash, controls, unicode, lone surrogates)", () => {
    const odd = 'a"b\\c/\n\u0000\u001f\u2028é漢😀\ud800</script>';
    const call = baseCall({
      id: odd,
      roomId: odd,
      initiatorId: odd,
      participants: [participant(odd)],
      invitees: [invitee(odd, "busy", { ringDeadline: T })],
    });
    const recordings = [view(recordingOf({ id: odd, callId: odd, error: odd, media: media({ id: odd, bucket: odd, key: odd, mimeType: odd }) }), { downloadUrl: odd })];
    expectSameAsGeneric(call, recordings, "odd ids");
    expect(renderCallJson(call)).toContain(`"livekit_room":${JSON.stringify(`scaiwave-${odd}`)}`);
  });

  it("writes sizes past 2^53 as decimal strings and non-finite doubles as their names", () => {
    for (const sizeBytes of [0, Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 60]) {
      for (const durationMs of [0, -0, 1, 1e-4, NaN, Infinity, -Infinity]) {
        const recordings = [view(recordingOf({ media: media({ sizeBytes, durationMs }) }), { transcript: { transcript: transcriptOf({ progress: durationMs }), vttUrl: null, txtUrl: null } })];
        expectSameAsGeneric(baseCall(), recordings, `size ${sizeBytes}, duration ${durationMs} ms`);
      }
    }
    const big = renderCallJson(baseCall(), [view(recordingOf({ media: media({ sizeBytes: 2 ** 60, durationMs: NaN }) }))]);
    expect(big).toContain('"size_bytes":"1152921504606846976","duration_seconds":"NaN"');
  });

  it("shows no internal state: tenant, ended_by, the end request, ring deadline, LiveKit sessions", () => {
    const plain = baseCall();
    const busy = baseCall({
      tenantId: "other",
      endedBy: "alice",
      endRequest: { by: "alice", at: T },
      ringDeadline: T + 1,
      endedSessions: ["PA_1"],
      participants: [participant("alice", { livekitSid: "PA_2" })],
    });
    expect(renderCallJson(busy)).toBe(renderCallJson({ ...plain, participants: [participant("alice")] }));
    expectSameAsGeneric(busy);
  });

  it("names the case and the first differing byte when the bytes drift", () => {
    const call = baseCall({ participants: [participant("alice", { audioOn: true })] });
    const drifted = renderCallJson(call).replace('"video_on":false,"audio_on":true', '"audio_on":true,"video_on":false');
    expect(() => expectSameBytes(drifted, generic(call), "swapped flags")).toThrow(/swapped flags: differs at byte \d+\n.*"audio_on/);
    const millis = renderCallJson(call).replace('"started_at":"2026-12-05T01:02:03Z"', '"started_at":"2026-12-05T01:02:03.000Z"');
    expect(() => expectSameBytes(millis, generic(call), "millis")).toThrow(/millis: differs at byte/);
  });
});
