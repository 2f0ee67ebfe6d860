import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly stderr: string[];
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
}

/**
 * The real entry point (`src/main.ts`) in its own process, as an operator
 * runs it. Only the given variables are set: nothing leaks in from the shell.
 * Resolves once it logs that it is listening.
 */
export async function spawnService(
  env: Record<string, string>,
  /** The worker entry point (`src/worker/main.ts`) instead of the service. */
  entry: "service" | "worker" = "service",
  options: {
    /** Extra Node flags, e.g. `--cpu-prof` for the benchmarks. */
    readonly nodeArgs?: readonly string[];
    /** Another checkout to run (benchmarks compare before/after); default: this one. */
    readonly root?: string;
    /** Run the build output (`dist/`, `npm run build`) as production does, not the sources through tsx. */
    readonly compiled?: boolean;
  } = {},
): Promise<ServiceProcess> {
  const script = entry === "worker" ? "src/worker/main.ts" : "src/main.ts";
  const ready = entry === "worker" ? "transcription worker started" : "scaiwave-calls listening";
  const entryArgs = options.compiled ? [`dist/${script.replace(/\.ts$/, ".js")}`] : ["--import", "tsx", script];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entryArgs], {
    cwd: options.root,
    env: { PATH: process.env["PATH"] ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Never outlive the test run, even if a test times out before it stops the service.
  const backstop = () => child.kill("SIGKILL");
  process.once("exit", backstop);
  child.once("exit", () => process.off("exit", backstop));
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | string);
  const listening = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const logged = JSON.parse(line) as { msg: string; address?: string };
      if (logged.msg.startsWith(ready)) resolve(logged.address ?? "");
    });
    void exited.then((code) => reject(new Error(`service exited (${code}) before listening:\n${stderr.join("\n")}`)));
  });
  const address = await listening;
  return { child, baseUrl: `http://127.0.0.1:${address.split(":").at(-1)}`, stderr, exited };
}
