// Floor (a): the least a REST join can cost on this runtime. A bare node:http
// server that mints a LiveKit token with the same claims as the service's and
// answers the same JSON, with no auth, no store, no events. It mints with
// livekit-server-sdk's AccessToken, as every round of the aims measured it, so
// the floors stay a fixed yardstick; the service writes the same claims with
// fast-jwt, about 9 µs cheaper (docs/benchmarks.md says what that does to them).
// Floor (d), when FLOOR_DB names a SQLite file: the same plus the durability a
// join needs, hand-rolled (join-store.ts).
// Prints "LISTENING <port>".
import { createServer } from "node:http";
import { sdkJoinToken } from "../lib/signing.js";
import { openJoinStore } from "./join-store.js";

const apiKey = process.env["LIVEKIT_API_KEY"] ?? "devkey";
const apiSecret = process.env["LIVEKIT_API_SECRET"] ?? "secret";
// A real REST join response of the service ({"data": {...}}), so the body has the same size and shape.
const template = (JSON.parse(process.env["FLOOR_JOIN_RESPONSE"] ?? "{}") as { data?: Record<string, unknown> }).data ?? {};
const durableWrite = process.env["FLOOR_DB"] ? openJoinStore(process.env["FLOOR_DB"]) : undefined;

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const callId = req.url?.split("/")[3] ?? "";
    durableWrite?.(callId, req.headers.authorization?.slice(-16) ?? "");
    void sdkJoinToken(apiKey, apiSecret, "floor-user", `scaiwave-${callId}`).then((token) => {
      const body = JSON.stringify({ data: { ...template, call_id: callId, livekit_room: `scaiwave-${callId}`, livekit_token: token } });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(`LISTENING ${typeof address === "object" && address ? address.port : ""}`);
});
