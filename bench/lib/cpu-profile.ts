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

/** The frames with the most self time in a `node --cpu-prof` profile. */
export function topSelfFrames(path: string, limit = 15): ProfileFrame[] {
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
  return [...byFrame.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([frame, hits]) => ({ frame, selfPercent: (100 * hits) / Math.max(1, total) }));
}
