import { create, type DescMessage, type DescMethod, type DescMethodUnary, type DescService, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Principal } from "../../adapters/auth/jwt-authenticator.js";
import { isCallError } from "../../domain/errors.js";

/** What a handler knows about the request beyond its message. */
export interface RpcContext {
  readonly principal: Principal;
  readonly signal: AbortSignal;
  /** rest, connect, grpc or grpc-web (connect-node's protocol names): for metrics. */
  readonly protocol: string;
}

export interface RegistryHooks {
  /** Runs after the access rule on every call (rate limits), whatever the transport. */
  readonly admit?: (principal: Principal, method: DescMethod) => void;
  /** Told the outcome (`ok` or the SW_CALL_* code) and duration of every call. */
  readonly observe?: (method: DescMethod, protocol: string, outcome: string, seconds: number) => void;
  /** Awaited before a result is returned: resolves once what the call wrote or read is committed (group commit). */
  readonly settle?: () => Promise<void>;
}

type UnaryImpl<M> = M extends DescMethodUnary<infer I extends DescMessage, infer O extends DescMessage>
  ? (input: MessageShape<I>, ctx: RpcContext) => Promise<MessageInitShape<O>> | MessageInitShape<O>
  : never;

/** A transport-neutral implementation of every unary method of a service. */
export type ServiceHandlers<S extends DescService> = { [K in keyof S["method"]]: UnaryImpl<S["method"][K]> };

/** Checks that a principal may call a service at all (per-call rules live in the use cases). */
export type AccessRule = (principal: Principal) => void;

export interface RegisteredMethod {
  readonly service: DescService;
  readonly method: DescMethod;
  /** Runs the access rule, then the handler. Throws CallError. */
  invoke(input: Message, ctx: RpcContext): Promise<Message>;
}

/**
 * The handlers every transport serves: Connect/gRPC/gRPC-web routes and the
 * REST gateway look methods up here, so each RPC is implemented once.
 */
export class RpcRegistry {
  private readonly byMethod = new Map<DescMethod, RegisteredMethod>();
  private readonly serviceList: DescService[] = [];

  constructor(private readonly hooks: RegistryHooks = {}) {}

  register<S extends DescService>(service: S, handlers: ServiceHandlers<S>, access: AccessRule): this {
    this.serviceList.push(service);
    for (const method of service.methods) {
      const impl = (handlers as Record<string, (input: Message, ctx: RpcContext) => unknown>)[method.localName];
      if (!impl) throw new Error(`no handler for ${method.parent.typeName}.${method.name}`);
      const { admit, observe, settle } = this.hooks;
      this.byMethod.set(method, {
        service,
        method,
        async invoke(input, ctx) {
          const started = performance.now();
          let outcome = "ok";
          try {
            access(ctx.principal);
            admit?.(ctx.principal, method);
            const output = await impl(input, ctx);
            await settle?.();
            return create(method.output, output as MessageInitShape<typeof method.output>);
          } catch (err) {
            outcome = isCallError(err) ? err.code : "SW_CALL_INTERNAL";
            throw err;
          } finally {
            observe?.(method, ctx.protocol, outcome, (performance.now() - started) / 1000);
          }
        },
      });
    }
    return this;
  }

  get services(): readonly DescService[] {
    return this.serviceList;
  }

  methods(): IterableIterator<RegisteredMethod> {
    return this.byMethod.values();
  }
}
