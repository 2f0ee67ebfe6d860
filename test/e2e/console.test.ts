import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { promisify } from "node:util";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CHROMIUM_PATH } from "../support/browser.js";
import { restApi, type ApiCall, type CallsApi } from "../support/clients.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * The web console the service serves at /console, in two headless Chromium
 * pages with fake media devices: alice starts a call, bob joins it from the
 * list, both publish audio to the real livekit-server, and the call state
 * (driven by LiveKit's webhooks) shows both with audio on.
 */

// test/support/browser.ts's flags (no GPU, no sandbox, loopback only), plus fake
// media devices and auto-accepted permission prompts, and WebRTC over loopback.
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required",
];

const ARTIFACTS = "test-artifacts";
const STEP_MS = 30_000; // generous: Chromium and LiveKit may share busy cores

let service: RunningService;
let api: CallsApi;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  // What `npm run build:console` (and so `npm ci`, via prepare) does.
  await promisify(execFile)(process.execPath, ["scripts/build-console.mjs"], { timeout: 60_000 });
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`chromium not found at ${CHROMIUM_PATH}: run scripts/install-test-deps.sh`);
  // Reconcile only on demand: the state under test comes from LiveKit's webhooks.
  service = await startService(sharedLiveKit(), { RECONCILE_INTERVAL_SECONDS: "0" }, {}, { liveKitWebhooks: true });
  api = restApi(service.baseUrl);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
}, 90_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await service?.stop();
});

/** A page of its own (separate context: no shared storage), signed in with the user's token. */
async function signedIn(userId: string, on: RunningService = service): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${userId}: ${err.message}`));
  if (process.env["CONSOLE_TEST_DEBUG"]) page.on("console", (m) => console.log(`[${userId}] ${m.type()}: ${m.text()}`));
  await page.goto(`${on.baseUrl}/console`);
  await page.fill("#token", await userToken(userId));
  await page.click("#sign-in");
  await page.waitForSelector("#signed-in-panel:not([hidden])", { timeout: STEP_MS });
  expect(await page.textContent("#whoami")).toBe(`signed in as ${userId}`);
  return page;
}

const mediaState = (page: Page, state: string) =>
  page.waitForSelector(`#media-state[data-state="${state}"]`, { timeout: STEP_MS });

/** Polls GetCall until `done` holds, or fails with the last state seen. */
function callUntil(token: string, callId: string, done: (call: ApiCall) => boolean, ms = STEP_MS): Promise<ApiCall> {
  return vi.waitFor(
    async () => {
      const call = await api.get(token, callId);
      if (!done(call)) throw new Error(`call ${callId} has not reached the expected state; last: ${JSON.stringify(call)}`);
      return call;
    },
    { timeout: ms, interval: 200 },
  );
}

