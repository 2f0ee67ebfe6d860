import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeResponse } from "./http-types.js";

/** What the gauges read when Prometheus scrapes. */
export interface MetricSources {
  liveCalls(): Promise<{ ringing: number; active: number }>;
  outboxBacklog(): Promise<{ pending: number; oldestAgeSeconds: number }>;
  /** Whether this instance holds the relay lease (publishes the outbox). */
  relayPublishing(): boolean;
  /** The database connection pool, when the store has one (PostgreSQL). */
  databasePool?: () => { readonly total: number; readonly idle: number; readonly waiting: number; readonly errors: number };
}

/**
 * Prometheus metrics of one service instance, in its own registry (no
 * global state: tests run several instances in one process).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"rpc" | "protocol" | "code">;
  private readonly latency: Histogram<"rpc" | "protocol">;
  private readonly webhooks: Counter<"outcome">;
  private readonly livekitLatency: Histogram<"operation" | "result">;
  /** Per "rpc protocol code": that RPC's counter and histogram series (codes come from the error catalogue: bounded). */
  private readonly rpcSeries = new Map<string, { count: Counter.Internal; latency: Histogram.Internal<"rpc" | "protocol"> }>();

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: "scaiwave_calls_" });
    this.requests = new Counter({
      name: "scaiwave_calls_rpc_requests_total",
      help: "RPCs handled, by RPC, protocol (rest, connect, grpc, grpc-web) and outcome (ok or SW_CALL_* code)",
      labelNames: ["rpc", "protocol", "code"],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: "scaiwave_calls_rpc_duration_seconds",
      help: "RPC handling time in seconds, by RPC and protocol",
      labelNames: ["rpc", "protocol"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.webhooks = new Counter({
      name: "scaiwave_calls_webhooks_total",
      help: "LiveKit webhooks, by outcome (processed, duplicate, ignored, rejected, failed)",
      labelNames: ["outcome"],
      registers: [this.registry],
    });
    this.livekitLatency = new Histogram({
      name: "scaiwave_calls_livekit_request_duration_seconds",
      help: "Calls to LiveKit's server API in seconds, by operation and result",
      labelNames: ["operation", "result"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    new Gauge({
      name: "scaiwave_calls_live_calls",
      help: "Calls not ended, by status",
      labelNames: ["status"],
      registers: [this.registry],
      async collect() {
        const { ringing, active } = await sources.liveCalls();
        this.set({ status: "ringing" }, ringing);
        this.set({ status: "active" }, active);
      },
    });
    new Gauge({
      name: "scaiwave_calls_outbox_pending_events",
      help: "Events committed but not yet acknowledged by NATS",
      registers: [this.registry],
      async collect() {
        this.set((await sources.outboxBacklog()).pending);
      },
    });
    new Gauge({
      name: "scaiwave_calls_outbox_oldest_pending_seconds",
      help: "Age of the oldest event waiting for NATS (0 when none)",
      registers: [this.registry],
      async collect() {
        this.set((await sources.outboxBacklog()).oldestAgeSeconds);
      },
    });
    new Gauge({
      name: "scaiwave_calls_outbox_relay_publishing",
      help: "1 on the instance that holds the relay lease and publishes the outbox, 0 on standbys (the cluster's sum should be 1)",
      registers: [this.registry],
      collect() {
        this.set(sources.relayPublishing() ? 1 : 0);
      },
    });
    if (sources.databasePool) this.registerPoolMetrics(sources.databasePool);
  }

  /** The pool's gauges (PostgreSQL only): connections in use and idle, requests waiting for one, connections that failed. */
  private registerPoolMetrics(pool: NonNullable<MetricSources["databasePool"]>): void {
    new Gauge({
      name: "scaiwave_calls_db_pool_connections",
      help: "Database pool connections by state (in_use, idle) and requests waiting for one (waiting)",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        const { total, idle, waiting } = pool();
        this.set({ state: "in_use" }, total - idle);
        this.set({ state: "idle" }, idle);
        this.set({ state: "waiting" }, waiting);
      },
    });
    new Gauge({
      name: "scaiwave_calls_db_pool_errors",
      help: "Pooled database connections that failed (the server restarted, the network dropped) since start",
      registers: [this.registry],
      collect() {
        this.set(pool().errors);
      },
    });
  }

  observeRpc(rpc: string, protocol: string, code: string, seconds: number): void {
    // The series are looked up once each: given a label object, prom-client sorts and hashes it on every call.
    const key = `${rpc} ${protocol} ${code}`;
    let series = this.rpcSeries.get(key);
    if (!series) {
      series = { count: this.requests.labels({ rpc, protocol, code }), latency: this.latency.labels({ rpc, protocol }) };
      this.rpcSeries.set(key, series);
    }
    series.count.inc();
    series.latency.observe(seconds);
  }

  observeWebhook(outcome: string): void {
    this.webhooks.inc({ outcome });
  }

  /** Times a LiveKit API call. */
  async timeLiveKit<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const end = this.livekitLatency.startTimer({ operation });
    try {
      const result = await call();
      end({ result: "ok" });
      return result;
    } catch (err) {
      end({ result: "error" });
      throw err;
    }
  }

  async serve(res: NodeResponse): Promise<void> {
    const body = await this.registry.metrics();
    res.writeHead(200, { "content-type": this.registry.contentType, "cache-control": "no-store" });
    res.end(body);
  }
}
