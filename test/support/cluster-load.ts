import type { ClusterInstance, ServiceCluster } from "./service-cluster.js";
import { signWebhook, webhookBody } from "./webhook-signer.js";

/**
 * A mixed load on a service cluster, as several concurrent clients make it:
 * each client owns one room and cycles through call lifecycles (talk and
 * leave, ended by the host, rejected by everyone, LiveKit webhooks each
 * delivered to two instances at once, glare), sending every request to the
 * next live instance in turn. A request that fails with a connection error
 * (its instance died) was not acknowledged: the client sends it again to
 * another instance, as a real client or LiveKit's webhook retry would. What
 * was acknowledged, refused, and failed is recorded for the checks after.
 */

export type Member = "alice" | "bob" | "carol";
export type AckKind = "initiate" | "join" | "leave" | "reject" | "end" | "webhook";

/** A change the service acknowledged (answered 200). */
export interface Ack {
  /** Position among all acknowledgements: within one call, the order its changes were acknowledged in. */
  readonly order: number;
  readonly kind: AckKind;
  readonly roomId: string;
  readonly callId: string;
  /** Who asked (for a webhook: the participant it reports). */
  readonly userId: string;
  /** The call as the answer showed it (leave, reject, end). */
  readonly call?: { readonly status: string; readonly end_reason: string | null };
  /** For a webhook: its event, id and the outcome of this delivery. */
  readonly webhook?: { readonly event: WebhookEvent; readonly id: string; readonly outcome: string };
}

/** An answer that refused a change with an error the scenario allows (the call had ended). */
export interface Refusal {
  readonly kind: AckKind;
  readonly callId: string;
  readonly code: string;
  /** A request of this cycle failed with a connection error before: it may have made this change already. */
  readonly afterConnectionError: boolean;
}

export interface ConnectionFailure {
  readonly instance: number;
  readonly kind: AckKind;
  readonly message: string;
}

/** One webhook sent to two instances at the same moment. */
export interface DoubleDelivery {
  readonly id: string;
  readonly event: WebhookEvent;
  readonly callId: string;
  /** The outcome of each delivery that was answered (a delivery cut by a dying instance is retried elsewhere). */
  readonly outcomes: readonly string[];
}

type WebhookEvent = "participant_joined" | "participant_left";

export interface LoadRecord {
  readonly acks: Ack[];
  readonly refusals: Refusal[];
  /** Answers no scenario allows (5xx, unexpected 4xx), as readable lines. */
  readonly unexpected: string[];
  readonly connectionFailures: ConnectionFailure[];
  /** Each glare: the call ids the two concurrent initiates got. */
  readonly glares: { readonly roomId: string; readonly callIds: readonly string[] }[];
  readonly doubleDeliveries: DoubleDelivery[];
}

export interface ClusterLoadOptions {
  readonly cluster: ServiceCluster;
  /** One room per client; alice (power level 50, so she may end any call), bob and carol are members. */
  readonly rooms: readonly string[];
  readonly tokens: Readonly<Record<Member, string>>;
  /** LiveKit's API key and secret: webhooks are signed with them, as LiveKit signs its own. */
  readonly liveKit: { readonly apiKey: string; readonly apiSecret: string };
  /** A request not answered within this is a hang: the load fails. */
  readonly requestTimeoutMs: number;
}

