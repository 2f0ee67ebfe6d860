import { createInbox, headers, type Msg, type NatsConnection, type NatsError, type Subscription } from "nats";

/** One message to publish to JetStream, with the headers JetStream acts on. */
export interface AckedMessage {
  readonly subject: string;
  readonly payload: string;
  /** `Nats-Msg-Id`: JetStream drops a repeat within the stream's duplicate window. */
  readonly msgId: string;
  /** `Nats-Expected-Last-Msg-Id`: JetStream refuses the message unless the stream's last message has this id. */
  readonly expectedLastMsgId?: string | undefined;
}

/** JetStream's answer to a refused publish (its API error). */
export interface JetStreamApiError {
  readonly code?: number;
  readonly err_code?: number;
  readonly description?: string;
}

/** JetStream received a message and refused it (a wrong expected last msg id, a limit, ...). */
export class JetStreamRefusal extends Error {
  constructor(
    readonly subject: string,
    readonly apiError: JetStreamApiError,
  ) {
    super(`JetStream refused a message on ${subject}: ${apiError.description ?? "no description"} (err_code ${apiError.err_code ?? "?"})`);
    this.name = "JetStreamRefusal";
  }
}

/** A batch in flight: one slot per message, settled by its ack, a failure, or the batch's deadline. */
interface Batch {
  readonly subjects: string[];
  /** The reply subject of each message written. */
  readonly replies: string[];
  /** `null`: acknowledged; an Error: failed; undefined: not settled yet. */
  readonly results: (Error | null | undefined)[];
  remaining: number;
  timer: NodeJS.Timeout | undefined;
  done(): void;
}

/**
 * JetStream publishes and their acks on core NATS: every message is written
 * with a reply subject under one inbox of this connection, and one
 * subscription to that inbox hears every ack. nats.js's `js.publish` goes
 * through `nc.request`, whose clean-up after a *successful* reply builds a
 * NatsError with a stack trace it then discards (RequestOne.cancel), besides
 * a timer and several promises per message: ~20 µs of CPU per event, ~8 µs
 * here. A batch here is one deadline and one promise, however many messages
 * it holds.
 */
export class PublishAcks {
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  /** Reply subject of each message still waiting for its ack. */
  private readonly waiting = new Map<string, { readonly batch: Batch; readonly index: number }>();
  private sequence = 0;

  constructor(private readonly nc: NatsConnection) {
    this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => this.onReply(err, msg) });
    // A closed connection answers nothing more: what still waits fails now rather than at its deadline.
    void this.subscription.closed.then(() => this.failWaiting(new Error("the NATS connection closed before JetStream acknowledged")));
  }

  /**
   * Writes `messages` in order, synchronously (JetStream stores them in that
   * order), then awaits their acks. Returns each message's outcome: null when
   * JetStream stored it (or had it already: a duplicate), else why not. A
   * message that cannot be written (too large, connection closed) fails, and
   * the ones after it are not written.
   */
  publish(messages: readonly AckedMessage[], timeoutMs: number): Promise<(Error | null)[]> {
    return new Promise((resolve) => {
      const batch: Batch = {
        subjects: messages.map((m) => m.subject),
        replies: [],
        results: new Array<Error | null | undefined>(messages.length).fill(undefined),
        remaining: messages.length,
        timer: undefined,
        done: () => {
          clearTimeout(batch.timer);
          resolve(batch.results.map((r) => (r === undefined ? new Error("not published: an earlier message of the batch failed") : r)));
        },
      };
      for (let index = 0; index < messages.length; index++) {
        const { subject, payload, msgId, expectedLastMsgId } = messages[index]!;
        const reply = `${this.inbox}.${(this.sequence++).toString(36)}`;
        const h = headers();
        h.set("Nats-Msg-Id", msgId);
        if (expectedLastMsgId !== undefined) h.set("Nats-Expected-Last-Msg-Id", expectedLastMsgId);
        try {
          this.nc.publish(subject, payload, { reply, headers: h });
        } catch (err) {
          batch.results[index] = asError(err);
          batch.remaining = index; // the failed one and the unwritten rest settle here
          break;
        }
        this.waiting.set(reply, { batch, index });
        batch.replies.push(reply);
      }
      if (batch.remaining === 0) {
        batch.done();
        return;
      }
      batch.timer = setTimeout(() => this.expire(batch, timeoutMs), timeoutMs);
    });
  }

  private onReply(err: NatsError | null, msg: Msg): void {
    if (err) {
      this.failWaiting(err);
      return;
    }
    const entry = this.waiting.get(msg.subject);
    if (!entry) return; // an ack after its batch's deadline
    this.waiting.delete(msg.subject);
    const { batch, index } = entry;
    this.settle(batch, index, ackError(msg, batch.subjects[index]!));
  }

  private settle(batch: Batch, index: number, result: Error | null): void {
    if (batch.results[index] !== undefined) return;
    batch.results[index] = result;
    if (--batch.remaining === 0) batch.done();
  }

  private expire(batch: Batch, timeoutMs: number): void {
    batch.replies.forEach((reply, index) => {
      if (!this.waiting.delete(reply)) return;
      this.settle(batch, index, new Error(`no JetStream ack for a message on ${batch.subjects[index]} within ${timeoutMs} ms`));
    });
  }

  private failWaiting(err: Error): void {
    const entries = [...this.waiting.values()];
    this.waiting.clear();
    for (const { batch, index } of entries) this.settle(batch, index, err);
  }
}

/** Null for a PubAck of a stored (or duplicate) message; otherwise why JetStream did not store it. */
function ackError(msg: Msg, subject: string): Error | null {
  if (msg.data.length === 0) {
    // A status message, not an ack: 503 when nothing listens on the subject (no stream captures it).
    const status = msg.headers?.code ?? 0;
    return status === 503
      ? new Error(`no JetStream stream captures subject ${subject} (no responders)`)
      : new Error(`JetStream answered a message on ${subject} with status ${status} ${msg.headers?.description ?? ""}`.trim());
  }
  let ack: { stream?: unknown; error?: JetStreamApiError };
  try {
    ack = msg.json();
  } catch (err) {
    return new Error(`JetStream's answer to a message on ${subject} is not JSON`, { cause: err });
  }
  if (ack.error) return new JetStreamRefusal(subject, ack.error);
  if (typeof ack.stream !== "string" || ack.stream === "") return new Error(`JetStream's ack of a message on ${subject} names no stream`);
  return null;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
