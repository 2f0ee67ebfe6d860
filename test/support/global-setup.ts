import type { TestProject } from "vitest/node";
import { startLiveKitServer, type LiveKitServer } from "./livekit-server.js";
import { startMinioServer, type MinioEndpoint, type MinioServer } from "./minio-server.js";
import { startPostgresServer, type PostgresEndpoint, type PostgresServer } from "./postgres-server.js";
import { startWebhookHub, type WebhookHub } from "./webhook-hub.js";
import type { SharedLiveKit } from "./shared-servers.js";

/**
 * Once per run of the integration and e2e tiers: one livekit-server (its
 * webhooks fanned out by a hub to whichever services subscribe), one MinIO and
 * one PostgreSQL, shared by every test file. Test files reach them with
 * `sharedLiveKit()`, `sharedMinio()` and `sharedPostgres()` (test/support/shared-servers.ts).
 *
 * NATS is not shared: the service's stream subjects are fixed (`swp.>`), two
 * streams in one JetStream account cannot overlap, and the service's NATS_URL
 * carries no account credentials; a nats-server of its own starts in ~40 ms.
 */

declare module "vitest" {
  export interface ProvidedContext {
    livekit: SharedLiveKit;
    minio: MinioEndpoint;
    postgres: PostgresEndpoint;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let hub: WebhookHub | undefined;
  let livekit: LiveKitServer | undefined;
  let minio: MinioServer | undefined;
  let postgres: PostgresServer | undefined;
  const teardown = async () => {
    await Promise.allSettled([livekit?.stop(), minio?.stop(), postgres?.stop()]);
    await hub?.close();
  };
  try {
    hub = await startWebhookHub();
    const started = await Promise.allSettled([
      startLiveKitServer({ webhookUrls: [hub.webhookUrl] }),
      startMinioServer(),
      startPostgresServer(),
    ]);
    livekit = started[0].status === "fulfilled" ? started[0].value : undefined;
    minio = started[1].status === "fulfilled" ? started[1].value : undefined;
    postgres = started[2].status === "fulfilled" ? started[2].value : undefined;
    for (const s of started) if (s.status === "rejected") throw s.reason;
  } catch (err) {
    await teardown();
    throw err;
  }
  const { wsUrl, httpUrl, apiKey, apiSecret } = livekit!;
  project.provide("livekit", { wsUrl, httpUrl, apiKey, apiSecret, webhookHubUrl: hub.url });
  const { endpoint, port, accessKey, secretKey } = minio!;
  project.provide("minio", { endpoint, port, accessKey, secretKey });
  project.provide("postgres", { url: postgres!.url, port: postgres!.port });
  return teardown;
}
