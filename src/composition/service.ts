import type { Config } from "../config.js";
import { createAppContext, type AppContext, type AppOverrides } from "./app-context.js";
import { startBackground } from "./background.js";
import { buildServer, type HttpServer } from "./http-server.js";

/** One service process: its dependencies, its listeners (not yet listening) and, once started, its background work. */
export interface Service extends AsyncDisposable {
  readonly ctx: AppContext;
  readonly server: HttpServer;
  /** Starts the relay, timers, reconciliation and the inline worker. */
  start(): void;
  /** Drains the listeners, stops the background work, then closes the store. */
  close(): Promise<void>;
}

export async function createService(config: Config, overrides: AppOverrides = {}): Promise<Service> {
  const ctx = await createAppContext(config, overrides);
  const server = buildServer(ctx);
  let background: AsyncDisposable | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await server.close();
      await background?.[Symbol.asyncDispose]();
      await ctx.close();
    })());
  return {
    ctx,
    server,
    start() {
      if (closing) throw new Error("the service is shutting down");
      background ??= startBackground(ctx, "service");
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
