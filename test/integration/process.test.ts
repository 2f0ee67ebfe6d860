import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_JWT_SECRET } from "../support/tokens.js";

/** The real entry point (`src/main.ts`) as an operator runs it: config errors, start-up, SIGTERM. */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(env: Record<string, string>) {
  // Only the variables given: nothing leaks in from the developer's shell.
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on("line", (l) => stderr.push(l));
  return { child, stderr };
}

describe("the service process", () => {
  it("refuses to start on bad config: one clear line per bad variable, exit 2, no secret printed", async () => {
    const { child, stderr } = run({
      PORT: "eighty",
      AUTH_JWT_SECRET: "short-secret-value",
      LIVEKIT_URL: "http://livekit.example",
      LIVEKIT_TOKEN_TTL_SECONDS: "5",
    });
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(stderr).toEqual([
      'config error: PORT: must be an integer from 0 to 65535 (got "eighty")',
      "config error: AUTH_JWT_SECRET: must be at least 32 bytes (HS256)",
      'config error: LIVEKIT_URL: must be a ws:// or wss:// URL (got "http://livekit.example")',
      "config error: LIVEKIT_API_KEY: required (the API key LiveKit knows this service by)",
      "config error: LIVEKIT_API_SECRET: required (the secret of LIVEKIT_API_KEY)",
      'config error: LIVEKIT_TOKEN_TTL_SECONDS: must be an integer from 30 to 86400 (got "5")',
    ]);
    expect(stderr.join("\n")).not.toContain("short-secret-value");
  });

  it("starts, serves health, and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaiwave-calls-proc-"));
    dirs.push(dir);
    const { child } = run({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_PATH: join(dir, "calls.db"),
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      LIVEKIT_URL: "ws://127.0.0.1:1",
      LIVEKIT_API_KEY: "key",
      LIVEKIT_API_SECRET: "secret-secret-secret-secret-secret",
    });
    const lines = createInterface({ input: child.stdout });
    let address = "";
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; address?: string };
      if (entry.msg.startsWith("scaiwave-calls listening")) {
        address = entry.address ?? "";
        break;
      }
    }
    const port = address.split(":").at(-1);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(0);
  });
});
