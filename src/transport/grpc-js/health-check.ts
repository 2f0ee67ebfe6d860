import { Health, type HealthCheckRequest } from "../../../gen/health/v1/health_pb.js";
import type { Logger } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { checkResponse, type HealthStatus } from "../grpc-ecosystem/health.js";
import { unaryMethod, type UnaryMethod } from "./unary-method.js";

/**
 * `grpc.health.v1.Health/Check` on the grpc-js port, from the same status
 * function as the main port's health service, so probes can target either port.
 * Only Check: Watch (a server stream) and List are served on the main port,
 * and grpc-js answers them UNIMPLEMENTED here.
 */
export function healthCheckMethod(status: HealthStatus, logger: Logger): UnaryMethod {
  return unaryMethod(
    Health.method.check,
    async (input) => {
      const { service } = input() as HealthCheckRequest;
      const answer = checkResponse(status, service);
      if (!answer) throw new CallError(CallErrorCode.NotFound, `unknown service ${JSON.stringify(service)}`);
      return answer;
    },
    logger,
  );
}
