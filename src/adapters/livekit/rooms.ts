import { RoomServiceClient } from "livekit-server-sdk";
import type { LiveKitParticipant, LiveKitRooms } from "../../app/ports.js";
import { isCamera, isMicrophone, mediaStateOf } from "./media-state.js";
import type { CallError } from "../../domain/errors.js";
import { liveKitFailure } from "./failures.js";

export interface LiveKitRoomsOptions {
  /** LiveKit's server API, http(s)://… */
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Per request; a call must fail with SW_CALL_LIVEKIT_UNREACHABLE well before a client gives up. */
  readonly requestTimeoutMs: number;
  /** Seconds a room stays open before anyone joins (covers ringing). */
  readonly emptyTimeoutSeconds: number;
  /** Seconds a room stays open after the last participant left (grace for reconnects). */
  readonly departureTimeoutSeconds: number;
}

/** LiveKit's RoomService over Twirp; every failure becomes a CallError here (see liveKitFailure). */
export class LiveKitRoomService implements LiveKitRooms {
  private readonly client: RoomServiceClient;

  constructor(private readonly options: LiveKitRoomsOptions) {
    this.client = new RoomServiceClient(options.apiUrl, options.apiKey, options.apiSecret, {
      requestTimeout: options.requestTimeoutMs / 1000,
      failover: false,
    });
  }

  async createRoom(name: string): Promise<void> {
    try {
      await this.client.createRoom({
        name,
        emptyTimeout: this.options.emptyTimeoutSeconds,
        departureTimeout: this.options.departureTimeoutSeconds,
      });
    } catch (err) {
      throw failure("create", name, err);
    }
  }

  /** A cheap authenticated round trip, for readiness. */
  async ping(): Promise<void> {
    try {
      await this.client.listRooms(["scaiwave-readiness-probe"]);
    } catch (err) {
      throw failure("answer", "listing", err);
    }
  }

  async listRoomNames(): Promise<Set<string>> {
    try {
      return new Set((await this.client.listRooms()).map((r) => r.name));
    } catch (err) {
      throw failure("list", "rooms", err);
    }
  }

  async listParticipants(roomName: string): Promise<LiveKitParticipant[]> {
    try {
      const participants = await this.client.listParticipants(roomName);
      return participants.map((p) => ({ identity: p.identity, sid: p.sid, ...mediaStateOf(p.tracks) }));
    } catch (err) {
      if (statusOf(err) === 404) return [];
      throw failure("list participants of", roomName, err);
    }
  }

  async muteParticipant(roomName: string, identity: string, what: { audio: boolean; video: boolean }): Promise<void> {
    try {
      const participant = await this.client.getParticipant(roomName, identity);
      const targets = participant.tracks.filter((t) => !t.muted && ((what.audio && isMicrophone(t)) || (what.video && isCamera(t))));
      for (const track of targets) await this.client.mutePublishedTrack(roomName, identity, track.sid, true);
    } catch (err) {
      if (statusOf(err) === 404) return; // not connected: nothing published to mute
      throw failure("mute a participant in", roomName, err);
    }
  }

  async removeParticipant(roomName: string, identity: string): Promise<void> {
    try {
      await this.client.removeParticipant(roomName, identity);
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw failure("remove a participant from", roomName, err);
    }
  }

  async deleteRoom(name: string): Promise<void> {
    try {
      await this.client.deleteRoom(name);
    } catch (err) {
      // LiveKit answers 404 for a room it does not have (closed on its own, or never joined).
      if (statusOf(err) === 404) return;
      throw failure("delete", name, err);
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

function failure(action: string, room: string, cause: unknown): CallError {
  return liveKitFailure(cause, `LiveKit did not ${action} room ${room}; try again shortly`);
}
