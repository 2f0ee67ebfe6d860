import { ConfigError, loadConfig, readEnv, type Config } from "./config.js";

/** Loads the configuration, or prints one line per bad variable and exits 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig(readEnv());
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** SIGTERM/SIGINT run `close` once, then exit 0 (1 if closing failed). */
export function exitOnSignals(
  close: () => Promise<void>,
  logger: { info(obj: object, msg: string): void; error(obj: object, msg: string): void },
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: draining");
    close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
