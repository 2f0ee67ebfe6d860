import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { summarizeProfile } from "../lib/cpu-profile.js";
import type { Bench } from "../lib/bench.js";
import type { PreparedRequest } from "../lib/load-generators.js";
import type { JoinSeed } from "./join-seed.js";

/** The REST join again, in a service started with --cpu-prof: where the time goes. */
export async function profileJoin(b: Bench, seed: JoinSeed, databasePath: string): Promise<void> {
  await b.scenario("CPU profile of REST join", async () => {
    const run = seed.joinRun();
    const file = await profiledRun(b, "rest-join", databasePath, run.warm.map(seed.restJoin), run.measure.map(seed.restJoin));
    summarize(b, file, "rest-join", "REST join");
    // Kept for Chrome DevTools / speedscope (not committed: .gitignore).
    if (!b.options.smoke) copyFileSync(file, join(import.meta.dirname, "../results", "rest-join.cpuprofile"));
  });
}

/**
 * A run of its own (profiling slows the service, so never the measured one)
 * of a service started with --cpu-prof on `databasePath`, driven by wrk as the
 * measured run was; returns the profile file the service wrote on exit.
 */
export async function profiledRun(b: Bench, id: string, databasePath: string, warm: PreparedRequest[], measure: PreparedRequest[]): Promise<string> {
  const dir = join(b.work, `profile-${id}`);
  mkdirSync(dir);
  const service = await b.startService(databasePath, {}, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  try {
    await b.wrk(service.baseUrl, service.child.pid!, `profiled-${id}`, warm, measure);
  } finally {
    await b.stopService(service);
  }
  // One file per thread (CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile): the request thread is thread 0;
  // the relay thread writes one of its own.
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile") && f.split(".")[4] === "0");
  if (!file) throw new Error("the service wrote no CPU profile of its main thread");
  return join(dir, file);
}

/** Adds a profile's top self-time frames to the bench's output, under the row `id` it profiles. */
export function summarize(b: Bench, file: string, id: string, title: string): void {
  b.profiles.push({ id, title, ...summarizeProfile(file) });
}
