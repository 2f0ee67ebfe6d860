/**
 * Awaits p, or fails naming the step if it takes longer than ms: a hang shows up
 * as a named failure rather than a bare test timeout. For one thing that will
 * happen (a connect, an event); to wait for a state, poll with `expect.poll` /
 * `vi.waitFor`. The default is generous, for a loaded machine.
 */
export async function within<T>(what: string, p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
