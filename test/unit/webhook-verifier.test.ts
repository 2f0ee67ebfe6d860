import { createHash } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { LiveKitWebhookVerifier } from "../../src/adapters/livekit/webhook-verifier.js";
import { CallError, CallErrorCode } from "../../src/domain/errors.js";

/**
 * LiveKit's webhook scheme, signed here by hand (not with the library under test):
 * `Authorization: <JWT>` (no "Bearer"), HS256 keyed with the API secret's
 * UTF-8 bytes, `iss` = API key, claim `sha256` = standard (padded) base64 of
 * the SHA-256 of the body bytes. Bodies are protojson: camelCase, int64 as
 * strings, enum names, zero values omitted.
 */

const API_KEY = "APIwebhookKey";
const API_SECRET = "webhook-secret-of-some-reasonable-length";
const nowSeconds = () => Math.floor(Date.now() / 1000);

function sha256Base64(body: Buffer | string): string {
  return createHash("sha256").update(body).digest("base64");
}

async function sign(
  body: Buffer | string,
  options: { key?: string; secret?: string; exp?: number; sha256?: string } = {},
): Promise<string> {
  return new SignJWT({ sha256: options.sha256 ?? sha256Base64(body) })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(options.key ?? API_KEY)
    .setExpirationTime(options.exp ?? nowSeconds() + 300)
    .sign(new TextEncoder().encode(options.secret ?? API_SECRET));
}

const ROOM = { sid: "RM_x", name: "scaiwave-call-1" };
const ALICE = { sid: "PA_1", identity: "alice" };

function body(event: string, fields: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ event, room: ROOM, participant: ALICE, ...fields, id: "EV_abc", createdAt: "1771351907" }));
}

const verifier = new LiveKitWebhookVerifier(API_KEY, API_SECRET);

async function verifySigned(raw: Buffer) {
  return verifier.verify(raw, await sign(raw));
}

async function rejection(promise: Promise<unknown>): Promise<CallError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CallError);
  return caught as CallError;
}

