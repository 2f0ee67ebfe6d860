import type { ConnectRouter, MethodImpl } from "@connectrpc/connect";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { Logger } from "../app/ports.js";
import { asCallError, toConnectError } from "./error-catalogue.js";
import { requestIdFrom } from "./request-id.js";
import type { RpcRegistry } from "./rpc/registry.js";

/**
 * Serves every registered method over Connect, gRPC and gRPC-web: the
 * registry authenticates and runs the shared handler; any failure becomes a
 * ConnectError carrying the SW_CALL_* reason. The request id is the
 * `x-request-id` header, which the main port's request handler has set to the
 * id it answers with (a router without that handler, in tests, makes one up).
 */
export function connectRoutes(registry: RpcRegistry, logger: Logger) {
  return (router: ConnectRouter): void => {
    for (const registered of registry.methods()) {
      const impl = async (input: Message, context: { requestHeader: Headers; signal: AbortSignal; protocolName: string }) => {
        const requestId = requestIdFrom(context.requestHeader.get("x-request-id"));
        try {
          const request = {
            authorization: context.requestHeader.get("authorization"),
            signal: context.signal,
            protocol: context.protocolName,
            requestId,
          };
          return await registered.invoke(request, () => input);
        } catch (err) {
          throw toConnectError(asCallError(err, logger, requestId));
        }
      };
      router.rpc(registered.method, impl as unknown as MethodImpl<DescMethod>);
    }
  };
}
