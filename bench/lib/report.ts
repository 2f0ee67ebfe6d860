import type { ProcessUsage } from "./process-meter.js";

/** One row of the table. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Throughput in the scenario's own unit; NaN on a duration row. */
  readonly rate: number;
  /** "ms": a duration row (e.g. a relay takeover), no throughput: its figures are p50Ms and maxMs. */
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
  /** The target, as text, and whether this run met it. */
  readonly target?: string;
  readonly met?: boolean;
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

export function formatTable(results: readonly ScenarioResult[]): string {
  const header = ["scenario", "rate", "unit", "p50 ms", "p99 ms", "CPU %", "peak RSS MiB", "vs floor", "target", "errors"];
  const rows = results.map((r) => [
    r.title,
    fixed(r.rate),
    r.unit,
    fixed(r.p50Ms, 2),
    r.maxMs === undefined ? fixed(r.p99Ms, 2) : `max ${fixed(r.maxMs, 2)}`,
    fixed(r.usage.cpuPercent),
    fixed(r.usage.peakRssMiB, 1),
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}× ${r.floor}`,
    r.target === undefined ? "" : `${r.met ? "met" : "MISSED"} ${r.target}`,
    String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i >= 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const notes = results.filter((r) => r.note).map((r) => `  ${r.title}: ${r.note}`);
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), ...(notes.length ? ["", "notes:", ...notes] : [])].join("\n");
}
