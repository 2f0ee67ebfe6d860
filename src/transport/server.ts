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
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, handler);
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<Socket>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
  });

  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const n = Math.min(first.length, HTTP2_PREFACE.length);
      const isHttp2 = first.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      (isHttp2 ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });

  const close = async (graceMs = 10_000): Promise<void> => {
    if (!tcp.listening) return;
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    // HTTP/2 sessions get GOAWAY and end after their open streams; HTTP/1.1
    // keep-alive connections are closed as soon as they are idle.
    for (const session of h2Sessions) session.close();
    const deadline = Date.now() + graceMs;
    while (sockets.size > 0 && Date.now() < deadline) {
      h1.closeIdleConnections();
      await delay(25);
    }
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
