import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { CallsService, GetCallRequestSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { row, type Bench } from "../lib/bench.js";
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

  await b.scenario("floor (a): node:http minting the same AccessToken", async () => {
    const floor = await startFloor("rest-token", tokenEnv);
    try {
      const { load, usage } = await b.wrk(`http://127.0.0.1:${floor.port}`, floor.child.pid!, "floor-rest", warm, measure);
      b.results.push(row("floor-a", "floor (a) node:http + AccessToken", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
  await b.scenario("floor (d): floor (a) plus one SQLite transaction per request", async () => {
    const floor = await startFloor("rest-token", { ...tokenEnv, FLOOR_DB: join(b.work, "floor-d.db") });
    try {
      const { load, usage } = await b.wrk(`http://127.0.0.1:${floor.port}`, floor.child.pid!, "floor-rest-sqlite", warm, measure);
      b.results.push(row("floor-d", "floor (d) = (a) + a SQLite write per request", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
  const echo = (i: number): PreparedRequest => ({
    method: "POST",
    path: "/scaiwave.calls.v1.CallsService/GetCall",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ callId: `call-${i}` }),
  });
  await b.scenario("floor (b): connect-node echo over Connect", async () => {
    const floor = await startFloor("connect-echo");
    try {
      const requests = Array.from({ length: 1000 }, (_, i) => echo(i));
      const { load, usage } = await b.wrk(`http://127.0.0.1:${floor.port}`, floor.child.pid!, "floor-connect", requests, requests);
      b.results.push(row("floor-b", "floor (b) connect-node echo, Connect JSON h1", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
  await b.scenario("floor (c): grpc-js echo", async () => {
    const floor = await startFloor("grpc-js-echo");
    try {
      const messages = Array.from({ length: 1000 }, (_, i) => create(GetCallRequestSchema, { callId: `call-${i}` }));
      const { load, usage } = await b.grpc(`127.0.0.1:${floor.port}`, floor.child.pid!, "floor-grpc", CallsService.method.getCall, messages, messages);
      b.results.push(row("floor-c", "floor (c) grpc-js echo, gRPC", { ...load, wrapped: false }, usage));
    } finally {
      await floor.stop();
    }
  });
}
