import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { CallsService, GetCallRequestSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { row, type Bench, type FloorId } from "../lib/bench.js";
import type { ScenarioResult } from "../lib/report.js";
import type { PreparedRequest } from "../lib/load-generators.js";
import { startFloor } from "../lib/programs.js";
import type { JoinSeed } from "./join-seed.js";

/**
 * The floors every scenario is compared with, measured in this run:
 * (a) node:http minting the same AccessToken with the same JSON as a REST
 * join, (d) the same plus one SQLite write per request, (b) a connect-node
 * echo over Connect, (c) the same echo on grpc-js. `joinResponse` is a real
 * REST join answer of the service, so the floors answer the same bytes.
 */
export async function floors(b: Bench, seed: JoinSeed, joinResponse: string): Promise<void> {
  const { livekit } = b.options;
  // The floors keep no state that matters: running past their prepared requests changes nothing.
  const floorRun = seed.joinRun();
  const warm = floorRun.warm.map(seed.restJoin);
  const measure = floorRun.measure.map(seed.restJoin);
  const tokenEnv = { LIVEKIT_API_KEY: livekit.apiKey, LIVEKIT_API_SECRET: livekit.apiSecret, FLOOR_JOIN_RESPONSE: joinResponse };
  const echo = (i: number): PreparedRequest => ({
    method: "POST",
    path: "/scaiwave.calls.v1.CallsService/GetCall",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ callId: `call-${i}` }),
  });
  const echoes = Array.from({ length: 1000 }, (_, i) => echo(i));
  const messages = Array.from({ length: 1000 }, (_, i) => create(GetCallRequestSchema, { callId: `call-${i}` }));

  /** One run of a floor program driven by wrk, metered; `name` keeps each run's request files apart. */
  const overHttp = async (program: string, env: Record<string, string>, name: string, warmRequests: PreparedRequest[], measured: PreparedRequest[]) => {
    const floor = await startFloor(program, env);
    try {
      return await b.wrk(`http://127.0.0.1:${floor.port}`, floor.child.pid!, name, warmRequests, measured);
    } finally {
      await floor.stop();
    }
  };
  const runs: Record<FloorId, (name: string) => Promise<ScenarioResult>> = {
    "floor-a": async (name) => {
      const { load, usage } = await overHttp("rest-token", tokenEnv, name, warm, measure);
      return row("floor-a", "floor (a) node:http + AccessToken", { ...load, wrapped: false }, usage);
    },
    "floor-d": async (name) => {
      const { load, usage } = await overHttp("rest-token", { ...tokenEnv, FLOOR_DB: join(b.work, `${name}.db`) }, name, warm, measure);
      return row("floor-d", "floor (d) = (a) + a SQLite write per request", { ...load, wrapped: false }, usage);
    },
    "floor-b": async (name) => {
      const { load, usage } = await overHttp("connect-echo", {}, name, echoes, echoes);
      return row("floor-b", "floor (b) connect-node echo, Connect JSON h1", { ...load, wrapped: false }, usage);
    },
    "floor-c": async (name) => {
      const floor = await startFloor("grpc-js-echo");
      try {
        const { load, usage } = await b.grpc(`127.0.0.1:${floor.port}`, floor.child.pid!, name, CallsService.method.getCall, messages, messages);
        return row("floor-c", "floor (c) grpc-js echo, gRPC", { ...load, wrapped: false }, usage);
      } finally {
        await floor.stop();
      }
    },
  };
  await b.scenario("floor (a): node:http minting the same AccessToken", async () => void b.results.push(await runs["floor-a"]("floor-rest")));
  await b.scenario("floor (d): floor (a) plus one SQLite transaction per request", async () => void b.results.push(await runs["floor-d"]("floor-rest-sqlite")));
  await b.scenario("floor (b): connect-node echo over Connect", async () => void b.results.push(await runs["floor-b"]("floor-connect")));
  await b.scenario("floor (c): grpc-js echo", async () => void b.results.push(await runs["floor-c"]("floor-grpc")));
  let again = 0;
  b.measureFloorAgain = (id) => runs[id](`${id}-again-${++again}`);
}