describe("web console at /console", () => {
  it("is served by the service: index, bundle and stylesheet, no traversal", async () => {
    const index = await fetch(`${service.baseUrl}/console`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await index.text()).toContain('src="/console/app.js"');
    const js = await fetch(`${service.baseUrl}/console/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${service.baseUrl}/console/style.css`)).headers.get("content-type")).toMatch(/^text\/css/);
    const traversal = await fetch(`${service.baseUrl}/console/..%2f..%2fpackage.json`);
    expect(traversal.status).toBe(404);
    expect(await traversal.json()).toMatchObject({ error: { code: "SW_CALL_ROUTE_NOT_FOUND" } });
  });

  it("two users join one call with fake media; the call shows both with audio on; ending disconnects the other", async () => {
    const roomId = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0 });
    const aliceToken = await userToken("alice");
    const [alice, bob] = await Promise.all([signedIn("alice"), signedIn("bob")]);

    // Alice starts an audio call in the room; her page connects the media.
    await alice.fill("#start-room", roomId);
    await alice.selectOption("#start-type", "audio");
    await alice.click("#start-call");
    await mediaState(alice, "connected");
    const callId = (await alice.textContent("#current-call-id")) ?? "";
    expect(callId).toMatch(/^call-/);

    // Bob sees it in his list of live calls and joins from there.
    await bob.waitForSelector(`#calls-body tr[data-call-id="${callId}"]`, { timeout: STEP_MS });
    await bob.click(`[data-testid="join-${callId}"]`);
    await mediaState(bob, "connected");

    // LiveKit's track_published webhooks turn both participants' audio on.
    const state = await callUntil(
      aliceToken,
      callId,
      (c) => c.participants.length === 2 && c.participants.every((p) => p.audio_on),
    );
    expect(state.status).toBe("active");
    expect(state.participants.map((p) => ({ id: p.participant_id, audio: p.audio_on, video: p.video_on }))).toEqual([
      { id: "alice", audio: true, video: false },
      { id: "bob", audio: true, video: false },
    ]);
    // Both pages show it too (they poll GetCall every 2 s).
    for (const page of [alice, bob]) {
      for (const user of ["alice", "bob"]) {
        await page.waitForSelector(`[data-testid="participant-${user}"][data-audio-on="true"]`, { timeout: STEP_MS });
      }
    }
    await mkdir(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: `${ARTIFACTS}/console-alice.png`, fullPage: true });
    await bob.screenshot({ path: `${ARTIFACTS}/console-bob.png`, fullPage: true });

    // Alice ends it from her list; bob's page shows it ended and his media gone.
    await alice.click(`[data-testid="end-${callId}"]`);
    await bob.waitForSelector(`#current-status[data-status="ended"]`, { timeout: STEP_MS });
    await mediaState(bob, "disconnected");
    await mediaState(alice, "disconnected");
    expect(await api.get(aliceToken, callId)).toMatchObject({ status: "ended", end_reason: "ended" });
    await bob.waitForSelector(`#calls-body tr[data-call-id="${callId}"]`, { state: "detached", timeout: STEP_MS });
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it("shows who was rung, rings a member who missed it again, and marks the missed call in their history", async () => {
    // Rings that stop in seconds, on a service of its own.
    await using quick = await startService(sharedLiveKit(), { RECONCILE_INTERVAL_SECONDS: "0", RING_TIMEOUT_SECONDS: "3" });
    const roomId = await directoryClient(quick.baseUrl).room({ alice: 0, bob: 0, carol: 0 });
    const [alice, carol] = await Promise.all([signedIn("alice", quick), signedIn("carol", quick)]);

    await alice.fill("#start-room", roomId);
    await alice.selectOption("#start-type", "audio");
    await alice.click("#start-call");
    await mediaState(alice, "connected");
    const callId = (await alice.textContent("#current-call-id")) ?? "";
    await restApi(quick.baseUrl).join(await userToken("bob"), callId);

    // Carol lets it ring out: alice's page shows her missed, with a button to ring her again.
    await alice.waitForSelector('[data-testid="invitee-bob"][data-state="answered"]', { timeout: STEP_MS });
    await alice.waitForSelector('[data-testid="invitee-carol"][data-state="missed"]', { timeout: STEP_MS });
    // Carol's history marks it missed and counts it unseen.
    await carol.waitForSelector(`tr.missed[data-call-id="${callId}"][data-outcome="missed"]`, { timeout: STEP_MS });
    expect(await carol.textContent("#unseen-missed")).toBe("1");

    await alice.click('[data-testid="ring-carol"]');
    await alice.waitForSelector('[data-testid="invitee-carol"][data-state="ringing"]', { timeout: STEP_MS });
    await carol.waitForSelector(`tr[data-call-id="${callId}"][data-outcome="ringing"]`, { timeout: STEP_MS });

    await carol.click("#mark-seen");
    await carol.waitForSelector("#unseen-missed[hidden]", { state: "attached", timeout: STEP_MS });
    await mkdir(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: `${ARTIFACTS}/console-ringing-alice.png`, fullPage: true });
    await carol.screenshot({ path: `${ARTIFACTS}/console-history-carol.png`, fullPage: true });
    await alice.click(`[data-testid="end-${callId}"]`);
    await mediaState(alice, "disconnected");
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
