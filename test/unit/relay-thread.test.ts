import { describe, expect, it } from "vitest";
import type { RelayWorkerData } from "../../src/composition/relay-messages.js";
import { RelayThread } from "../../src/composition/relay-thread.js";

/** What the request thread sees of a relay thread that cannot run: logged, restarted, never "publishing". */

function recordingLogger() {
  const lines: { level: string; msg: string; fields: object }[] = [];
  const log = (level: string) => (fields: object, msg: string) => void lines.push({ level, msg, fields });
  return { lines, logger: { info: log("info"), warn: log("warn"), error: log("error") } };
}

describe("RelayThread", () => {
  it("logs a relay thread that dies, starts it again, and stops cleanly while restarting", async () => {
    const { lines, logger } = recordingLogger();
    const broken = {
      nats: { servers: ["nats://127.0.0.1:1"], streams: [], publishTimeoutMs: 100 },
      store: { kind: "neither" },
    } as unknown as RelayWorkerData;
    const relay = new RelayThread({ data: broken, outbox: undefined, logger, restartDelayMs: 10 });
    relay.start();
    const restarts = () => lines.filter((l) => l.msg.includes("exited; starting it again")).length;
    await expect.poll(restarts, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const failures = lines.filter((l) => l.level === "error" && l.msg === "the outbox relay thread failed");
    expect(failures.map((l) => String((l.fields as { err?: Error }).err?.message))).toContain('relay-worker: unknown store kind "neither"');
    expect(relay.role()).not.toBe("publishing");
    expect(relay.publisherStatus().connected).toBe(false);

    await relay.stop(0);
    expect(relay.role()).toBe("stopped");
    // Stopped means stopped: the pending restart is cancelled, and starting again does nothing.
    relay.start();
    expect(relay.role()).toBe("stopped");
  });
});
