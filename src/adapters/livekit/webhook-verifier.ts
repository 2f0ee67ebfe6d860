import { EgressStatus, WebhookReceiver, type EgressInfo, type WebhookEvent } from "livekit-server-sdk";
import type { EgressNotice } from "../../app/recordings.js";
import type { LiveKitNotice, VerifiedWebhook } from "../../app/webhooks.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { isCamera, isMicrophone } from "./media-state.js";

/**
 * Verifies a webhook exactly as LiveKit signs it: the `Authorization` header
 * is a JWT (no "Bearer") from the configured API key whose `sha256` claim is
 * the base64 SHA-256 of the body as received. Anything else is
 * SW_CALL_UNAUTHENTICATED; the reason is kept as `cause` for the log.
 */
export class LiveKitWebhookVerifier {
  private readonly receiver: WebhookReceiver;

  constructor(apiKey: string, apiSecret: string) {
    this.receiver = new WebhookReceiver(apiKey, apiSecret);
  }

  async verify(rawBody: Buffer, authorization: string | undefined): Promise<VerifiedWebhook> {
    let event: WebhookEvent;
    try {
      // The SDK hashes the string's UTF-8 bytes: identical to the raw bytes for
      // the UTF-8 JSON LiveKit sends; any other bytes fail the checksum.
      event = await this.receiver.receive(rawBody.toString("utf8"), authorization ?? "");
    } catch (cause) {
      // The SDK parses only after the signature and checksum passed.
      if (cause instanceof SyntaxError) {
        throw new CallError(CallErrorCode.InvalidArgument, "webhook body is not valid JSON", { cause });
      }
      throw new CallError(CallErrorCode.Unauthenticated, "webhook signature is missing or invalid", { cause });
    }
    if (!event.id) throw new CallError(CallErrorCode.InvalidArgument, "webhook has no event id");
    return { id: event.id, createdAt: Number(event.createdAt) * 1000, notice: toNotice(event) };
  }
}

function toNotice(event: WebhookEvent): LiveKitNotice {
  const room = event.room?.name ?? "";
  const identity = event.participant?.identity ?? "";
  const sid = event.participant?.sid ?? "";
  switch (event.event) {
    case "participant_joined":
      return { kind: "participant_joined", room, identity, sid };
    case "participant_left":
    case "participant_connection_aborted":
      return { kind: "participant_left", room, identity, sid };
    case "track_published":
    case "track_unpublished": {
      const track = event.track;
      const on = event.event === "track_published" && !track?.muted;
      if (!track) return { kind: "ignored", event: event.event };
      if (isMicrophone(track)) return { kind: "track_changed", room, identity, media: { audioOn: on } };
      if (isCamera(track)) return { kind: "track_changed", room, identity, media: { videoOn: on } };
      return { kind: "ignored", event: event.event };
    }
    case "room_finished":
      return { kind: "room_finished", room };
    case "egress_started":
    case "egress_updated":
    case "egress_ended":
      return event.egressInfo ? { kind: "egress", egress: egressNotice(event.egressInfo) } : { kind: "ignored", event: event.event };
    default:
      return { kind: "ignored", event: event.event };
  }
}

const EGRESS_STATUS: Record<EgressStatus, EgressNotice["status"]> = {
  [EgressStatus.EGRESS_STARTING]: "starting",
  [EgressStatus.EGRESS_ACTIVE]: "active",
  [EgressStatus.EGRESS_ENDING]: "ending",
  [EgressStatus.EGRESS_COMPLETE]: "complete",
  [EgressStatus.EGRESS_FAILED]: "failed",
  [EgressStatus.EGRESS_ABORTED]: "aborted",
  [EgressStatus.EGRESS_LIMIT_REACHED]: "limit_reached",
};

/** Times and durations in LiveKit's FileInfo are nanoseconds (int64). */
function egressNotice(info: EgressInfo): EgressNotice {
  const file = info.fileResults[0];
  return {
    egressId: info.egressId,
    roomName: info.roomName,
    status: EGRESS_STATUS[info.status] ?? "starting",
    error: info.error,
    file: file && {
      durationNs: Number(file.duration),
      startedAtNs: Number(file.startedAt),
      endedAtNs: Number(file.endedAt),
    },
  };
}
