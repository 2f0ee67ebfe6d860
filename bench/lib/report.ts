import type { ProcessUsage } from "./process-meter.js";

/** One row of the table. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Throughput in the scenario's own unit; NaN on a duration row. */
  readonly rate: number;
  /** "ms": a duration row (e.g. a relay takeover, LiveKit's CreateRoom), no throughput: its figures are p50Ms and p99Ms (or maxMs). */
  readonly unit: "req/s" | "cycles/s" | "events/s" | "initiates/s" | "ms";
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Of the process under test (the service or the floor server). */
  readonly usage: ProcessUsage;
  readonly requests: number;
  readonly errors: number;
  /** The floor scenario this one is compared with, and rate / floor rate. */
  readonly floor?: string;
  readonly ratio?: number;
  /** The aim, as text ("≥0.8× floor-d", "p99 ≤10 ms"), and this run's figure in its terms ("0.48× floor-d"). */
  readonly target?: string;
  readonly achieved?: string;
  /** Whether this run met the aim; absent when the aim is not for this run's store (see aimFor). */
  readonly met?: boolean;
  /** The store the aim is set for, when it is set for one only. */
  readonly aimFor?: "SQLite";
  readonly note?: string;
  /** Duration rows: the longest of the repeats (the table shows it in the p99 column as "max …"). */
  readonly maxMs?: number;
  /** RSS scenario: resident memory with the calls live, after the load, MiB. */
  readonly settledRssMiB?: number;
}

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

export function withFloor(result: Omit<ScenarioResult, "floor" | "ratio">, floor: ScenarioResult | undefined, requestsPerUnit = 1): ScenarioResult {
  if (!floor) return result;
  return { ...result, floor: floor.id, ratio: (result.rate * requestsPerUnit) / floor.rate };
}

/** "met: 0.85× floor-d (aim ≥0.8× floor-d)", "MISSED: …", or, off the aim's store, "0.06× floor-d; aim ≥0.8× floor-d is for SQLite". */
function aimCell(r: ScenarioResult): string {
  if (r.target === undefined) return "";
  const figure = r.achieved ?? "";
  if (r.met === undefined) return `${figure}; aim ${r.target} is for ${r.aimFor ?? "another store"}`;
  return `${r.met ? "met" : "MISSED"}: ${figure} (aim ${r.target})`;
}

export function formatTable(results: readonly ScenarioResult[]): string {
  const header = ["scenario", "rate", "unit", "p50 ms", "p99 ms", "CPU %", "peak RSS MiB", "vs floor", "aim (this run)", "errors"];
  const rows = results.map((r) => [
    r.title,
    fixed(r.rate),
    r.unit,
    fixed(r.p50Ms, 2),
    r.maxMs === undefined ? fixed(r.p99Ms, 2) : `max ${fixed(r.maxMs, 2)}`,
    fixed(r.usage.cpuPercent),
    fixed(r.usage.peakRssMiB, 1),
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}× ${r.floor}`,
    aimCell(r),
    String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i >= 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const notes = results.filter((r) => r.note).map((r) => `  ${r.title}: ${r.note}`);
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), ...(notes.length ? ["", "notes:", ...notes] : [])].join("\n");
}
