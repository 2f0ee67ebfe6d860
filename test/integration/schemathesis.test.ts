import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * Schemathesis, the OpenAPI fuzzer, against the real service's /openapi.json
 * with every check on: a request the document calls valid must not be refused
 * as invalid, one it calls invalid must be refused, and every answer (status,
 * content type, body) must be one the document lists. Its stateful phase
 * follows the document's links from an answer's call_id into the call's
 * operations.
 */

/** Installed by scripts/install-test-deps.sh from scripts/schemathesis-requirements.txt. */
function schemathesisPath(): string {
  const cache = process.env["SCAIWAVE_CACHE_DIR"] ?? join(homedir(), ".cache", "scaiwave-calls");
  const path = join(cache, "venv-schemathesis", "bin", "schemathesis");
  if (!existsSync(path)) throw new Error(`schemathesis not found at ${path}: run scripts/install-test-deps.sh`);
  return path;
}

/** Fixed, so a failure can be replayed with the same data (schemathesis prints it). */
const SEED = 20261204;
/** Test cases per operation and phase: enough to try every rule, bounded for a two-core machine. */
const MAX_EXAMPLES = 40;

let service: RunningService;
let roomId: string;
let dir: string;

beforeAll(async () => {
  schemathesisPath(); // fail fast, with the install hint
  // Carol never answers and the ring does not time out within the run.
  service = await startService(sharedLiveKit(), { RING_TIMEOUT_SECONDS: "3600" });
  roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 100, carol: 0 });
  // Bob's live call, which the fuzzer (alice, a plain member) can join, leave, reject or look at but
  // not end: it stays live all run, so the list of calls always gives the stateful phase a call to follow.
  // (Schemathesis starts its scenarios from that list and from operations on a call, not from
  // InitiateCall, whose room_id it takes for a reference to a resource no operation creates.)
  const started = await fetch(`${service.baseUrl}/v1/calls/initiate`, {
    method: "POST",
    headers: { authorization: `Bearer ${await userToken("bob")}` },
    body: JSON.stringify({ room_id: roomId, type: "audio" }),
  });
  expect(started.status).toBe(200);
  dir = mkdtempSync(join(tmpdir(), "scaiwave-schemathesis-"));
});

afterAll(async () => {
  await service?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The fuzzer's settings. InitiateCall gets the seeded room half of the time
 * (other rooms are refused with 403), so it joins bob's call and its links lead on.
 * SW_CALL_ENDED (410) answers for the call's state, not for the request, like
 * 409, so it is an expected answer to valid data. So is a 400 where validity
 * depends on the service's state rather than the document: a page cursor the
 * service never gave out, a user rung who is not a member of the call's room.
 */
function config(): string {
  const stateful = `["2xx", "401", "403", "404", "409", "410", "429"]`;
  const withStateful400 = `["2xx", "400", "401", "403", "404", "409", "410", "429"]`;
  return `
[checks.positive_data_acceptance]
expected-statuses = ${stateful}

[dictionaries.rooms]
values = ["${roomId}"]

[[operations]]
include-operation-id = "InitiateCall"
parameters = { "body.room_id" = { dictionary = "rooms", probability = 0.5 } }

[[operations]]
include-operation-id = "ListRoomCalls"
parameters = { "path.room_id" = { dictionary = "rooms", probability = 0.5 } }
checks.positive_data_acceptance.expected-statuses = ${withStateful400}

[[operations]]
include-operation-id = "ListCallHistory"
checks.positive_data_acceptance.expected-statuses = ${withStateful400}

[[operations]]
include-operation-id = "RingCall"
checks.positive_data_acceptance.expected-statuses = ${withStateful400}
`;
}

function run(file: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe("schemathesis against /openapi.json", () => {
  it("finds no failure with every check on, following the links of a call", async () => {
    const configFile = join(dir, "schemathesis.toml");
    writeFileSync(configFile, config());
    const token = await userToken("alice");
    const { code, output } = await run(
      schemathesisPath(),
      [
        "--config-file", configFile,
        "run", `${service.baseUrl}/openapi.json`,
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        // Printed as [Filtered] in schemathesis' output.
        "--header", `Authorization: Bearer ${token}`,
        "--max-examples", String(MAX_EXAMPLES),
        "--seed", String(SEED),
        "--workers", "1",
        "--generation-database", "none",
        "--no-color",
      ],
      dir,
    );
    expect(code, output).toBe(0);
    expect(output).toMatch(/Stateful \(in/);
  }, 180_000);
});
