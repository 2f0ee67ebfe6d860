import { createAppContext } from "../app-context.js";
import { exitOnSignals, loadConfigOrExit } from "../process-lifecycle.js";

/**
 * The transcription worker on its own (`npm run worker`): pulls jobs from the
 * JetStream work queue. Same configuration (and, with SQLite, the same
 * database file) as the service, whose outbox relay publishes the events the
 * worker writes. Several workers share the work.
 */
const config = loadConfigOrExit();
if (!config.s3) {
  process.stderr.write("config error: S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY are required by the worker\n");
  process.exit(2);
}
const app = createAppContext(config, { role: "worker" });
app.logger.info({ engine: config.transcription.engine, concurrency: config.transcription.concurrency }, "transcription worker started");
exitOnSignals(() => app.close(), app.logger);
