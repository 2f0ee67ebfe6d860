import { mediaChanged, mediaJoined, mediaLeft, roomFinished, type Call, type Transition } from "../domain/call.js";
import { callIdOfRoom } from "../domain/ids.js";
import type { CallsUseCases } from "./calls.js";
import type { EgressNotice, RecordingsUseCases } from "./recordings.js";
import type { Clock, Logger, Store } from "./ports.js";

/** A LiveKit webhook reduced to what this service acts on (the LiveKit adapter produces it). */
export type LiveKitNotice =
  | { readonly kind: "participant_joined"; readonly room: string; readonly identity: string; readonly sid: string }
  | { readonly kind: "participant_left"; readonly room: string; readonly identity: string; readonly sid: string }
  | {
      readonly kind: "track_changed";
      readonly room: string;
      readonly identity: string;
      readonly media: { readonly audioOn?: boolean; readonly videoOn?: boolean };
    }
  | { readonly kind: "room_finished"; readonly room: string }
  | { readonly kind: "egress"; readonly egress: EgressNotice }
  | { readonly kind: "ignored"; readonly event: string };

export interface VerifiedWebhook {
  /** LiveKit's event id (`EV_…`); a retry resends the same one. */
  readonly id: string;
  /** When LiveKit created the event, Unix ms. */
  readonly createdAt: number;
  readonly notice: LiveKitNotice;
}

export type WebhookOutcome = "processed" | "duplicate" | "ignored";


/** A call a webhook names: enough to check membership and to update it (which reads it in its transaction). */
type CallLocation = { readonly id: string; readonly tenantId: string; readonly roomId: string };

/**
 * Applies LiveKit's webhooks to calls: at least once (deduplicated by event
 * id, in the same transaction as the change), in any order (the domain's
 * media transitions ignore stale reports), and for our rooms only.
 */
export class WebhookIngest {
  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly useCases: CallsUseCases;
      readonly recordings: RecordingsUseCases;
      readonly clock: Clock;
      readonly logger: Logger;
    },
  ) {}

  /** Applies one webhook; the events it causes name `requestId`, the request that delivered it. */
  async ingest(webhook: VerifiedWebhook, requestId?: string): Promise<WebhookOutcome> {
    const { notice } = webhook;
    if (notice.kind === "ignored") return "ignored";
    // Egress events carry no room object, only the egress: recordings handle them.
    if (notice.kind === "egress") return this.deps.recordings.onEgress(webhook.id, notice.egress, requestId);
    const call = await this.callOf(notice.room);
    if (!call) return "ignored";
    const change = await this.changeFor(webhook, call);
    if (!change) return "ignored";
    const applied = await this.deps.useCases.applyReport(call.tenantId, call.id, change, {
      id: webhook.id,
      receivedAt: this.deps.clock.now(),
      requestId,
    });
    return applied.duplicate ? "duplicate" : "processed";
  }

  private async changeFor({ notice, createdAt }: VerifiedWebhook, call: CallLocation): Promise<((c: Call) => Transition) | undefined> {
    const now = this.deps.clock.now();
    switch (notice.kind) {
      case "participant_joined":
        // Only members get tokens from us; anyone else (an egress recorder, an agent) is not a call participant.
        if (!(await this.deps.store.directory.findMember(call.tenantId, call.roomId, notice.identity))) return undefined;
        return (c) => mediaJoined(c, notice.identity, notice.sid, now);
      case "participant_left":
        return (c) => mediaLeft(c, notice.identity, notice.sid, createdAt, now);
      case "track_changed":
        return (c) => mediaChanged(c, notice.identity, notice.media);
      case "room_finished":
        return (c) => roomFinished(c, now);
      default:
        return undefined;
    }
  }

  private async callOf(roomName: string): Promise<CallLocation | undefined> {
    const id = callIdOfRoom(roomName);
    if (id === undefined) return undefined;
    const where = await this.deps.store.calls.locateCall(id);
    return where && { id, ...where };
  }
}
