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

/** Runs bench/loadgen/initiate.ts with `job` in its own process. */
export async function runLoadgen(job: LoadgenJob, workDir: string, name: string): Promise<LoadgenResult> {
  const jobFile = join(workDir, `${name}.job.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, "loadgen", "initiate.ts"), jobFile], {
    env: { PATH: process.env["PATH"] ?? "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let result: LoadgenResult | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith("LOADGEN_RESULT ")) result = JSON.parse(line.slice("LOADGEN_RESULT ".length)) as LoadgenResult;
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0 || !result) throw new Error(`loadgen ${name} failed (exit ${code})`);
  return result;
}