describe("LiveKitWebhookVerifier: what a genuine webhook becomes", () => {
  it("participant_joined, exactly as LiveKit sends it", async () => {
    const raw = Buffer.from(
      '{"event":"participant_joined","room":{"sid":"RM_x","name":"scaiwave-call-1"},' +
        '"participant":{"sid":"PA_1","identity":"alice"},"id":"EV_abc","createdAt":"1771351907"}',
    );
    await expect(verifier.verify(raw, await sign(raw))).resolves.toEqual({
      id: "EV_abc",
      createdAt: 1_771_351_907_000,
      notice: { kind: "participant_joined", room: "scaiwave-call-1", identity: "alice", sid: "PA_1" },
    });
  });

  it("participant_left and participant_connection_aborted both mean the session left", async () => {
    for (const event of ["participant_left", "participant_connection_aborted"]) {
      const { notice } = await verifySigned(body(event));
      expect(notice, event).toEqual({ kind: "participant_left", room: "scaiwave-call-1", identity: "alice", sid: "PA_1" });
    }
  });

  it("a published microphone (AUDIO is the zero value, so `type` is omitted) turns audio on", async () => {
    const { notice } = await verifySigned(body("track_published", { track: { sid: "TR_1", source: "MICROPHONE" } }));
    expect(notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { audioOn: true } });
  });

  it("an explicit type AUDIO is read the same", async () => {
    const { notice } = await verifySigned(body("track_published", { track: { sid: "TR_1", type: "AUDIO", source: "MICROPHONE" } }));
    expect(notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { audioOn: true } });
  });

  it("an audio track of unknown source (type and source both omitted) counts as the microphone", async () => {
    const { notice } = await verifySigned(body("track_published", { track: { sid: "TR_1" } }));
    expect(notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { audioOn: true } });
  });

  it("a microphone published muted leaves audio off", async () => {
    const { notice } = await verifySigned(body("track_published", { track: { sid: "TR_1", source: "MICROPHONE", muted: true } }));
    expect(notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { audioOn: false } });
  });

  it("a published camera turns video on; unpublished turns it off", async () => {
    const camera = { sid: "TR_2", type: "VIDEO", source: "CAMERA", width: 1280, height: 720 };
    const published = await verifySigned(body("track_published", { track: camera }));
    expect(published.notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { videoOn: true } });
    const unpublished = await verifySigned(body("track_unpublished", { track: camera }));
    expect(unpublished.notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { videoOn: false } });
  });

  it("an unpublished microphone turns audio off", async () => {
    const { notice } = await verifySigned(body("track_unpublished", { track: { sid: "TR_1", source: "MICROPHONE" } }));
    expect(notice).toEqual({ kind: "track_changed", room: "scaiwave-call-1", identity: "alice", media: { audioOn: false } });
  });

  it("screen shares (video or audio) are neither camera nor microphone: ignored", async () => {
    const screen = await verifySigned(body("track_published", { track: { sid: "TR_3", type: "VIDEO", source: "SCREEN_SHARE" } }));
    expect(screen.notice).toEqual({ kind: "ignored", event: "track_published" });
    const screenAudio = await verifySigned(body("track_published", { track: { sid: "TR_4", source: "SCREEN_SHARE_AUDIO" } }));
    expect(screenAudio.notice).toEqual({ kind: "ignored", event: "track_published" });
  });

  it("a track event without a track is ignored", async () => {
    const { notice } = await verifySigned(body("track_published"));
    expect(notice).toEqual({ kind: "ignored", event: "track_published" });
  });

  it("room_finished names the room only", async () => {
    const { notice } = await verifySigned(body("room_finished", { participant: undefined }));
    expect(notice).toEqual({ kind: "room_finished", room: "scaiwave-call-1" });
  });

  it("egress events carry the egress: status by name (STARTING, the zero value, is omitted by LiveKit)", async () => {
    const starting = await verifySigned(body("egress_started", { egressInfo: { egressId: "EG_xyz", roomName: "scaiwave-call-1" } }));
    expect(starting.notice).toEqual({
      kind: "egress",
      egress: { egressId: "EG_xyz", roomName: "scaiwave-call-1", status: "starting", error: "", file: undefined },
    });
    const failed = await verifySigned(
      body("egress_ended", { egressInfo: { egressId: "EG_xyz", roomName: "r", status: "EGRESS_FAILED", error: "no space" } }),
    );
    expect(failed.notice).toMatchObject({ kind: "egress", egress: { status: "failed", error: "no space" } });
  });

  it("egress events carry the file the room-composite egress was asked to write (LiveKit echoes its request)", async () => {
    const { notice } = await verifySigned(
      body("egress_updated", {
        egressInfo: {
          egressId: "EG_xyz",
          roomName: "scaiwave-call-1",
          status: "EGRESS_ACTIVE",
          roomComposite: { roomName: "scaiwave-call-1", fileOutputs: [{ fileType: "MP4", filepath: "recordings/call-1/2026.mp4" }] },
        },
      }),
    );
    expect(notice).toMatchObject({ kind: "egress", egress: { status: "active", filepath: "recordings/call-1/2026.mp4" } });
  });

  it("a completed egress carries its file's times and duration, in nanoseconds (int64 strings on the wire)", async () => {
    const { notice } = await verifySigned(
      body("egress_ended", {
        egressInfo: {
          egressId: "EG_xyz",
          roomName: "scaiwave-call-1",
          status: "EGRESS_COMPLETE",
          fileResults: [
            { filename: "recordings/call-1/x.mp4", startedAt: "1771351900000000000", endedAt: "1771351907500000000", duration: "7500000000", size: "123456" },
          ],
        },
      }),
    );
    expect(notice).toEqual({
      kind: "egress",
      egress: {
        egressId: "EG_xyz",
        roomName: "scaiwave-call-1",
        status: "complete",
        error: "",
        file: { durationNs: 7_500_000_000, startedAtNs: 1_771_351_900_000_000_000, endedAtNs: 1_771_351_907_500_000_000 },
      },
    });
  });

  it("events this service does not act on, and unknown ones, are ignored", async () => {
    for (const event of ["room_started", "track_muted", "ingress_started", "some_future_event"]) {
      const { notice } = await verifySigned(body(event));
      expect(notice, event).toEqual({ kind: "ignored", event });
    }
  });

  it("unknown JSON fields (newer LiveKit) do not fail verification", async () => {
    const { id, notice } = await verifySigned(body("participant_joined", { someNewField: { x: 1 } }));
    expect(id).toBe("EV_abc");
    expect(notice.kind).toBe("participant_joined");
  });

  it("a signed body without an event id is SW_CALL_INVALID_ARGUMENT (nothing to deduplicate by)", async () => {
    const raw = Buffer.from(JSON.stringify({ event: "participant_joined", room: ROOM, participant: ALICE, createdAt: "1771351907" }));
    const error = await rejection(verifier.verify(raw, await sign(raw)));
    expect(error.code).toBe(CallErrorCode.InvalidArgument);
  });

  it("a signed body that is JSON but not a WebhookEvent is SW_CALL_INVALID_ARGUMENT, not a signature failure", async () => {
    const raw = Buffer.from(JSON.stringify({ id: "EV_x", event: 42, room: "not an object" }));
    const error = await rejection(verifier.verify(raw, await sign(raw)));
    expect([error.code, error.message]).toEqual([CallErrorCode.InvalidArgument, "webhook body is not a LiveKit WebhookEvent"]);
  });
});

