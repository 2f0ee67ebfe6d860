import type { Logger } from "pino";

/** Records how long one outside call took, by operation and outcome (the LiveKit latency histogram). */
export type TimeOperation = <T>(operation: string, work: () => Promise<T>) => Promise<T>;

/**
 * The same client, each async method timed as `<prefix>.<method>` and logged
 * at debug level with its duration.
 */
export function timed<T extends object>(target: T, time: TimeOperation, logger: Logger, prefix: string): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== "function" || typeof key !== "string") return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (!(result instanceof Promise)) return result;
        const started = performance.now();
        const operation = `${prefix}.${key}`;
        return time(operation, () => result).finally(() => {
          logger.debug({ operation, ms: Math.round(performance.now() - started) }, "LiveKit API call");
        });
      };
    },
  });
}
