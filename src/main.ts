import { createService } from "./composition/service.js";
import { exitOnSignals, loadConfigOrExit } from "./process-lifecycle.js";

/** Entry point: config → dependencies → background work → listen; SIGTERM/SIGINT drain and exit. */
const config = loadConfigOrExit();
const service = await createService(config);
const { logger } = service.ctx;
service.start();
const address = await service.server.listen(config.port, config.host);
const grpcPort = await service.server.grpc?.listen();
logger.info(
  { address: `${address.address}:${address.port}`, livekit: config.livekit.apiUrl, database: config.postgres ? "postgresql" : config.databasePath },
  "scaiwave-calls listening (gRPC h2c, gRPC-web, Connect, REST)",
);
if (grpcPort !== undefined) logger.info({ address: `${config.host}:${grpcPort}` }, "grpc-js listening");
exitOnSignals(() => service.close(), logger);
