import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/**
 * The one webhook URL of the livekit-server all test files share. livekit-server
 * posts every webhook to a fixed list of URLs from its config, but services come
 * and go on ports of their own: they subscribe here, and the hub forwards each
 * webhook to every subscriber, byte for byte with LiveKit's Authorization (the
 * signature covers the raw body). A service ignores rooms it does not know.
 *
 *   POST   /webhook              LiveKit's deliveries
 *   POST   /subscriptions        {"url": "..."} → 201 {"id": "..."}
 *   DELETE /subscriptions/<id>   → 204
 */
export interface WebhookHub {
  /** Give this to livekit-server as its webhook URL. */
  readonly webhookUrl: string;
  /** Where subscribers register (see {@link subscribeToWebhooks}). */
  readonly url: string;
  close(): Promise<void>;
}

// A subscriber that refuses (5xx, 429) or cannot be reached is retried a few
// times, as LiveKit retries; then the webhook is dropped for it.
const TRIES = 3;
const BACKOFF_MS = 200;
const FORWARD_TIMEOUT_MS = 10_000;

interface Delivery {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

/** One subscriber: its deliveries go out one at a time, in LiveKit's order. */
class Subscriber {
  private queue: Promise<void> = Promise.resolve();
  readonly closed = new AbortController();

  constructor(readonly url: string) {}

  enqueue(delivery: Delivery): void {
    this.queue = this.queue.then(() => this.forward(delivery));
  }

  private async forward({ body, headers }: Delivery): Promise<void> {
    for (let attempt = 1; attempt <= TRIES && !this.closed.signal.aborted; attempt++) {
      try {
        const res = await fetch(this.url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.any([this.closed.signal, AbortSignal.timeout(FORWARD_TIMEOUT_MS)]),
        });
        await res.arrayBuffer();
        if (res.status < 500 && res.status !== 429) return;
      } catch {
        // refused, reset, timed out, or unsubscribed: retried while subscribed
      }
      await delay(BACKOFF_MS * attempt, undefined, { signal: this.closed.signal }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed.abort();
    await this.queue;
  }
}

export async function startWebhookHub(): Promise<WebhookHub> {
  const subscribers = new Map<string, Subscriber>();
  let nextId = 0;

  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const path = (req.url ?? "/").split("?")[0] ?? "/";

      if (req.method === "POST" && path === "/webhook") {
        const headers: Record<string, string> = { "content-type": req.headers["content-type"] ?? "application/webhook+json" };
        if (req.headers.authorization !== undefined) headers["authorization"] = req.headers.authorization;
        for (const s of subscribers.values()) s.enqueue({ body, headers });
        res.writeHead(200).end();
      } else if (req.method === "POST" && path === "/subscriptions") {
        const { url } = JSON.parse(body.toString("utf8")) as { url?: unknown };
        if (typeof url !== "string" || !URL.canParse(url)) {
          res.writeHead(400, { "content-type": "text/plain" }).end("body must be {\"url\": \"http://...\"}");
          return;
        }
        const id = String(++nextId);
        subscribers.set(id, new Subscriber(url));
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id }));
      } else if (req.method === "DELETE" && path.startsWith("/subscriptions/")) {
        const id = path.slice("/subscriptions/".length);
        const s = subscribers.get(id);
        subscribers.delete(id);
        await s?.close();
        res.writeHead(s ? 204 : 404).end();
      } else {
        res.writeHead(404).end();
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain" }).end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    webhookUrl: `${url}/webhook`,
    url,
    close: async () => {
      await Promise.all([...subscribers.values()].map((s) => s.close()));
      subscribers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Receives the shared livekit-server's webhooks at `targetUrl` until unsubscribed. */
export async function subscribeToWebhooks(hubUrl: string, targetUrl: string): Promise<{ unsubscribe(): Promise<void> }> {
  const res = await fetch(`${hubUrl}/subscriptions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ url: targetUrl }),
  });
  if (res.status !== 201) throw new Error(`webhook hub refused the subscription (${res.status}): ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  let done: Promise<void> | undefined;
  return {
    unsubscribe: () =>
      (done ??= (async () => {
        await (await fetch(`${hubUrl}/subscriptions/${id}`, { method: "DELETE" })).arrayBuffer();
      })()),
  };
}
