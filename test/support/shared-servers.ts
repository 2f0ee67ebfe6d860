import { inject } from "vitest";
import type { LiveKitEndpoint } from "./livekit-server.js";
import { createBucket, type MinioEndpoint } from "./minio-server.js";
import { createDatabase, type PostgresEndpoint } from "./postgres-server.js";

/** The run's livekit-server (test/support/global-setup.ts). */
export interface SharedLiveKit extends LiveKitEndpoint {
  /** Its webhooks go here; subscribe to receive them (`startService(…, { liveKitWebhooks: true })`). */
  readonly webhookHubUrl: string;
}

function provided<K extends "livekit" | "minio" | "postgres">(key: K) {
  const value = inject(key);
  if (value === undefined) {
    throw new Error(`no shared ${key}: this test needs the integration tier's global setup (test/support/global-setup.ts)`);
  }
  return value;
}

/**
 * The livekit-server every test file shares. Room names are unique per call,
 * so calls never meet; its webhooks reach a service only if it subscribes.
 * Tests that must break or reconfigure LiveKit start their own.
 */
export const sharedLiveKit = (): SharedLiveKit => provided("livekit");

/** The MinIO every test file shares: give each test (or service) a bucket of its own. */
export function sharedMinio(): MinioEndpoint & { createBucket(name?: string): Promise<string> } {
  const minio = provided("minio");
  return { ...minio, createBucket: (name?: string) => createBucket(minio, name) };
}

/** The PostgreSQL every test file shares: give each test (or service) a database of its own (`createDatabase()` → its URL). */
export function sharedPostgres(): PostgresEndpoint & { createDatabase(name?: string): Promise<string> } {
  const postgres = provided("postgres");
  return { ...postgres, createDatabase: (name?: string) => createDatabase(postgres, name) };
}
