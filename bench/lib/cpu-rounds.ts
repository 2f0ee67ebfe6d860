/**
 * In-process micro-benchmarks (`bench/join-layers.ts`, `bench/livekit-tokens.ts`):
 * CPU µs per operation (user + system of this process), a few rounds each,
 * printed as one table.
 */

export interface Operation {
  readonly name: string;
  readonly run: () => Promise<unknown>;
}

export interface RoundsOptions {
  /** Operations per round. */
  readonly perRound: number;
  /** Operations run first and not measured (JIT, caches). */
  readonly warmUp: number;
  /** Operations kept in flight at once (each starts its next when its last one answers). */
  readonly inFlight: number;
  readonly rounds?: number;
}

/** Runs each operation's rounds in turn and prints the table under `heading`. */
export async function printCpuRounds(heading: string, firstColumn: string, operations: readonly Operation[], options: RoundsOptions): Promise<void> {
  const rounds = options.rounds ?? 3;
  const table: string[][] = [];
  for (const op of operations) {
    await inFlight(op.run, options.warmUp, options.inFlight);
    const measured: string[] = [];
    for (let r = 0; r < rounds; r++) measured.push((await cpuPerOperation(op.run, options.perRound, options.inFlight)).toFixed(1));
    table.push([op.name, ...measured]);
  }
  console.log(`\n${heading}\n`);
  const width = Math.max(firstColumn.length, ...table.map((row) => row[0]!.length));
  const roundHeads = Array.from({ length: rounds }, (_, r) => `round ${r + 1}`);
  console.log(`${firstColumn.padEnd(width)}  ${roundHeads.join("  ")}`);
  for (const [name, ...cells] of table) console.log(`${name!.padEnd(width)}  ${cells.map((c) => c.padStart(7)).join("  ")}`);
}

async function cpuPerOperation(run: () => Promise<unknown>, count: number, parallel: number): Promise<number> {
  const before = process.cpuUsage();
  await inFlight(run, count, parallel);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

async function inFlight(run: () => Promise<unknown>, count: number, parallel: number): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await run();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
