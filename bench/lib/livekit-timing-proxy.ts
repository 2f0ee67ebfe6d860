import { once } from "node:events";
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One LiveKit API call that went through the proxy. */
export interface LiveKitCall {
  /** e.g. /twirp/livekit.RoomService/CreateRoom */
  readonly path: string;
  /** CreateRoom only: the room it asked for (the service names it `scaiwave-<call_id>`). */
  readonly roomName?: string;
  readonly status: number;
  /** livekit-server's answer: request sent upstream → whole response read back, ms. */
  readonly upstreamMs: number;
  /** The proxy's own share: request received → response written, minus upstreamMs. */
  readonly proxyMs: number;
}

/**
 * A pass-through HTTP proxy in front of livekit-server's API that times every
 * call, so the bench can pair each initiate with its own CreateRoom. The
 * service needs nothing but LIVEKIT_API_URL pointing here, which any checkout
 * accepts. Both bodies are small JSON (Twirp), so they are buffered whole.
 */
export interface LiveKitTimingProxy {
  /** http://127.0.0.1:<port>: the service's LIVEKIT_API_URL. */
  readonly url: string;
  /** The calls since the last take, oldest first; the proxy forgets them. */
  take(): LiveKitCall[];
  stop(): Promise<void>;
}

export const CREATE_ROOM_PATH = "/twirp/livekit.RoomService/CreateRoom";

// Hop-by-hop headers belong to one connection, not to the request being forwarded.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"]);

function endToEnd(headers: IncomingHttpHeaders, body: Buffer): IncomingHttpHeaders {
  const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
  return { ...kept, "content-length": String(body.length) };
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function roomNameOf(body: Buffer): string | undefined {
  try {
    const name = (JSON.parse(body.toString("utf8")) as { name?: unknown }).name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined; // not JSON (a protobuf Twirp client): unpaired, and the bench says so
  }
}

export async function startLiveKitTimingProxy(upstreamUrl: string): Promise<LiveKitTimingProxy> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true });
  let calls: LiveKitCall[] = [];

  // Times one call: upstream from sending the request to reading the whole answer.
  const forward = async (req: IncomingMessage) => {
    const body = await readAll(req);
    const sent = performance.now();
    const upstreamRequest = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: endToEnd(req.headers, body), agent });
    upstreamRequest.end(body);
    const [response] = (await once(upstreamRequest, "response")) as [IncomingMessage];
    const answer = await readAll(response);
    return { body, upstreamMs: performance.now() - sent, status: response.statusCode ?? 502, headers: endToEnd(response.headers, answer), answer };
  };

  const server = createServer((req, res) => {
    const received = performance.now();
    forward(req).then(
      (f) => {
        res.once("finish", () => {
          const path = req.url ?? "";
          const roomName = path === CREATE_ROOM_PATH ? roomNameOf(f.body) : undefined;
          const proxyMs = performance.now() - received - f.upstreamMs;
          calls.push({ path, ...(roomName !== undefined && { roomName }), status: f.status, upstreamMs: f.upstreamMs, proxyMs });
        });
        res.writeHead(f.status, f.headers).end(f.answer);
      },
      (err: unknown) => res.writeHead(502, { "content-type": "text/plain" }).end(`timing proxy: ${String(err)}`),
    );
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take() {
      const taken = calls;
      calls = [];
      return taken;
    },
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
      agent.destroy();
    },
  };
}