export interface ClusterLoad {
  readonly record: LoadRecord;
  /** Changes acknowledged so far. */
  acknowledged(): number;
  /** Lets every client finish its current call, then resolves (rejects if a client failed). */
  stop(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly instance: number;
  readonly data: Record<string, unknown> | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

/** A connection attempt this many times in a row without an answer is not a dead instance but a failure. */
const MAX_ATTEMPTS = 20;

export function startClusterLoad(options: ClusterLoadOptions): ClusterLoad {
  const record: LoadRecord = { acks: [], refusals: [], unexpected: [], connectionFailures: [], glares: [], doubleDeliveries: [] };
  let stopping = false;
  const clients = options.rooms.map((roomId, index) => runClient(new Client(options, record, roomId, index), () => stopping));
  const done = Promise.all(clients);
  // Awaited by stop(); a failure meanwhile must not go unhandled.
  done.catch(() => undefined);
  return {
    record,
    acknowledged: () => record.acks.length,
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}

async function runClient(client: Client, stopping: () => boolean): Promise<void> {
  const cycles = [talk, endedByHost, rejectedByEveryone, mediaWebhooks, glare];
  for (let n = client.index; !stopping(); n++) {
    client.connectionErrorInCycle = false;
    await cycles[n % cycles.length]!(client);
  }
}

/** bob and carol join, then everyone leaves: the last one out ends the call (all_left). */
async function talk(c: Client): Promise<void> {
  const callId = await c.initiate("alice");
  if (!callId) return;
  for (const [kind, who] of [
    ["join", "bob"],
    ["join", "carol"],
    ["leave", "bob"],
    ["leave", "carol"],
    ["leave", "alice"],
  ] as const) {
    if (!(await c.change(kind, who, callId))) return;
  }
}

/** bob answers, alice ends the call for everyone. */
async function endedByHost(c: Client): Promise<void> {
  const callId = await c.initiate("alice");
  if (!callId) return;
  if (!(await c.change("join", "bob", callId))) return;
  await c.change("end", "alice", callId);
}

/** Everyone rung declines: the call ends (rejected). */
async function rejectedByEveryone(c: Client): Promise<void> {
  const callId = await c.initiate("alice");
  if (!callId) return;
  if (!(await c.change("reject", "bob", callId))) return;
  await c.change("reject", "carol", callId);
}

/** LiveKit reports bob's media joining and leaving, each webhook delivered to two instances at once; alice ends. */
async function mediaWebhooks(c: Client): Promise<void> {
  const callId = await c.initiate("alice");
  if (!callId) return;
  const sid = `PA_${callId.slice(-10)}`;
  await c.deliverTwice("participant_joined", callId, "bob", sid);
  await c.deliverTwice("participant_left", callId, "bob", sid);
  await c.change("end", "alice", callId);
}

/** alice and bob start a call in the same room at the same moment, on two instances: one call, both in it. */
async function glare(c: Client): Promise<void> {
  const [a, b] = c.twoInstances();
  const callIds = await Promise.all([c.initiate("alice", a), c.initiate("bob", b)]);
  const ids = callIds.filter((id): id is string => id !== undefined);
  c.record.glares.push({ roomId: c.roomId, callIds: ids });
  if (ids[0]) await c.change("end", "alice", ids[0]);
}

class Client {
  /** Whether a request of the current cycle failed with a connection error (so its change may have been made). */
  connectionErrorInCycle = false;
  private turn: number;

  constructor(
    private readonly options: ClusterLoadOptions,
    readonly record: LoadRecord,
    readonly roomId: string,
    readonly index: number,
  ) {
    this.turn = index;
  }

  /** Starts a call in the client's room (or joins its live one); its id, or undefined if refused. */
  async initiate(who: Member, from?: number): Promise<string | undefined> {
    const answer = await this.send("initiate", "/v1/calls/initiate", { token: who, json: { room_id: this.roomId, type: "audio" } }, from);
    const callId = answer.data?.["call_id"];
    if (answer.status === 200 && typeof callId === "string") {
      this.ack({ kind: "initiate", callId, userId: who });
      return callId;
    }
    this.refused("initiate", "", answer);
    return undefined;
  }

  /** join, leave, reject or end as `who`; whether it was acknowledged. */
  async change(kind: "join" | "leave" | "reject" | "end", who: Member, callId: string): Promise<boolean> {
    const answer = await this.send(kind, `/v1/calls/${callId}/${kind}`, { token: who });
    if (answer.status !== 200) {
      this.refused(kind, callId, answer);
      return false;
    }
    const call = kind === "join" ? undefined : (answer.data as { status: string; end_reason: string | null });
    this.ack({ kind, callId, userId: who, ...(call && { call: { status: call.status, end_reason: call.end_reason } }) });
    return true;
  }

  /** One signed webhook, delivered to two different instances at the same moment. */
  async deliverTwice(event: WebhookEvent, callId: string, identity: Member, sid: string): Promise<void> {
    const body = webhookBody({ event, room: { name: `scaiwave-${callId}` }, participant: { sid, identity } });
    const id = (JSON.parse(body) as { id: string }).id;
    const authorization = await signWebhook(body, this.options.liveKit.apiKey, this.options.liveKit.apiSecret);
    const answers = await Promise.all(
      this.twoInstances().map((from) =>
        this.send("webhook", "/v1/calls/webhook", { body, headers: { "content-type": "application/webhook+json", authorization } }, from),
      ),
    );
    const outcomes: string[] = [];
    for (const answer of answers) {
      const outcome = answer.data?.["outcome"];
      if (answer.status === 200 && typeof outcome === "string") {
        outcomes.push(outcome);
        this.ack({ kind: "webhook", callId, userId: identity, webhook: { event, id, outcome } });
      } else {
        this.refused("webhook", callId, answer);
      }
    }
    this.record.doubleDeliveries.push({ id, event, callId, outcomes });
  }

  /** Two different instances that run now, the next two in this client's turn. */
  twoInstances(): [number, number] {
    const first = this.live(this.turn++);
    const second = this.live(first.index + 1);
    return [first.index, second.index];
  }

  /**
   * One request, to the next live instance in turn (or to `from`); a connection error (the instance died
   * under it) sends it again to the next one. Resolves with the first answer.
   */
  private async send(
    kind: AckKind,
    path: string,
    request: { token?: Member; json?: unknown; body?: string; headers?: Record<string, string> },
    from = this.turn++,
  ): Promise<Answer> {
    let at = from;
    for (let attempt = 1; ; attempt++) {
      const instance = this.live(at);
      try {
        const res = await fetch(`${instance.baseUrl}${path}`, {
          method: "POST",
          headers: {
            ...(request.token && { authorization: `Bearer ${this.options.tokens[request.token]}` }),
            ...(request.json !== undefined && { "content-type": "application/json" }),
            ...request.headers,
          },
          body: request.body ?? JSON.stringify(request.json ?? {}),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        });
        const json = (await res.json()) as { data?: Record<string, unknown>; error?: { code: string; message: string } };
        return { status: res.status, instance: instance.index, data: json.data, error: json.error };
      } catch (err) {
        // undici reports a refused, reset or cut connection as a TypeError ("fetch failed", "terminated");
        // a timeout (a hang) or anything else is a failure of the load.
        if (!(err instanceof TypeError) || attempt >= MAX_ATTEMPTS) throw err;
        const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
        this.record.connectionFailures.push({ instance: instance.index, kind, message: `${err.message}${cause}` });
        this.connectionErrorInCycle = true;
        at = instance.index + 1;
      }
    }
  }

  /** The first instance at or after `index` (cyclically) whose process runs. */
  private live(index: number): ClusterInstance {
    const { instances } = this.options.cluster;
    for (let k = 0; k < instances.length; k++) {
      const instance = instances[(index + k) % instances.length]!;
      if (instance.alive) return instance;
    }
    throw new Error("no instance of the cluster is running");
  }

  private ack(ack: Omit<Ack, "order" | "roomId">): void {
    this.record.acks.push({ order: this.record.acks.length, roomId: this.roomId, ...ack });
  }

  /** A refusal the scenarios allow (the call has ended: ring timeout, or an earlier attempt ended it) or an unexpected answer. */
  private refused(kind: AckKind, callId: string, answer: Answer): void {
    const code = answer.error?.code ?? "(no error code)";
    if (answer.status === 410 && code === "SW_CALL_ENDED") {
      this.record.refusals.push({ kind, callId, code, afterConnectionError: this.connectionErrorInCycle });
      return;
    }
    this.record.unexpected.push(
      `${kind} ${callId || this.roomId} on instance ${answer.instance}: ${answer.status} ${code} ${answer.error?.message ?? JSON.stringify(answer.data)}`,
    );
  }
}
