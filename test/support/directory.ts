import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DirectoryService } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { internalToken } from "./tokens.js";

let counter = 0;

/** Seeds rooms through the service's own DirectoryService, as ScaiWave's rooms would (at its URL, or over a transport). */
export function directoryClient(service: string | Transport) {
  const transport = typeof service === "string" ? createConnectTransport({ baseUrl: service, httpVersion: "1.1" }) : service;
  const client = createClient(DirectoryService, transport);
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
