import { AccessToken } from "livekit-server-sdk";
import type { LiveKitTokens } from "../../app/ports.js";

export interface TokenOptions {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly ttlSeconds: number;
}

/**
 * Mints LiveKit access tokens that grant joining one room and nothing else
 * (no room admin, no recording, no listing). A short TTL is enough: LiveKit
 * only checks the token when connecting and refreshes it for connected
 * participants.
 */
export class LiveKitTokenMinter implements LiveKitTokens {
  constructor(private readonly options: TokenOptions) {}

  async mint(identity: string, roomName: string): Promise<string> {
    const token = new AccessToken(this.options.apiKey, this.options.apiSecret, {
      identity,
      ttl: this.options.ttlSeconds,
    });
    token.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true, canPublishData: true });
    return token.toJwt();
  }
}
