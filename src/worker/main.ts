import { createAppContext } from "../composition/app-context.js";
import { startBackground } from "../composition/background.js";
import { exitOnSignals, loadConfigOrExit } from "../process-lifecycle.js";

/**
 * The transcription worker on its own (`npm run worker`): pulls jobs from the
 * JetStream work queue, with no HTTP server. Same configuration (and, with
 * SQLite, the same database file) as the service, whose outbox relay
 * publishes the events the worker writes. Several workers share the work.
 */
const config = loadConfigOrExit();
if (!config.s3) {
  process.stderr.write("config error: S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY are required by the worker\n");
  process.exit(2);
}
const ctx = await createAppContext(config);
const background = startBackground(ctx, "worker");
ctx.logger.info({ engine: config.transcription.engine, concurrency: config.transcription.concurrency }, "transcription worker started");
exitOnSignals(async () => {
  await background[Symbol.asyncDispose]();
  await ctx.close();
}, ctx.logger);
