import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { freePort } from "../support/ports.js";
import {
  httpReady,
  logReady,
  onFreePorts,
  portReady,
  ProcessStartError,
  startProcess,
  type ProcessOptions,
} from "../support/process-fixture.js";

// The helper every server fixture runs its program with, against small Node programs.

const dir = mkdtempSync(join(tmpdir(), "process-fixture-"));
let logs = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Node program (`script`) as the fixture would run a server. */
const node = (script: string, opts: Partial<ProcessOptions> = {}) =>
  startProcess({
    name: "test-program",
    command: process.execPath,
    args: ["-e", script],
    logPath: join(dir, `${++logs}.log`),
    ready: logReady(/^ready$/),
    ...opts,
  });

/** Keeps a program alive until it is signalled. */
const STAY = "setInterval(() => {}, 1000);";

async function startFailure(start: Promise<unknown>): Promise<ProcessStartError> {
  const err = await start.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProcessStartError);
  return err as ProcessStartError;
}

describe("startProcess", () => {
  it("is ready once the program logs the line; stop() ends it with SIGTERM and is idempotent", async () => {
    const run = await node(`console.log("starting"); setTimeout(() => console.log("ready"), 100); ${STAY}`);
    expect(await run.logTail()).toBe("starting\nready");
    await Promise.all([run.stop(), run.stop()]);
    expect(await run.exited).toMatchObject({ code: null, signal: "SIGTERM" });
  });

  it("is ready once a port accepts connections, or an HTTP probe answers 2xx", async () => {
    const port = await freePort();
    const listen = (body: string) =>
      `setTimeout(() => require("node:http").createServer((q, s) => s.end(${body})).listen(${port}, "127.0.0.1"), 100);`;
    const tcp = await node(listen('"hi"'), { ready: portReady(port) });
    await tcp.stop();
    const http = await node(listen('"ok"'), { ready: httpReady(`http://127.0.0.1:${port}/`) });
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
    await http[Symbol.asyncDispose]();
    expect((await http.exited).signal).toBe("SIGTERM");
  });

  it("a program that exits during startup: the error names it, how it ended, and its log tail", async () => {
    const err = await startFailure(node(`console.error("config is broken"); process.exit(3);`));
    expect(err.message).toMatch(/^test-program: exited during startup \(code 3, signal null\); log tail:\nconfig is broken$/);
    expect(err.log).toBe("config is broken");
    expect(err.portTaken).toBe(false);
  });

  it("a program that never gets ready is stopped after the start timeout, with its log tail", async () => {
    const err = await startFailure(
      node(`console.log(process.pid); console.log("waiting for nothing"); ${STAY}`, {
        startTimeoutMs: 300,
        // Never ready; the first check holds until the program has logged, so the tail is there to see.
        ready: async ({ log }) => {
          await vi.waitFor(async () => expect(await log()).toContain("waiting for nothing"), { timeout: 20_000 });
          return false;
        },
      }),
    );
    expect(err.message).toMatch(/^test-program: not ready after 300 ms; log tail:\n\d+\nwaiting for nothing$/);
    const pid = Number(err.log.split("\n")[0]);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("a readiness check that throws aborts the start, and the program is stopped", async () => {
    const err = await startFailure(
      node(`console.log(process.pid); console.log("listening on the wrong interface"); ${STAY}`, {
        ready: async ({ log }) => {
          if ((await log()).includes("wrong interface")) throw new Error("not on 127.0.0.1");
          return false;
        },
      }),
    );
    expect(err.message).toMatch(/^test-program: not on 127\.0\.0\.1; log tail:\n\d+\nlistening on the wrong interface$/);
    const pid = Number(err.log.split("\n")[0]);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("SIGKILLs a program that ignores the stop signals", async () => {
    const run = await node(`process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); ${STAY}`, {
      stopSignals: [{ signal: "SIGTERM", waitMs: 300 }],
    });
    await run.stop();
    expect(await run.exited).toMatchObject({ signal: "SIGKILL" });
    expect(await run.logTail()).toBe("ready\nignoring SIGTERM");
  });

  it("appends each run to a shared log; a run's tail is its own", async () => {
    const logPath = join(dir, "shared.log");
    const first = await node(`console.log("first"); console.log("ready"); ${STAY}`, { logPath });
    await first.stop();
    const second = await node(`console.log("second"); console.log("ready"); ${STAY}`, { logPath });
    expect(await second.logTail()).toBe("second\nready");
    await second.stop();
  });
});

describe("onFreePorts", () => {
  it("tries again on other ports when the program reports its port taken; other failures are final", async () => {
    const tried: number[][] = [];
    const result = await onFreePorts(2, async (ports) => {
      tried.push(ports);
      if (tried.length === 1) await node(`console.error("listen tcp: bind: address already in use"); process.exit(1);`);
      return "started";
    });
    expect(result).toBe("started");
    expect(tried).toHaveLength(2);
    expect(tried[1]).not.toEqual(tried[0]);

    let calls = 0;
    const other = onFreePorts(1, async () => {
      calls++;
      await node(`process.exit(1);`);
    });
    expect((await startFailure(other)).portTaken).toBe(false);
    expect(calls).toBe(1);
  });
});
