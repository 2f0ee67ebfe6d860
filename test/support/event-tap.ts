import { connect, type NatsConnection, type Subscription } from "nats";
import { expect } from "vitest";
import type { RunningService } from "./service.js";

/** An event as the WebSocket tier receives it. */
export interface Envelope {
  id: string;
  type: string;
  ts: string;
  tenant_id: string;
  room_id: string;
  call_id: string;
  data: Record<string, unknown>;
  request_id: string | null;
  /** The subject it arrived on (not part of the envelope). */
  subject: string;
}

/**
 * Subscribes to every call event with core NATS, as the WebSocket tier does,
 * and keeps them in arrival order.
 */
export class EventTap implements AsyncDisposable {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly sub: Subscription,
    readonly received: Envelope[],
    private readonly waiters: Set<() => void>,
  ) {}

  static async start(url: string): Promise<EventTap> {
    const nc = await connect({ servers: url, name: "test-websocket-tier" });
    // A callback, not an async iterator: nats.js calls it as each message is
    // parsed, so by the time a later flush() (PONG) resolves every message
    // before it is recorded. An iterator's loop could still be behind, and
    // settle() would then return before the last events were seen.
    const received: Envelope[] = [];
    const waiters = new Set<() => void>();
    const sub = nc.subscribe("swp.>", {
      callback: (err, msg) => {
        if (err) return;
        received.push({ ...(JSON.parse(msg.string()) as Envelope), subject: msg.subject });
        for (const wake of waiters) wake();
      },
    });
    const tap = new EventTap(nc, sub, received, waiters);
    await nc.flush();
    return tap;
  }

  /** Events of one call on one subject, as `type` or `type(detail)` strings for readable assertions. */
  sequence(subject: string, callId: string): string[] {
    return this.received
      .filter((e) => e.subject === subject && e.call_id === callId)
      .map((e) => {
        const detail = e.data["participant_id"] ?? e.data["user_id"] ?? e.data["reason"] ?? e.data["end_reason"];
        return detail === undefined ? e.type : `${e.type}(${String(detail)})`;
      });
  }

  /** Resolves with the first event (already received or arriving) that matches. */
  waitFor(match: (e: Envelope) => boolean, timeoutMs = 20_000): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.received.find(match);
        if (!found) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  forCall(callId: string): Envelope[] {
    return this.received.filter((e) => e.call_id === callId);
  }

  /**
   * Waits until the service has published everything it committed (its
   * outbox is empty), then round-trips to NATS on this connection: NATS
   * delivers in order, so after the PONG every published event is here.
   */
  async settle(service: RunningService, timeoutMs = 20_000): Promise<void> {
    const pending = async () => (await service.app.outbox.backlog()).pending;
    await expect.poll(pending, { message: "unsent events in the outbox", timeout: timeoutMs, interval: 10 }).toBe(0);
    await this.nc.flush();
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.nc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
