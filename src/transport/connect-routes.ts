import type { ConnectRouter, MethodImpl } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { Authenticator } from "../adapters/auth/jwt-authenticator.js";
import type { Logger } from "../app/ports.js";
import { asCallError, toConnectError } from "./error-catalogue.js";
import type { RpcRegistry } from "./rpc/registry.js";

/**
 * Serves every registered method over Connect, gRPC and gRPC-web. Each call
 * authenticates its bearer token, runs the shared handler, and turns any
 * failure into a ConnectError carrying the SW_CALL_* reason.
 */
export function connectRoutes(registry: RpcRegistry, authenticator: Authenticator, logger: Logger) {
  return (router: ConnectRouter): void => {
    for (const registered of registry.methods()) {
      const impl = async (input: never, context: { requestHeader: Headers; signal: AbortSignal; protocolName: string }) => {
        try {
          const principal = await authenticator.authenticate(context.requestHeader.get("authorization"));
          return await registered.invoke(input, { principal, signal: context.signal, protocol: context.protocolName });
        } catch (err) {
          throw toConnectError(asCallError(err, logger));
        }
      };
      router.rpc(registered.method, impl as unknown as MethodImpl<DescMethod>);
    }
  };
}
