import type { LoadgenRoom } from "../loadgen/initiate.js";
import { TENANT, type Bench } from "../lib/bench.js";
import type { PreparedRequest } from "../lib/load-generators.js";
import { StoreSeeder } from "../lib/seed.js";
import { inviteRoomCounts } from "./initiates.js";

export type JoinPair = { readonly callId: string; readonly userId: string };

// REST, Connect, gRPC (connect-node), gRPC (grpc-js), the floors' requests, the profiled REST run.
const JOIN_RUNS = 6;
// On PostgreSQL only: the cluster scenarios' REST joins (1 and 2 instances share one run: see alternatingRuns).
const CLUSTER_JOIN_RUNS = 1;
const USERS = 2_000;
const WEBHOOK_CALLS = 10_000;
const joiner = (run: number) => `joiner${run}`;
export const user = (n: number) => `u${n % USERS}`;

/**
 * The store of the main service run: live calls to join (each join run has a
 * joiner of its own, a member of every call's room, so every request is a
 * first join with a store write and an event), live calls for webhooks, and
 * empty rooms for initiate cycles and invites.
 */
export class JoinSeed {
  readonly calls: string[] = [];
  readonly webhookCalls: { callId: string; members: string[] }[] = [];
  readonly cycleRooms: LoadgenRoom[];
  readonly inviteRooms: LoadgenRoom[];
  private nextRun = 0;
  private readonly runs: number;

  constructor(
    private readonly bench: Bench,
    /** The seeded SQLite file. */
    readonly path: string,
  ) {
    const { size } = bench;
    const inviteRooms = inviteRoomCounts(size).total;
    const seeder = new StoreSeeder(path, TENANT);
    this.runs = JOIN_RUNS + (bench.options.postgres ? CLUSTER_JOIN_RUNS : 0);
    const joiners = Array.from({ length: this.runs }, (_, run) => joiner(run));
    const room = (prefix: string, i: number, n: number, extra: string[] = []) => {
      const members = [...Array.from({ length: n }, (_, j) => user(i * n + j)), ...extra];
      seeder.room(`${prefix}${i}`, members);
      return members;
    };
    seeder.batch(() => {
      for (let c = 0; c < size.joinWarmPool + size.joinPool + 1; c++) {
        const [owner] = room("jr", c, 1, joiners);
        this.calls.push(seeder.call(`jr${c}`, owner!, [owner!], true));
      }
      for (let c = 0; c < WEBHOOK_CALLS; c++) {
        const members = room("wr", c, 5);
        this.webhookCalls.push({ callId: seeder.call(`wr${c}`, members[0]!, [members[0]!], true), members });
      }
      for (let i = 0; i < size.cycleRooms; i++) room("cr", i, 2);
      for (let i = 0; i < inviteRooms; i++) room("ir", i, 2);
    });
    seeder.close();
    const owned = (prefix: string, n: number): LoadgenRoom[] =>
      Array.from({ length: n }, (_, i) => ({ roomId: `${prefix}${i}`, authorization: bench.bearerOf(user(i * 2)) }));
    this.cycleRooms = owned("cr", size.cycleRooms);
    this.inviteRooms = owned("ir", inviteRooms);
  }

  /** A join a floor can answer: the last seeded call, outside every run's slices. */
  get sample(): JoinPair {
    return { callId: this.calls.at(-1)!, userId: joiner(0) };
  }

  /** The joins of one run: its own joiner into every seeded call, never a repeat. */
  joinRun(): { warm: JoinPair[]; measure: JoinPair[] } {
    const userId = joiner(this.nextRun++);
    if (this.nextRun > this.runs) throw new Error("more join runs than seeded joiners");
    const { joinWarmPool, joinPool } = this.bench.size;
    const pairs = this.calls.map((callId) => ({ callId, userId }));
    return { warm: pairs.slice(0, joinWarmPool), measure: pairs.slice(joinWarmPool, joinWarmPool + joinPool) };
  }

  /**
   * Two runs out of one joiner's: the first takes the even calls, the second
   * the odd ones, so both join calls in the same state (nobody else joined
   * them yet) and neither repeats a join of the other.
   */
  alternatingRuns(): [{ warm: JoinPair[]; measure: JoinPair[] }, { warm: JoinPair[]; measure: JoinPair[] }] {
    const { warm, measure } = this.joinRun();
    const half = (parity: number) => ({ warm: warm.filter((_, i) => i % 2 === parity), measure: measure.filter((_, i) => i % 2 === parity) });
    return [half(0), half(1)];
  }

  restJoin = (p: JoinPair): PreparedRequest => ({
    method: "POST",
    path: `/v1/calls/${p.callId}/join`,
    headers: { authorization: this.bench.bearerOf(p.userId) },
  });

  connectJoin = (p: JoinPair): PreparedRequest => ({
    method: "POST",
    path: "/scaiwave.calls.v1.CallsService/JoinCall",
    headers: { authorization: this.bench.bearerOf(p.userId), "content-type": "application/json" },
    body: JSON.stringify({ callId: p.callId }),
  });
}
