// Builds the web console (console/) into dist/console/: app.ts bundled by
// esbuild for the browser with livekit-client inlined (no CDN), plus
// index.html and style.css. Runs at install (`prepare`) and via
// `npm run build:console`; the service serves the result at /console.
/* global process, console */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CONSOLE_SRC = join(ROOT, "console");
export const CONSOLE_OUT = join(ROOT, "dist", "console");

/** Builds into `outDir` (default dist/console/), replacing what was there; returns outDir. */
export async function buildConsole(outDir = CONSOLE_OUT) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(CONSOLE_SRC, "app.ts")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    minify: true,
    sourcemap: true,
    tsconfig: join(CONSOLE_SRC, "tsconfig.json"),
    logLevel: "warning",
  });
  await Promise.all(["index.html", "style.css"].map((f) => copyFile(join(CONSOLE_SRC, f), join(outDir, f))));
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildConsole();
  console.log(`console built into ${out}`);
}
