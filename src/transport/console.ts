import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { CallError, CallErrorCode } from "../domain/errors.js";
import { sendCallError } from "./error-catalogue.js";
import type { NodeRequest, NodeResponse } from "./http-types.js";

/** The URL prefix of the web console (console/ in the repo, built by scripts/build-console.mjs). */
const CONSOLE_PATH = "/console";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

const notFound = (res: NodeResponse, message: string) => sendCallError(res, new CallError(CallErrorCode.RouteNotFound, message));

/**
 * Serves the built web console: GET/HEAD `/console` and `/console/*` from `dir`
 * (index.html for `/console` and `/console/`). Returns false for any other
 * request, which the caller then routes on. Paths that would leave `dir` are 404s.
 */
export function serveConsole(dir: string): (req: NodeRequest, res: NodeResponse) => boolean {
  const root = resolve(dir);
  return (req, res) => {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") return false;
    // Every REST GET passes here first: leave it without parsing its URL.
    if (!req.url?.includes(CONSOLE_PATH)) return false;
    let pathname: string;
    try {
      pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      return false;
    }
    if (pathname !== CONSOLE_PATH && !pathname.startsWith(`${CONSOLE_PATH}/`)) return false;
    void serve(root, pathname, method === "HEAD", res);
    return true;
  };
}

async function serve(root: string, pathname: string, headOnly: boolean, res: NodeResponse): Promise<void> {
  if (!existsSync(resolve(root, "index.html"))) {
    return notFound(res, `the web console is not built: run \`npm run build:console\` (looked in ${root})`);
  }
  let relative: string;
  try {
    relative = decodeURIComponent(pathname.slice(CONSOLE_PATH.length + 1));
  } catch {
    return notFound(res, `no such console file: ${pathname}`);
  }
  if (relative === "" || relative.endsWith("/")) relative += "index.html";
  const file = resolve(root, relative);
  // No traversal: the resolved file must stay inside the console's folder.
  if (relative.includes("\0") || !file.startsWith(root + sep)) return notFound(res, `no such console file: ${pathname}`);
  try {
    if (!(await stat(file)).isFile()) return notFound(res, `no such console file: ${pathname}`);
    const body = await readFile(file);
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      "content-length": body.byteLength,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    });
    if (headOnly) res.end();
    else res.end(body);
  } catch {
    notFound(res, `no such console file: ${pathname}`);
  }
}

/**
 * Where `npm run build:console` put the console: `<repo>/dist/console`. From the
 * sources this file is `<repo>/src/transport/`; from a `tsc` build it is
 * `<repo>/dist/src/transport/`, so both `../../dist/console` and `../../console`
 * are tried (the first holding app.js wins; without one, the first, so the 404 names it).
 */
export function defaultConsoleDir(here = import.meta.dirname): string {
  const candidates = [resolve(here, "..", "..", "dist", "console"), resolve(here, "..", "..", "console")];
  return candidates.find((dir) => existsSync(resolve(dir, "app.js"))) ?? (candidates[0] as string);
}
