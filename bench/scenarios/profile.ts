import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { topSelfFrames, type ProfileFrame } from "../lib/cpu-profile.js";
import type { Bench } from "../lib/bench.js";
import type { JoinSeed } from "./join-seed.js";

/** The REST join again, in a service started with --cpu-prof: where the time goes. */
export async function profileJoin(b: Bench, seed: JoinSeed, databasePath: string): Promise<ProfileFrame[]> {
  let frames: ProfileFrame[] = [];
  await b.scenario("CPU profile of REST join", async () => {
    const dir = join(b.work, "profile");
    mkdirSync(dir);
    const service = await b.startService(databasePath, {}, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    try {
      const run = seed.joinRun();
      await b.wrk(service.baseUrl, service.child.pid!, "profiled-join", run.warm.map(seed.restJoin), run.measure.map(seed.restJoin));
    } finally {
      await b.stopService(service);
    }
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("the service wrote no CPU profile");
    frames = topSelfFrames(join(dir, file));
    // Kept for Chrome DevTools / speedscope (not committed: .gitignore).
    if (!b.options.smoke) copyFileSync(join(dir, file), join(import.meta.dirname, "../results", "rest-join.cpuprofile"));
  });
  return frames;
}
