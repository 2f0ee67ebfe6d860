// `npx tsx bench/join-layers.ts`: what a join costs layer by layer, in this
// process (no HTTP, no relay), against floor (d)'s own durable write, so the
// REST join row of `npm run bench` can be read against it. Each layer runs on
// a store seeded like the bench's join store (one live call per room, every
// join a first join), with JOINS_IN_FLIGHT requests in flight as wrk keeps
// them, so the service's group commit groups them as it does under load.
// Prints CPU µs per request (user + system of this process), three rounds.
// `--joins N` per round (default 20,000). See docs/benchmarks.md.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LiveKitTokenMinter } from "../src/adapters/livekit/tokens.js";
import { openDatabase } from "../src/adapters/sqlite/database.js";
import { GroupCommit } from "../src/adapters/sqlite/group-commit.js";
import { SqliteStore } from "../src/adapters/sqlite/store.js";
import { CallsUseCases } from "../src/app/calls.js";
import { CallEventFactory } from "../src/app/events.js";
import type { LiveKitRooms } from "../src/app/ports.js";
import { joinCall } from "../src/domain/call.js";
import { renderCallJson } from "../src/transport/rest/call-json.js";
import { openJoinStore } from "./floors/join-store.js";
import { TENANT } from "./lib/bench.js";
import { printCpuRounds, type Operation } from "./lib/cpu-rounds.js";
import { StoreSeeder } from "./lib/seed.js";

const { values: flags } = parseArgs({ options: { joins: { type: "string", default: "20000" } } });
const JOINS = Number(flags.joins);
const ROUNDS = 3;
const WARM = 12_000;
const JOINS_IN_FLIGHT = 16;
const JOINER = "joiner";

const work = mkdtempSync(join(tmpdir(), "scaiwave-bench-layers-"));
try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const calls = JOINS * ROUNDS + WARM;
  const storePath = join(work, "join.db");
  const seeder = new StoreSeeder(storePath, TENANT);
  const callIds: string[] = [];
  seeder.batch(() => {
    for (let c = 0; c < calls; c++) {
      seeder.room(`jr${c}`, [`owner${c}`, JOINER]);
      callIds.push(seeder.call(`jr${c}`, `owner${c}`, [`owner${c}`], true));
    }
  });
  seeder.close();

  const minter = new LiveKitTokenMinter({ apiKey: "devkey", apiSecret: "secret-of-the-bench-0123456789abcdef", ttlSeconds: 600 });
  const floorWrite = openJoinStore(join(work, "floor-d.db"));
  const db = openDatabase(storePath);
  const groupCommit = new GroupCommit(db, { afterCommit: () => undefined });
  const store = new SqliteStore(db, { now: Date.now, groupCommit });
  // A first join of a live call never reaches LiveKit's API (only its token is minted, locally).
  const unused = () => Promise.reject(new Error("a join does not call LiveKit's API"));
  const noRooms: LiveKitRooms = {
    createRoom: unused,
    deleteRoom: unused,
    listRoomNames: unused,
    listParticipants: unused,
    muteParticipant: unused,
    removeParticipant: unused,
  };
  const useCases = new CallsUseCases({
    store,
    events: new CallEventFactory(renderCallJson, Date.now),
    rooms: noRooms,
    tokens: minter,
    clock: { now: Date.now },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    livekitUrl: "wss://livekit.example",
    ringTimeoutMs: 30_000,
  });
  const caller = { userId: JOINER, tenantId: TENANT, requestId: "bench" };

  // Each layer takes the next unused calls, so every join is a first join.
  let next = 0;
  const take = () => callIds[next++]!;
  const layers: Operation[] = [
    { name: "floor (d)'s write: a transaction per request (participant upsert, 900-byte event)", run: async () => floorWrite(take(), JOINER) },
    {
      name: "floor (d)'s write + the LiveKit token",
      run: () => {
        const callId = take();
        floorWrite(callId, JOINER);
        return minter.mint(JOINER, `scaiwave-${callId}`);
      },
    },
    {
      name: "the join's store work: read the call, write its rows and event (group commit)",
      run: () => store.transaction((tx) => useCases.changeIn(tx, TENANT, take(), (current) => joinCall(current, JOINER, Date.now()), "bench")),
    },
    { name: "the join use case: + membership check and the LiveKit token", run: () => useCases.join(caller, take()) },
  ];

  const perRound = Math.floor(JOINS / layers.length);
  await printCpuRounds(`CPU µs per request, ${JOINS_IN_FLIGHT} in flight, ${perRound} requests per round`, "layer", layers, {
    perRound,
    warmUp: WARM / layers.length,
    inFlight: JOINS_IN_FLIGHT,
    rounds: ROUNDS,
  });
  db.close();
}