describe("LiveKitWebhookVerifier: anything not signed by LiveKit with our key is SW_CALL_UNAUTHENTICATED", () => {
  const raw = body("participant_joined");

  async function expectUnauthenticated(authorization: string | undefined, payload: Buffer = raw): Promise<CallError> {
    const error = await rejection(verifier.verify(payload, authorization));
    expect(error.code).toBe(CallErrorCode.Unauthenticated);
    expect(error.code).toBe("SW_CALL_UNAUTHENTICATED");
    expect(error.message).toBe("webhook signature is missing or invalid");
    // The reason stays available for the log, never in the client-facing message.
    expect(error.cause).toBeInstanceOf(Error);
    return error;
  }

  it("the control: this very body, correctly signed, verifies", async () => {
    await expect(verifier.verify(raw, await sign(raw))).resolves.toMatchObject({ id: "EV_abc" });
  });

  it("no Authorization header", async () => {
    await expectUnauthenticated(undefined);
    await expectUnauthenticated("");
  });

  it("a header that is not a JWT", async () => {
    await expectUnauthenticated("not-a-jwt");
  });

  it("signed with another secret", async () => {
    await expectUnauthenticated(await sign(raw, { secret: "some-other-secret-of-reasonable-length" }));
  });

  it("signed by another API key (issuer), even with our secret", async () => {
    await expectUnauthenticated(await sign(raw, { key: "APIotherKey" }));
  });

  it("a body changed by one byte after signing", async () => {
    const authorization = await sign(raw);
    const tampered = Buffer.from(raw);
    const at = tampered.indexOf("alice");
    tampered[at] = "A".charCodeAt(0);
    expect(tampered.equals(raw)).toBe(false);
    const error = await expectUnauthenticated(authorization, tampered);
    expect((error.cause as Error).message).toBe("sha256 checksum of body does not match");
  });

  it("a sha256 claim in hex or unpadded base64url instead of LiveKit's padded standard base64", async () => {
    const hex = createHash("sha256").update(raw).digest("hex");
    const base64url = createHash("sha256").update(raw).digest("base64url");
    expect(sha256Base64(raw).endsWith("=")).toBe(true);
    await expectUnauthenticated(await sign(raw, { sha256: hex }));
    await expectUnauthenticated(await sign(raw, { sha256: base64url }));
  });

  it("an expired token, beyond LiveKit's 10 s clock tolerance", async () => {
    await expectUnauthenticated(await sign(raw, { exp: nowSeconds() - 60 }));
  });

  it("a token expired within the 10 s clock tolerance still verifies", async () => {
    await expect(verifier.verify(raw, await sign(raw, { exp: nowSeconds() - 3 }))).resolves.toMatchObject({ id: "EV_abc" });
  });

  it("a token without exp (it would verify forever)", async () => {
    const noExp = await new SignJWT({ sha256: sha256Base64(raw) })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(API_KEY)
      .sign(new TextEncoder().encode(API_SECRET));
    await expectUnauthenticated(noExp);
  });

  it('a "Bearer "-prefixed header: LiveKit never sends one, and its SDK refuses it too', async () => {
    await expectUnauthenticated(`Bearer ${await sign(raw)}`);
  });

  it("an unsigned (alg none) token", async () => {
    const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const unsigned = `${encode({ alg: "none", typ: "JWT" })}.${encode({ iss: API_KEY, exp: nowSeconds() + 300, sha256: sha256Base64(raw) })}.`;
    await expectUnauthenticated(unsigned);
  });
});

describe("LiveKitWebhookVerifier: a correctly signed body that is not JSON", () => {
  it("is an invalid argument, not a bad signature", async () => {
    const raw = Buffer.from("{not json");
    const err = await rejection(verifier.verify(raw, await sign(raw)));
    expect(err.code).toBe("SW_CALL_INVALID_ARGUMENT");
    expect(err.message).toBe("webhook body is not valid JSON");
  });
});
