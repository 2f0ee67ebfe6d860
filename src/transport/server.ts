import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import type { NodeRequest, NodeResponse } from "./http-types.js";

/** Every HTTP/2 connection without TLS (h2c, "prior knowledge") opens with this preface (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface CallsServer extends AsyncDisposable {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting connections, lets in-flight requests finish, then closes idle connections. */
  close(graceMs?: number): Promise<void>;
}

/**
 * One TCP port for HTTP/1.1 and cleartext HTTP/2. Node's h2c server cannot
 * also speak HTTP/1.1, so each new connection's first bytes are sniffed: the
 * HTTP/2 preface goes to the HTTP/2 server (gRPC, Connect over h2, gRPC-web),
 * anything else to the HTTP/1.1 server (REST, Connect, gRPC-web, health).
 * The returned server is not listening yet.
 */
export function createCallsServer(handler: (req: NodeRequest, res: NodeResponse) => void): CallsServer {
  // Node tracks idle HTTP/1.1 connections only for servers that listen
  // themselves; these two never do, so idleness is tracked here.
  const h1Busy = new Map<Socket, number>();
  /**
   * Idle connections closed by shutdown. A request that crossed the close on
   * the wire is dropped unprocessed: its answer could not be sent, and the
   * client, seeing the connection close, may safely send it elsewhere.
   */
  const closedIdle = new WeakSet<Socket>();
  let closing = false;
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const socket = req.socket;
    if (closedIdle.has(socket)) {
      socket.destroy();
      return;
    }
    h1Busy.set(socket, (h1Busy.get(socket) ?? 0) + 1);
    if (closing) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (h1Busy.get(socket) ?? 1) - 1;
      h1Busy.set(socket, left);
      if (closing && left === 0) socket.end();
    });
    handler(req, res);
  });
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<Socket>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
  });

  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      h1Busy.delete(socket);
    });
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const n = Math.min(first.length, HTTP2_PREFACE.length);
      const isHttp2 = first.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (!isHttp2) h1Busy.set(socket, 0);
      (isHttp2 ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });

  const close = async (graceMs = 10_000): Promise<void> => {
    if (!tcp.listening) return;
    closing = true;
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    // HTTP/2 sessions get GOAWAY and end after their open streams; idle
    // HTTP/1.1 connections close now, busy ones after their response.
    for (const session of h2Sessions) session.close();
    const closeIdle = (socket: Socket) => {
      closedIdle.add(socket);
      socket.end();
    };
    for (const [socket, busy] of h1Busy) if (busy === 0) closeIdle(socket);
    // Connections that have not sent a byte yet are idle too.
    for (const socket of sockets) if (!h1Busy.has(socket) && !socket.destroyed && socket.bytesRead === 0) closeIdle(socket);
    const deadline = Date.now() + graceMs;
    while (sockets.size > 0 && Date.now() < deadline) await delay(20);
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          resolve(tcp.address() as AddressInfo);
        });
      }),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
