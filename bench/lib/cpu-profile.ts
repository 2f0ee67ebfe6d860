import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileFrame {
  /** `function (file:line)`, file relative to the repo or node_modules. */
  readonly frame: string;
  /** Share of all samples spent in this frame itself, percent. */
  readonly selfPercent: number;
}

/** A profiled run: the row it profiles, how idle the process was, and its top frames. */
export interface ProfileSummary {
  /** The id and title of the table row whose load was profiled (a run of its own: profiling slows it). */
  readonly id: string;
  readonly title: string;
  /** Share of samples in which the process waited for work, percent. */
  readonly idlePercent: number;
  /** The frames with the most self time, idle left out (it is idlePercent). */
  readonly frames: ProfileFrame[];
}

const IDLE = "(idle)";

/** The `limit` frames with the most self time in a `node --cpu-prof` profile, and the idle share. */
export function summarizeProfile(path: string, limit = 10): { idlePercent: number; frames: ProfileFrame[] } {
  const profile = JSON.parse(readFileSync(path, "utf8")) as { nodes: ProfileNode[] };
  const byFrame = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\/.*?\/(node_modules|src|gen)\//, "$1/").replace(/^node:/, "node:");
    const frame = `${functionName || "(anonymous)"}${file ? ` (${file}:${lineNumber + 1})` : ""}`;
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + hits);
  }
  const percent = (hits: number) => (100 * hits) / Math.max(1, total);
  const frames = [...byFrame.entries()]
    .filter(([frame]) => frame !== IDLE)
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([frame, hits]) => ({ frame, selfPercent: percent(hits) }));
  return { idlePercent: percent(byFrame.get(IDLE) ?? 0), frames };
}

/** The summary as the bench prints it under the table. */
export function formatProfile(p: ProfileSummary): string {
  const lines = p.frames.map((f) => `  ${f.selfPercent.toFixed(1).padStart(5)} %  ${f.frame}`);
  return [`CPU profile of ${p.title}: top ${p.frames.length} frames by self time, % of all samples (idle ${p.idlePercent.toFixed(1)} %):`, ...lines].join("\n");
}
