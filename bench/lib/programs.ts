import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { LoadgenJob, LoadgenResult } from "../loadgen/initiate.js";

const BENCH_DIR = join(import.meta.dirname, "..");

export interface FloorServer {
  readonly child: ChildProcess;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `bench/floors/<name>.ts` in its own process and waits for its port. */
export async function startFloor(name: string, env: Record<string, string> = {}): Promise<FloorServer> {
  const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, "floors", `${name}.ts`)], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("LISTENING ")) resolve(Number(line.slice("LISTENING ".length)));
    });
    child.once("exit", (code) => reject(new Error(`floor ${name} exited (${code}) before listening`)));
  });
  return {
    child,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGKILL");
      await once(child, "exit");
    },
  };
}

/**
 * Runs a load generator (`bench/loadgen/<script>.ts`) in its own process with
 * `job` as a JSON file, and returns what it prints on its `<MARKER> {json}` line.
 */
export async function runLoadgenScript<T>(script: string, marker: string, job: object, workDir: string, name: string): Promise<T> {
  const jobFile = join(workDir, `${name}.${script}.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, "loadgen", `${script}.ts`), jobFile], {
    env: { PATH: process.env["PATH"] ?? "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let result: T | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith(`${marker} `)) result = JSON.parse(line.slice(marker.length + 1)) as T;
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0 || result === undefined) throw new Error(`load generator ${script} (${name}) failed (exit ${code})`);
  return result;
}

/** Runs bench/loadgen/initiate.ts with `job`. */
export function runLoadgen(job: LoadgenJob, workDir: string, name: string): Promise<LoadgenResult> {
  return runLoadgenScript("initiate", "LOADGEN_RESULT", job, workDir, name);
}
