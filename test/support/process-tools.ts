import { readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";

/** How a fixture's child process ended. */
export type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

/** Whether `exited` settles within `ms` (without leaving a timer behind). */
export async function exitedWithin(exited: Promise<Exit>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const timedOut = delay(ms, false, { signal: timer.signal }).catch(() => false);
  const done = await Promise.race([exited.then(() => true), timedOut]);
  timer.abort();
  return done;
}

/** The last `lines` lines of a log, from byte `from` on (a restarted server appends to the same file). */
export async function logTail(logPath: string, from = 0, lines = 40): Promise<string> {
  const text = await readFile(logPath).then(
    (buf) => buf.subarray(from).toString("utf8"),
    () => "",
  );
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
