import type { NodeResponse } from "./http-types.js";
import { sendJson } from "./http-types.js";

export interface DependencyCheck {
  readonly name: string;
  /**
   * Whether a failure makes this instance unready. Shared downstream services
   * (LiveKit) are reported but not critical: taking every instance out of the
   * load balancer because LiveKit is down would turn clear 503 answers into
   * connection errors.
   */
  readonly critical: boolean;
  /** Throws when failing; may return details shown beside the status. */
  check(): Promise<Record<string, unknown> | void>;
}

/** `/healthz` (the process is alive) and `/readyz` (it should get traffic), with a status per dependency. */
export class Health {
  private draining = false;

  constructor(private readonly checks: readonly DependencyCheck[]) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** Called on shutdown: readiness goes false so load balancers stop sending traffic. */
  startDraining(): void {
    this.draining = true;
  }

  liveness(res: NodeResponse): void {
    sendJson(res, 200, { status: "ok" });
  }

  async readiness(res: NodeResponse): Promise<void> {
    const results = await Promise.all(
      this.checks.map(async (c) => {
        try {
          const details = (await c.check()) ?? {};
          return { name: c.name, critical: c.critical, ok: true, status: "ok", details };
        } catch (err) {
          const details = { error: err instanceof Error ? err.message : String(err), ...detailsOf(err) };
          return { name: c.name, critical: c.critical, ok: false, status: err instanceof CheckFailed ? err.status : "failing", details };
        }
      }),
    );
    const ready = !this.draining && results.every((r) => r.ok || !r.critical);
    const dependencies = Object.fromEntries(
      results.map((r) => [r.name, { status: r.status, ...r.details }]),
    );
    sendJson(res, ready ? 200 : 503, { status: this.draining ? "draining" : ready ? "ready" : "unready", dependencies });
  }
}

/**
 * A failing check that still has details to show (e.g. the outbox backlog
 * while NATS is away), or a more telling status than "failing" (LiveKit
 * refusing our key is "unauthorized": a misconfiguration, not an outage).
 */
export class CheckFailed extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
    readonly status: string = "failing",
  ) {
    super(message);
  }
}

function detailsOf(err: unknown): Record<string, unknown> {
  return err instanceof CheckFailed ? err.details : {};
}

/** Runs a probe at most once per `ttlMs`, so readiness polling does not hammer a dependency. */
export function cachedProbe(probe: () => Promise<void>, ttlMs: number, now: () => number = Date.now): () => Promise<void> {
  let last: { at: number; result: Promise<void> } | undefined;
  return () => {
    if (!last || now() - last.at >= ttlMs) {
      last = { at: now(), result: probe() };
      last.result.catch(() => undefined);
    }
    return last.result;
  };
}
