import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedWebhook {
  readonly body: string;
  readonly authorization: string;
  readonly event: string;
}

/** An HTTP endpoint that records LiveKit's real, signed webhooks verbatim (for replaying them later). */
export async function startWebhookRecorder(): Promise<{
  url: string;
  recorded: RecordedWebhook[];
  waitFor(match: (w: RecordedWebhook) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}> {
  const recorded: RecordedWebhook[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      recorded.push({ body, authorization: req.headers.authorization ?? "", event: (JSON.parse(body) as { event: string }).event });
      res.end();
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    recorded,
    waitFor: (match, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!recorded.some(match)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching webhook within ${timeoutMs} ms; got ${recorded.map((r) => r.event).join(", ")}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
