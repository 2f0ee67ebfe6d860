import type { OutboxEntry, OutboxRelayLease, OutboxStore } from "../../app/ports.js";

/**
 * An OutboxStore used from another thread: the relay thread calls it, the
 * thread that owns the store runs each call there and answers. SQLite needs
 * this: its writer is the request thread's connection (group commit), so the
 * relay's marks must be written there; a second connection would take the
 * write lock the request thread needs.
 */

/** What crosses the port: a call one way, its outcome the other. */
export type OutboxCall =
  | { readonly op: "acquire" }
  | { readonly op: "pending"; readonly limit: number }
  | { readonly op: "markSent"; readonly seqs: readonly number[]; readonly at: number }
  | { readonly op: "pruneSent"; readonly before: number }
  | { readonly op: "release" }
  | { readonly op: "backlog" };

export interface OutboxCallMessage {
  readonly type: "outbox-call";
  readonly id: number;
  readonly call: OutboxCall;
}

export interface OutboxReplyMessage {
  readonly type: "outbox-reply";
  readonly id: number;
  readonly value?: unknown;
  /** The failure's message: the caller treats any failure as "the store is away" and retries. */
  readonly error?: string;
}

/** A port as both sides use it (a Worker, or a worker's parentPort). */
export interface Port {
  postMessage(message: unknown): void;
}

/**
 * The owning side: runs the calls the relay thread sends against `store`.
 * `onWritten` is what the lease's holder is told on new events; here the
 * owner kicks the relay thread itself after each commit, so it is unused.
 */
export class OutboxStoreServer {
  private lease: OutboxRelayLease | undefined;

  constructor(
    private readonly store: OutboxStore,
    private readonly port: Port,
  ) {}

  /** Answers one call; returns false for a message that is not an outbox call. */
  handle(message: unknown): boolean {
    if (!isCall(message)) return false;
    this.run(message.call).then(
      (value) => this.port.postMessage({ type: "outbox-reply", id: message.id, value } satisfies OutboxReplyMessage),
      (err: unknown) =>
        this.port.postMessage({
          type: "outbox-reply",
          id: message.id,
          error: err instanceof Error ? err.message : String(err),
        } satisfies OutboxReplyMessage),
    );
    return true;
  }

  private async run(call: OutboxCall): Promise<unknown> {
    switch (call.op) {
      case "acquire":
        this.lease ??= await this.store.acquireRelay(() => undefined);
        return this.lease !== undefined;
      case "backlog":
        return this.store.backlog();
      case "release": {
        const lease = this.lease;
        this.lease = undefined;
        await lease?.release();
        return undefined;
      }
      default: {
        const lease = this.lease;
        if (!lease) throw new Error("the relay lease is not held");
        if (call.op === "pending") return lease.pending(call.limit);
        if (call.op === "markSent") return lease.markSent(call.seqs, call.at);
        return lease.pruneSent(call.before);
      }
    }
  }
}

/** The relay thread's side: an OutboxStore whose every call is answered by the owning thread. */
export class OutboxStoreClient implements OutboxStore {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();

  constructor(private readonly port: Port) {}

  /** Settles the call a reply answers; returns false for a message that is not a reply. */
  handle(message: unknown): boolean {
    if (!isReply(message)) return false;
    const waiter = this.waiting.get(message.id);
    this.waiting.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.value);
    return true;
  }

  async acquireRelay(): Promise<OutboxRelayLease | undefined> {
    if (!(await this.call({ op: "acquire" }))) return undefined;
    return {
      pending: (limit) => this.call({ op: "pending", limit }) as Promise<OutboxEntry[]>,
      markSent: async (seqs, at) => void (await this.call({ op: "markSent", seqs, at })),
      pruneSent: (before) => this.call({ op: "pruneSent", before }) as Promise<number>,
      release: () => this.call({ op: "release" }).then(() => undefined, () => undefined),
    };
  }

  backlog(): Promise<{ readonly pending: number; readonly oldestCreatedAt: number | undefined }> {
    return this.call({ op: "backlog" }) as Promise<{ pending: number; oldestCreatedAt: number | undefined }>;
  }

  private call(call: OutboxCall): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ type: "outbox-call", id, call } satisfies OutboxCallMessage);
    });
  }
}

function isCall(message: unknown): message is OutboxCallMessage {
  return (message as { type?: unknown } | null)?.type === "outbox-call";
}

function isReply(message: unknown): message is OutboxReplyMessage {
  return (message as { type?: unknown } | null)?.type === "outbox-reply";
}
