import { setTimeout as delay } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../../gen/health/v1/health_pb.js";

/**
 * The serving status of one service, by its fully-qualified name
 * (`scaiwave.calls.v1.CallsService`); `""` asks for the server as a whole.
 * `undefined` means the name is unknown: Check answers NOT_FOUND, Watch SERVICE_UNKNOWN.
 */
export type HealthStatus = (service: string) => "SERVING" | "NOT_SERVING" | undefined;

export interface HealthRoutesOptions {
  /**
   * The names List reports (beside `""`, always listed). The status function
   * cannot enumerate them itself; without this List reports only the overall status.
   */
  readonly services?: readonly string[];
  /** How often an open Watch re-reads the status to tell the client about a change. Default 1 s. */
  readonly watchIntervalMs?: number;
  /**
   * Aborted when the server shuts down: open Watch streams send NOT_SERVING
   * (unless they just did) and end with OK, so a graceful HTTP/2 close is not
   * held up by them. Without it they end when the client goes away or when
   * connect-node's own `shutdownSignal` aborts the handlers.
   */
  readonly shutdown?: AbortSignal;
}

const toProto = (status: ReturnType<HealthStatus>): ServingStatus =>
  status === "SERVING" ? ServingStatus.SERVING : status === "NOT_SERVING" ? ServingStatus.NOT_SERVING : ServingStatus.SERVICE_UNKNOWN;

const response = (status: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status });

/** A Check's answer for `service`, or undefined for a service this server does not serve (NOT_FOUND on either port). */
export function checkResponse(status: HealthStatus, service: string): HealthCheckResponse | undefined {
  const current = status(service);
  return current === undefined ? undefined : response(toProto(current));
}

/**
 * gRPC's standard health service (`grpc.health.v1.Health`: Check, Watch, List),
 * as probed by Kubernetes gRPC probes, grpc_health_probe, load balancers and
 * grpcurl. It needs no token: orchestrators call it without one.
 */
export function healthRoutes(status: HealthStatus, options: HealthRoutesOptions = {}): (router: ConnectRouter) => void {
  const intervalMs = options.watchIntervalMs ?? 1000;
  return (router) => {
    router.service(Health, {
      check(req: HealthCheckRequest): HealthCheckResponse {
        const answer = checkResponse(status, req.service);
        if (!answer) throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
        return answer;
      },

      // The current status at once, then every change, until the client
      // cancels or the server shuts down (the spec never ends a Watch itself).
      async *watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncGenerator<HealthCheckResponse> {
        const signals = options.shutdown ? [ctx.signal, options.shutdown] : [ctx.signal];
        const stop = AbortSignal.any(signals);
        let last: ServingStatus | undefined;
        while (!stop.aborted) {
          const current = toProto(status(req.service));
          if (current !== last) {
            last = current;
            yield response(current);
          }
          await delay(intervalMs, undefined, { signal: stop }).catch(() => undefined);
        }
        if (options.shutdown?.aborted && !ctx.signal.aborted && last !== ServingStatus.NOT_SERVING) {
          yield response(ServingStatus.NOT_SERVING);
        }
      },

      list() {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const name of ["", ...(options.services ?? [])]) {
          const current = status(name);
          if (current !== undefined) statuses[name] = response(toProto(current));
        }
        return { statuses };
      },
    });
  };
}
