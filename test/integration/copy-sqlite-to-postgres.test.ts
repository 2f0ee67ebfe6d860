import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { SqliteStore } from "../../src/adapters/sqlite/store.js";
import { restApi, type ApiCall } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService } from "../support/service.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { queryStore } from "../support/store-reader.js";
import { internalToken, userToken } from "../support/tokens.js";
import { postWebhook, signWebhook, webhookBody } from "../support/webhook-signer.js";

/**
 * Moving a deployment: the documented command copies a SQLite database the
 * service filled into an empty PostgreSQL database, verifies the counts, and
 * a service on PostgreSQL then shows the same calls.
 */

const run = promisify(execFile);
const livekit = sharedLiveKit();
const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-copy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The command as operators run it (from source here; `npm run db:copy-to-postgres` runs the build). */
const copy = (from: string, to: string) =>
  run("npx", ["--no-install", "tsx", "src/tools/copy-sqlite-to-postgres.ts", "--from", from, "--to", to], { cwd: process.cwd() });

describe("copying a SQLite database into PostgreSQL", () => {
  it("copies everything, verifies the counts, refuses a non-empty target, and the calls read the same on PostgreSQL", async () => {
    const sqlitePath = join(dir, "calls.db");
    // NATS is away: the events wait in the outbox, and must move with the rest.
    const before = await startService(livekit, { DATABASE_PATH: sqlitePath, NATS_URL: "nats://127.0.0.1:1" });
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    const api = restApi(before.baseUrl);
    const callIds: string[] = [];
    const states = new Map<string, ApiCall>();
    let webhook = { body: "", authorization: "" };
    try {
      const directory = directoryClient(before.baseUrl);
      await directory.client.putTenantPolicy(
        { tenantId: "acme", policy: { recordingsEnabled: true, transcriptionEnabled: true } },
        { headers: { authorization: `Bearer ${await internalToken()}` } },
      );
      for (let i = 0; i < 3; i++) {
        const roomId = await directory.room({ alice: 100, bob: 0, carol: 0 });
        const { call_id } = await api.initiate(alice, roomId, i === 2 ? "video" : "audio");
        callIds.push(call_id);
        if (i >= 1) await api.join(bob, call_id);
        if (i === 1) await api.end(alice, call_id);
      }
      // A webhook LiveKit sent (its id must stay known, so a retry after the move changes nothing).
      const body = webhookBody({ event: "participant_joined", room: { name: `scaiwave-${callIds[2]}` }, participant: { identity: "bob", sid: "PA_bob" } });
      webhook = { body, authorization: await signWebhook(body, livekit.apiKey, livekit.apiSecret) };
      expect(await postWebhook(before.baseUrl, webhook.body, webhook.authorization)).toMatchObject({ status: 200, json: { data: { outcome: "processed" } } });
      for (const id of callIds) states.set(id, await api.get(alice, id));
    } finally {
      await before.stop();
    }
    // A finished recording with its media entry and a pending transcript, as the store keeps them.
    const db = openDatabase(sqlitePath);
    const store = new SqliteStore(db, { now: () => Date.now() });
    const recording = {
      id: "rec-copied",
      callId: callIds[1]!,
      tenantId: "acme",
      roomId: states.get(callIds[1]!)!.room_id,
      status: "starting" as const,
      audio: true,
      video: false,
      transcript: true,
      egressId: "EG_copied",
      fileKey: `recordings/${callIds[1]}/x.mp4`,
      requestedBy: "alice",
      startedAt: 1_700_000_000_000,
      endedAt: null,
      error: null,
      stopDeadline: 1_700_003_600_000,
      media: null,
    };
    await store.transaction(async (tx) => {
      await tx.recordings.insert(recording);
      const ready = {
        ...recording,
        status: "ready" as const,
        endedAt: 1_700_000_060_000,
        media: { id: "media-copied", bucket: "recordings", key: recording.fileKey, mimeType: "audio/mp4", sizeBytes: 1234, durationMs: 60_000, startedAt: 1_700_000_000_000, endedAt: 1_700_000_060_000 },
      };
      await tx.recordings.save(recording, ready);
      await tx.transcripts.createPending(ready, 1_700_000_060_000);
    });
    db.close();

    const url = await sharedPostgres().createDatabase();
    const { stdout } = await copy(sqlitePath, url);
    expect(stdout).toContain("copied; every count matches");
    const counts = Object.fromEntries(
      stdout
        .split("\n")
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .filter((cols) => cols.length === 3)
        .map(([table, sqlite, postgres]) => [table, { sqlite: Number(sqlite), postgres: Number(postgres) }]),
    );
    for (const table of ["tenant_policies", "rooms", "room_members", "calls", "call_participants", "call_invitees", "call_parties", "webhook_events", "recordings", "media", "transcripts", "outbox"]) {
      expect(counts[table]?.sqlite, table).toBeGreaterThan(0);
      expect(counts[table]?.postgres, table).toBe(counts[table]?.sqlite);
    }
    const unsent = await queryStore<{ id: string }>({ DATABASE_PATH: sqlitePath }, "SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY seq");
    const moved = await queryStore<{ id: string }>({ DATABASE_PATH: "", DATABASE_URL: url }, "SELECT id FROM outbox ORDER BY seq");
    expect(moved.map((e) => e.id)).toEqual(unsent.map((e) => e.id));

    // A second run would duplicate: refused, nothing written.
    const again = await copy(sqlitePath, url).then(
      () => "exit 0",
      (err: { code?: number; stderr?: string }) => `exit ${err.code}: ${err.stderr?.trim()}`,
    );
    expect(again).toMatch(/^exit 1: copy failed: the PostgreSQL database is not empty/);

    const after = await startService(livekit, { DATABASE_URL: url, NATS_URL: "nats://127.0.0.1:1" });
    try {
      for (const id of callIds) {
        const moved = await restApi(after.baseUrl).get(alice, id);
        if (id !== recording.callId) {
          expect(moved, id).toEqual(states.get(id));
          continue;
        }
        // The recording was added to the file after the service stopped: it moved too.
        expect(moved).toEqual({
          ...states.get(id),
          recordings: [
            expect.objectContaining({
              id: "rec-copied",
              status: "ready",
              media: expect.objectContaining({ media_id: "media-copied", size_bytes: 1234 }) as unknown,
              transcription: expect.objectContaining({ status: "pending" }) as unknown,
            }),
          ],
        });
      }
      // The webhook id came along: LiveKit's retry of it changes nothing.
      expect(await postWebhook(after.baseUrl, webhook.body, webhook.authorization)).toMatchObject({ status: 200, json: { data: { outcome: "duplicate" } } });
    } finally {
      await after.stop();
    }
  });
});
