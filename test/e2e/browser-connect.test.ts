import { mkdir } from "node:fs/promises";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Protocol, RunCallInput } from "./page/app.js";
import { bundlePage, launchBrowser, runCall, servePage, type Browser, type PageServer } from "../support/browser.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";
import { within } from "../support/wait.js";

/**
 * A page in headless Chromium drives a whole call through @connectrpc/connect-web,
 * with the Connect protocol and with gRPC-web, against the running service on
 * another origin: the browser's fetch, preflights and CORS are the real thing.
 */

const SCREENSHOT = "test-artifacts/browser-connect.png";
const PROTOCOLS: Protocol[] = ["connect", "grpc-web"];

let service: RunningService;
let allowedSite: PageServer; // in CORS_ALLOWED_ORIGINS
let refusedSite: PageServer; // same page, another port: an origin the service does not allow
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  const bundle = await bundlePage();
  // The service must know the page's origin at startup, so the site comes first.
  [allowedSite, refusedSite] = await Promise.all([servePage(bundle), servePage(bundle)]);
  service = await startService(sharedLiveKit(), { CORS_ALLOWED_ORIGINS: allowedSite.origin });
  browser = await launchBrowser();
  page = await browser.open(allowedSite.origin);
  page.on("pageerror", (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.stop();
  await service?.stop();
  await allowedSite?.stop();
  await refusedSite?.stop();
});

async function callInput(protocol: Protocol): Promise<RunCallInput> {
  const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
  return { baseUrl: service.baseUrl, protocol, roomId, aliceToken: await userToken("alice"), bobToken: await userToken("bob") };
}

describe.each(PROTOCOLS)("browser with connect-web, %s protocol", (protocol) => {
  it("initiates, joins, gets and ends a call; an unknown call is not_found with SW_CALL_NOT_FOUND", async () => {
    const summary = await within(`runCall (${protocol})`, runCall(page, await callInput(protocol)), 20_000);
    expect(summary.callId).toMatch(/^call-[0-9a-z]{26}$/);
    expect(summary.livekitRoom).toBe(`scaiwave-${summary.callId}`);
    expect(summary.joinedRoom).toBe(summary.livekitRoom);
    expect(summary.statuses).toEqual({ initiated: "RINGING", joined: "ACTIVE", ended: "ENDED", gotAfterEnd: "ENDED" });
    expect(summary.participantsWhileActive).toEqual(["alice", "bob"]);
    expect(summary.endReason).toBe("ENDED");
    expect(summary.unknownCall).toEqual({ code: "not_found", reason: "SW_CALL_NOT_FOUND" });
    expect(pageErrors).toEqual([]);
  });

  it("is blocked by the browser when the page's origin is not allowed", async () => {
    const refused = await browser.open(refusedSite.origin);
    try {
      // The preflight gets no CORS headers, so Chromium never sends the call:
      // fetch fails with a TypeError, which connect-web reports as a ConnectError.
      const input = await callInput(protocol);
      await expect(within(`refused runCall (${protocol})`, runCall(refused, input), 20_000)).rejects.toThrow(/Failed to fetch/);
      // Blocked before the service saw it: no call was created in the room.
      expect(service.app.db!.prepare("SELECT count(*) AS n FROM calls WHERE room_id = ?").get(input.roomId)).toEqual({ n: 0 });
    } finally {
      await refused.close();
    }
  });
});

it("leaves a screenshot of both runs' summaries", async () => {
  await mkdir("test-artifacts", { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  // Both summaries were rendered as text into the page.
  expect(await page.locator("#results pre").count()).toBe(PROTOCOLS.length);
});
