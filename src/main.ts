import { createAppContext } from "./app-context.js";
import { ConfigError, loadConfig, readEnv } from "./config.js";

/** Entry point: config → dependencies → listen; SIGTERM/SIGINT drain and exit. */
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

  const app = createAppContext(config);
  const address = await app.server.listen(config.port, config.host);
  app.logger.info(
    { address: `${address.address}:${address.port}`, livekit: config.livekit.apiUrl, database: config.databasePath },
    "scaiwave-calls listening (gRPC h2c, gRPC-web, Connect, REST)",
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, "shutting down: draining requests");
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
