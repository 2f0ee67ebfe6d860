import { createAppContext } from "../app-context.js";
import { ConfigError, loadConfig, readEnv } from "../config.js";

/**
 * The transcription worker on its own (`npm run worker`): pulls jobs from the
 * JetStream work queue. Same configuration (and, with SQLite, the same
 * database file) as the service, whose outbox relay publishes the events the
 * worker writes. Several workers share the work.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(readEnv());
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (!config.s3) {
    process.stderr.write("config error: S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY are required by the worker\n");
    process.exit(2);
  }
  const app = createAppContext(config, { role: "worker" });
  app.logger.info({ engine: config.transcription.engine, concurrency: config.transcription.concurrency }, "transcription worker started");
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, "worker shutting down");
    app
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        app.logger.error({ err }, "shutdown failed");
        process.exit(1);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

await main();
