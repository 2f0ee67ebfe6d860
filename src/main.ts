import { createAppContext } from "./app-context.js";
import { exitOnSignals, loadConfigOrExit } from "./process-lifecycle.js";

/** Entry point: config → dependencies → listen; SIGTERM/SIGINT drain and exit. */
const config = loadConfigOrExit();
const app = createAppContext(config);
const address = await app.server.listen(config.port, config.host);
const grpcPort = await app.grpc?.listen();
app.logger.info(
  { address: `${address.address}:${address.port}`, livekit: config.livekit.apiUrl, database: config.databasePath },
  "scaiwave-calls listening (gRPC h2c, gRPC-web, Connect, REST)",
);
if (grpcPort !== undefined) app.logger.info({ address: `${config.host}:${grpcPort}` }, "grpc-js listening");
exitOnSignals(() => app.close(), app.logger);
