import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DirectoryService } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { internalToken } from "./tokens.js";

let counter = 0;

/** Seeds rooms through the service's own DirectoryService, as ScaiWave's rooms would. */
export function directoryClient(baseUrl: string) {
  const client = createClient(DirectoryService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  const auth = async () => ({ headers: { authorization: `Bearer ${await internalToken()}` } });
  return {
    client,
    /** A fresh room (unique id) with these members; returns its id. */
    async room(members: Record<string, number>, tenantId = "acme"): Promise<string> {
      const roomId = `room-${process.pid}-${++counter}`;
      await client.putRoom(
        { tenantId, roomId, members: Object.entries(members).map(([userId, powerLevel]) => ({ userId, powerLevel })) },
        await auth(),
      );
      return roomId;
    },
    async removeMember(roomId: string, userId: string, tenantId = "acme"): Promise<void> {
      await client.removeMember({ tenantId, roomId, userId }, await auth());
    },
  };
}
