import { create, type DescMessage, type DescMethod, type DescMethodUnary, type DescService, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Authenticator, Principal } from "../../app/ports.js";
import { isCallError } from "../../domain/errors.js";
import type { RateClass, RateLimiter } from "../rate-limiter.js";
import { validateRequest } from "./request-validation.js";

/** What a transport knows of one call before the registry takes it over. */
export interface RpcRequest {
  /** The `Authorization` header (or gRPC metadata) exactly as received. */
  readonly authorization: string | null | undefined;
  readonly signal: AbortSignal;
  /** rest, connect, grpc or grpc-web (connect-node's protocol names): for metrics. */
  readonly protocol: string;
  /** The request's id (answered as X-Request-Id): the caller carries it to the events the call causes. */
  readonly requestId: string;
}

/** What a handler knows about the request beyond its message: who calls, typed per service. */
export interface RpcContext<C> {
  readonly caller: C;
  readonly signal: AbortSignal;
  readonly protocol: string;
}

type UnaryImpl<M, C> = M extends DescMethodUnary<infer I extends DescMessage, infer O extends DescMessage>
  ? (input: MessageShape<I>, ctx: RpcContext<C>) => Promise<MessageInitShape<O>> | MessageInitShape<O>
  : never;

/** A transport-neutral implementation of every unary method of a service, for callers of type `C`. */
export type ServiceHandlers<S extends DescService, C> = { [K in keyof S["method"]]: UnaryImpl<S["method"][K], C> };

/** How a service is served: its handlers, who may call it, and how its callers are rate-limited. */
export interface Registration<S extends DescService, C> {
  readonly handlers: ServiceHandlers<S, C>;
  /** Turns a verified principal, in request `requestId`, into the caller the handlers take, or throws (401/403). */
  readonly access: (principal: Principal, requestId: string) => C;
  /**
   * Per-caller rate limits: each caller's budget key, and the class of each
   * method (unnamed methods: `other`). Absent: the service is never limited
   * (internal callers).
   */
  readonly rateLimit?: {
    readonly key: (caller: C) => string;
    readonly classes?: { readonly [K in keyof S["method"]]?: RateClass };
  };
}

export interface RegistryDeps {
  /** Every call's bearer token is verified here, once, whatever the transport. */
  readonly authenticator: Authenticator;
  /** Takes one request from the caller's budget of a class or rejects with SW_CALL_RATE_LIMITED. */
  readonly limiter?: RateLimiter;
  /** Told the outcome (`ok` or the SW_CALL_* code) and duration of every call, a refused token included. */
  readonly observe?: (method: DescMethod, protocol: string, outcome: string, seconds: number) => void;
  /**
   * Awaited before a result is returned: resolves once what the call read is committed (group commit: another
   * request's write it saw may still be in an open group). Its own writes are committed when they resolve.
   */
  readonly settle?: () => Promise<void>;
}

export interface RegisteredMethod {
  readonly service: DescService;
  readonly method: DescMethod;
  /**
   * Authenticates, checks access, takes one request from its rate limit, decodes the input
   * (lazily: an anonymous caller learns nothing about its request), checks it
   * against its `buf.validate` rules, runs the handler and waits for its
   * writes to commit. Throws CallError.
   */
  invoke(request: RpcRequest, input: () => Message | Promise<Message>): Promise<Message>;
}

/**
 * The handlers every transport serves: Connect/gRPC/gRPC-web routes, the
 * grpc-js listener and the REST gateway look methods up here, so each RPC is
 * implemented, authenticated, authorised and limited once.
 */
export class RpcRegistry {
  private readonly byMethod = new Map<DescMethod, RegisteredMethod>();
  private readonly serviceList: DescService[] = [];

  constructor(private readonly deps: RegistryDeps) {}

  register<S extends DescService, C>(service: S, registration: Registration<S, C>): this {
    this.serviceList.push(service);
    const { authenticator, limiter, observe, settle } = this.deps;
    const { access, rateLimit } = registration;
    for (const method of service.methods) {
      const impl = (registration.handlers as Record<string, (input: Message, ctx: RpcContext<C>) => unknown>)[method.localName];
      if (!impl) throw new Error(`no handler for ${method.parent.typeName}.${method.name}`);
      const rateClass: RateClass = (rateLimit?.classes as Record<string, RateClass> | undefined)?.[method.localName] ?? "other";
      this.byMethod.set(method, {
        service,
        method,
        async invoke(request, input) {
          const started = performance.now();
          let outcome = "ok";
          try {
            const caller = access(await authenticator.authenticate(request.authorization), request.requestId);
            if (rateLimit && limiter) await limiter.take(rateLimit.key(caller), rateClass);
            const message = await input();
            validateRequest(method.input, message);
            // The signal is read through, not copied: a transport may make it only when asked.
            const output = await impl(message, {
              caller,
              get signal() {
                return request.signal;
              },
              protocol: request.protocol,
            });
            await settle?.();
            return create(method.output, output as MessageInitShape<typeof method.output>);
          } catch (err) {
            outcome = isCallError(err) ? err.code : "SW_CALL_INTERNAL";
            throw err;
          } finally {
            observe?.(method, request.protocol, outcome, (performance.now() - started) / 1000);
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
