// Floor (b): a trivial unary RPC (no auth, no store) through connect-node's
// protocol layer, over HTTP/1.1 like the Connect scenarios. It reuses GetCall's
// messages and echoes the id back. Prints "LISTENING <port>".
import { createServer } from "node:http";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { CallsService } from "../../gen/scaiwave/calls/v1/calls_pb.js";

const server = createServer(
  connectNodeAdapter({
    routes: (router) => {
      router.rpc(CallsService.method.getCall, (req) => ({ call: { id: req.callId } }));
    },
  }),
);
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(`LISTENING ${typeof address === "object" && address ? address.port : ""}`);
});
