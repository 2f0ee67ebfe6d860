import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { PageGlobals, RunCallInput, RunCallSummary } from "../e2e/page/app.js";

/** Debian's chromium (scripts/install-test-deps.sh), not a Playwright download. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

// Without these Chromium hangs or phones home on this machine (no GPU, no
// user namespaces for the sandbox, no network but loopback).
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "e2e", "page");

/** A static server for a test page: index.html plus its esbuild bundle, both in memory. */
export interface PageServer extends AsyncDisposable {
  /** http://127.0.0.1:<port>, an origin of its own (the service's port differs). */
  readonly origin: string;
  stop(): Promise<void>;
}

/** Bundles test/e2e/page/<entry>.ts for the browser (ESM; connect-web, protobuf and gen/ inlined). */
export async function bundlePage(entry = "app.ts"): Promise<string> {
  const result = await build({
    entryPoints: [join(PAGE_DIR, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    write: false,
    logLevel: "silent",
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced no output for ${entry}`);
  return out.text;
}

/** Serves /, /index.html and /app.js on a free loopback port. */
export async function servePage(bundle: string): Promise<PageServer> {
  const html = await readFile(join(PAGE_DIR, "index.html"), "utf8");
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (path === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= closeServer(server));
  return { origin: `http://127.0.0.1:${port}`, stop, [Symbol.asyncDispose]: stop };
}

function closeServer(server: Server): Promise<void> {
  // Chromium keeps connections alive; don't wait for it to drop them.
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Headless Chromium with a fresh profile, removed on stop(). */
export interface Browser extends AsyncDisposable {
  /** Opens origin's index.html and waits until the bundle has set window.runCall. */
  open(origin: string): Promise<Page>;
  stop(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`chromium not found at ${CHROMIUM_PATH}: run scripts/install-test-deps.sh`);
  }
  // A persistent context is the only way to give playwright a user data dir
  // of our own; a fresh one per run keeps runs independent.
  const userDataDir = await mkdtemp(join(tmpdir(), "scaiwave-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 700 },
      timeout: 30_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  const open = async (origin: string) => {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => typeof (globalThis as Partial<PageGlobals>).runCall === "function", undefined, { timeout: 10_000 });
    return page;
  };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    })());
  return { open, stop, [Symbol.asyncDispose]: stop };
}

/** Runs window.runCall in the page; rejects with the page's error (e.g. "Failed to fetch" when CORS blocks). */
export function runCall(page: Page, input: RunCallInput): Promise<RunCallSummary> {
  return page.evaluate((i) => (globalThis as unknown as PageGlobals).runCall(i), input);
}
