import { readFileSync, writeFileSync } from "node:fs";

/** CPU and peak memory of one process (all its threads) over a measured window, read from /proc. */
export interface ProcessUsage {
  /** CPU time over wall time, in percent of one core (200 % = both cores of this machine). */
  readonly cpuPercent: number;
  /** Largest resident set seen during the window, MiB. */
  readonly peakRssMiB: number;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux this runs on
const SAMPLE_MS = 50;

function cpuTicks(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) : 0;
}

export function residentMiB(pid: number): number {
  return statusKiB(pid, "VmRSS") / 1024;
}

/**
 * Starts measuring `pid` now. The kernel's high-water mark is reset first
 * (clear_refs 5) so the peak belongs to this window; where that is not
 * allowed, the sampled maximum of VmRSS stands in.
 */
export function meterProcess(pid: number): { stop(): ProcessUsage } {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // not permitted: the 50 ms samples below still bound the peak
  }
  const startedAt = performance.now();
  const startTicks = cpuTicks(pid);
  let peakKiB = statusKiB(pid, "VmRSS");
  const sampler = setInterval(() => {
    try {
      peakKiB = Math.max(peakKiB, statusKiB(pid, "VmRSS"));
    } catch {
      // the process exited; stop() reports what was seen
    }
  }, SAMPLE_MS);
  return {
    stop() {
      clearInterval(sampler);
      const seconds = (performance.now() - startedAt) / 1000;
      const ticks = cpuTicks(pid) - startTicks;
      peakKiB = Math.max(peakKiB, statusKiB(pid, "VmHWM"), statusKiB(pid, "VmRSS"));
      return { cpuPercent: (100 * ticks) / CLOCK_TICKS_PER_SECOND / seconds, peakRssMiB: peakKiB / 1024 };
    },
  };
}
