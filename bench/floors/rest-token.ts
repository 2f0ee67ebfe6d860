// Floor (a): the least a REST join can cost on this runtime. A bare node:http
// server that mints the same LiveKit AccessToken the service mints and answers
// the same JSON, with no auth, no store, no events.
// Floor (d), when FLOOR_DB names a SQLite file: the same plus the durability a
// join needs, hand-rolled: per request one transaction (WAL, synchronous=NORMAL,
// as the service) that upserts a participant row and appends an event-sized row.
// Prints "LISTENING <port>".
import { createServer } from "node:http";
import Database from "better-sqlite3";
import { LiveKitTokenMinter } from "../../src/adapters/livekit/tokens.js";

const minter = new LiveKitTokenMinter({
  apiKey: process.env["LIVEKIT_API_KEY"] ?? "devkey",
  apiSecret: process.env["LIVEKIT_API_SECRET"] ?? "secret",
  ttlSeconds: 600,
});
// A real REST join response of the service ({"data": {...}}), so the body has the same size and shape.
const template = (JSON.parse(process.env["FLOOR_JOIN_RESPONSE"] ?? "{}") as { data?: Record<string, unknown> }).data ?? {};
const durableWrite = process.env["FLOOR_DB"] ? openJoinStore(process.env["FLOOR_DB"]) : undefined;

function openJoinStore(path: string): (callId: string, userId: string) => void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS participants (call_id TEXT NOT NULL, user_id TEXT NOT NULL, joined_at INTEGER NOT NULL,
             PRIMARY KEY (call_id, user_id)) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)`);
  const upsert = db.prepare("INSERT INTO participants VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET joined_at = excluded.joined_at");
  const append = db.prepare("INSERT INTO events (payload) VALUES (?)");
  const event = "x".repeat(900); // about the size of a participant_joined envelope
  const join = db.transaction((callId: string, userId: string) => {
    upsert.run(callId, userId, Date.now());
    append.run(event);
  });
  return (callId, userId) => join.immediate(callId, userId);
}

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const callId = req.url?.split("/")[3] ?? "";
    durableWrite?.(callId, req.headers.authorization?.slice(-16) ?? "");
    void minter.mint("floor-user", `scaiwave-${callId}`).then((token) => {
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
