import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { OUTBOX_CHANNEL, OUTBOX_ORDER_LOCK_KEY } from "../../src/adapters/postgres/outbox.js";
import { startNatsServer } from "../support/nats-server.js";
import { startService } from "../support/service.js";
import { sharedLiveKit, sharedPostgres } from "../support/shared-servers.js";
import { readStream } from "../support/stream-reader.js";

/**
 * The outbox relay runs in a thread of its own: publishing never waits for
 * the thread that answers requests, however busy that one is. Its poll for
 * events is set an hour away (OUTBOX_POLL_MS), so each event here goes out
 * only because its commit woke the relay: a NOTIFY from another instance on
 * PostgreSQL, the request thread's kick after its own commit on SQLite.
 */
const NO_POLL = { OUTBOX_POLL_MS: String(60 * 60 * 1000) };

const livekit = sharedLiveKit();
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Another instance, as far as this service can tell: it commits one event
 * the way every outbox writer does (order lock, insert, NOTIFY delivered at
 * COMMIT) when told `go`, then watches for the relay to mark it sent and says
 * so by creating the file MARKER.
 */
const OTHER_INSTANCE = `
import pg from "pg";
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
console.log("ready");
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== "go") continue;
  const id = "evt-from-another-instance";
  const payload = JSON.stringify({ id, type: "swp.call.ended", ts: new Date().toISOString(), tenant_id: "t", room_id: "r", call_id: "call-x", data: {}, request_id: null });
  await client.query("BEGIN");
  await client.query("SELECT pg_advisory_xact_lock(${OUTBOX_ORDER_LOCK_KEY})");
  await client.query("INSERT INTO outbox (id, subject, payload, created_at) VALUES ($1, 'swp.room.r.call', $2, $3)", [id, payload, Date.now()]);
  await client.query("SELECT pg_notify('${OUTBOX_CHANNEL}', '')");
  await client.query("COMMIT");
  for (;;) {
    const { rows } = await client.query("SELECT sent_at FROM outbox WHERE id = $1", [id]);
    if (rows[0]?.sent_at != null) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  writeFileSync(process.env.MARKER, "sent");
  break;
}
await client.end();
`;

/**
 * Watches NATS for the event `EVENT_ID` and creates the file MARKER when it
 * arrives: the test's own thread (the service's request thread) is blocked
 * meanwhile, so someone else has to look.
 */
const WATCHER = `
import { connect } from "nats";
import { writeFileSync } from "node:fs";
const nc = await connect({ servers: process.env.NATS_URL });
const sub = nc.subscribe("swp.>");
await nc.flush();
console.log("ready");
for await (const msg of sub) {
  if (msg.headers?.get("Nats-Msg-Id") === process.env.EVENT_ID) break;
}
writeFileSync(process.env.MARKER, "published");
await nc.close();
`;

describe("the outbox relay thread", () => {
  it("PostgreSQL: publishes and marks sent an event while the request thread is blocked the whole time", async () => {
    await using nats = await startNatsServer();
    const databaseUrl = await sharedPostgres().createDatabase();
    const service = await startService(livekit, { NATS_URL: nats.url, DATABASE_URL: databaseUrl, ...NO_POLL });
    const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-relay-thread-"));
    dirs.push(dir);
    const marker = join(dir, "sent");
    const other = spawn(process.execPath, ["--input-type=module", "-e", OTHER_INSTANCE], {
      cwd: process.cwd(),
      env: { ...process.env, DATABASE_URL: databaseUrl, MARKER: marker },
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      await expect.poll(() => service.app.relay.role(), { timeout: 30_000 }).toBe("publishing");
      await expect.poll(() => service.app.relay.publisherStatus().streamReady, { timeout: 30_000 }).toBe(true);
      const lines = createInterface({ input: other.stdout });
      for await (const line of lines) if (line === "ready") break;

      other.stdin.write("go\n");
      // From here until the relay has marked the event sent, this thread (the service's request thread: the
      // service runs in this process) runs nothing else: no timer, no promise, no I/O callback.
      const blockedSince = Date.now();
      while (!existsSync(marker)) {
        if (Date.now() - blockedSince > 120_000) throw new Error("the event was not marked sent within 120 s");
      }

      const stream = await readStream(nats.url, service.app.config.nats.stream);
      expect(stream.map((e) => e.msgId)).toContain("evt-from-another-instance");
    } finally {
      other.kill();
      await service.stop();
    }
  });
  it("SQLite: publishes an event while the request thread is blocked the whole time, and marks it once it is free", async () => {
    await using nats = await startNatsServer();
    const service = await startService(livekit, { NATS_URL: nats.url, DATABASE_URL: "", ...NO_POLL });
    const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-relay-thread-"));
    dirs.push(dir);
    const marker = join(dir, "published");
    const id = "evt-committed-then-blocked";
    const watcher = spawn(process.execPath, ["--input-type=module", "-e", WATCHER], {
      cwd: process.cwd(),
      env: { ...process.env, NATS_URL: nats.url, EVENT_ID: id, MARKER: marker },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      expect(service.app.config.postgres).toBeUndefined();
      await expect.poll(() => service.app.relay.publisherStatus().streamReady, { timeout: 30_000 }).toBe(true);
      for await (const line of createInterface({ input: watcher.stdout })) if (line === "ready") break;

      const payload = JSON.stringify({ id, type: "swp.call.ended", ts: new Date().toISOString(), tenant_id: "t", room_id: "r", call_id: "call-x", data: {}, request_id: null });
      // Resolves once committed; the commit kicked the relay thread.
      await service.app.store.transaction((tx) => tx.outbox.append([{ id, subject: "swp.room.r.call", payload, createdAt: Date.now() }]));
      // From here until the event is in NATS this thread runs nothing else: the relay thread reads the outbox on its own.
      const blockedSince = Date.now();
      while (!existsSync(marker)) {
        if (Date.now() - blockedSince > 120_000) throw new Error("the event was not published within 120 s");
      }
      // Its mark is written by this thread's connection, now that it is free again.
      await expect.poll(async () => (await service.app.outbox.backlog()).pending, { timeout: 30_000 }).toBe(0);
      const stream = await readStream(nats.url, service.app.config.nats.stream);
      expect(stream.filter((e) => e.msgId === id)).toHaveLength(1);
    } finally {
      watcher.kill();
      await service.stop();
    }
  });
});
