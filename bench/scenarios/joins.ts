import { create } from "@bufbuild/protobuf";
import { CallsService, JoinCallRequestSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import type { ServiceProcess } from "../../test/support/service-process.js";
import { floorRatio, row, sqliteAim, target, withNotes, type Bench } from "../lib/bench.js";
import { withFloor } from "../lib/report.js";
import type { JoinPair, JoinSeed } from "./join-seed.js";

// Aims, as shares of the floor each row is compared with: REST against (d), Connect against (b), on SQLite; gRPC against (c).
const REST_JOIN_AIM = 0.8;
const CONNECT_JOIN_AIM = 0.6;
const GRPC_JOIN_AIM = 0.8;

/** The same RPC, a first join, over REST, Connect and gRPC on both ports. */
export async function joins(b: Bench, service: ServiceProcess, grpcPort: number, seed: JoinSeed): Promise<void> {
  const pid = service.child.pid!;
  await b.scenario("REST join", async () => {
    const run = seed.joinRun();
    const { load, usage } = await b.wrk(service.baseUrl, pid, "rest-join", run.warm.map(seed.restJoin), run.measure.map(seed.restJoin));
    // Against floor (d), the token plus a durable write: what any durable join pays.
    const { floor, note } = await b.floorAround("floor-d", "REST join");
    const r = withFloor(row("rest-join", "REST join", load, usage), floor);
    const tokenOnly = b.byId("floor-a");
    const vsToken = tokenOnly ? `${(r.rate / tokenOnly.rate).toFixed(2)}× floor (a) at the start, the token alone` : "";
    const { aim, achieved, met } = floorRatio(r, REST_JOIN_AIM);
    b.results.push(sqliteAim(b, withNotes(r, note, vsToken), aim, achieved, met));
    await b.afterScenario(service, "rest-join");
  });
  await b.scenario("Connect join", async () => {
    const run = seed.joinRun();
    const { load, usage } = await b.wrk(service.baseUrl, pid, "connect-join", run.warm.map(seed.connectJoin), run.measure.map(seed.connectJoin));
    const { floor, note } = await b.floorAround("floor-b", "Connect join");
    const r = withFloor(row("connect-join", "Connect join (JSON, h1)", load, usage), floor);
    const { aim, achieved, met } = floorRatio(r, CONNECT_JOIN_AIM);
    b.results.push(sqliteAim(b, withNotes(r, note), aim, achieved, met));
    await b.afterScenario(service, "connect-join");
  });
  const grpcJoin = async (id: string, title: string, address: string) => {
    const { warm, measure } = seed.joinRun();
    const message = (p: JoinPair) => create(JoinCallRequestSchema, { callId: p.callId });
    const { load, usage } = await b.grpc(address, pid, id, CallsService.method.joinCall, warm.map(message), measure.map(message), b.bearerOf(measure[0]!.userId));
    const r = withFloor(row(id, title, load, usage), b.byId("floor-c"));
    const { aim, achieved, met } = floorRatio(r, GRPC_JOIN_AIM);
    b.results.push(target(r, aim, achieved, met));
    await b.afterScenario(service, id);
  };
  await b.scenario("gRPC join on the main port (connect-node)", () => grpcJoin("grpc-join-connect", "gRPC join, main port (connect-node)", service.baseUrl.replace("http://", "")));
  await b.scenario("gRPC join on GRPC_PORT (grpc-js)", () => grpcJoin("grpc-join-grpcjs", "gRPC join, GRPC_PORT (grpc-js)", `127.0.0.1:${grpcPort}`));
}
