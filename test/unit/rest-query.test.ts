import { describe, expect, it } from "vitest";
import { CallsService, ListCallHistoryRequestSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { queryToJson } from "../../src/transport/rest/query.js";
import { restJsonToMessage } from "../../src/transport/rest/rest-json.js";
import { RouteTable, type RestRoute } from "../../src/transport/rest/route-table.js";
import { RpcRegistry, type ServiceHandlers } from "../../src/transport/rpc/registry.js";

const handlers = Object.fromEntries(CallsService.methods.map((m) => [m.localName, () => ({})])) as unknown as ServiceHandlers<typeof CallsService, unknown>;
const anyone = { authenticate: () => Promise.resolve({ subject: "u", tenantId: "t", scopes: new Set<string>() }) };
const table = new RouteTable(new RpcRegistry({ authenticator: anyone }).register(CallsService, { handlers, access: () => ({}) }).methods());

function route(method: string, path: string): RestRoute {
  const lookup = table.lookup(method, path);
  if (lookup.kind !== "found") throw new Error(`no route for ${method} ${path}`);
  return lookup.match.route;
}

const history = route("GET", "/v1/calls/history");
const query = (q: string) => new URLSearchParams(q);

describe("queryToJson (query parameters of routes without a body)", () => {
  it("reads the request fields by their proto or JSON name, as body JSON would carry them", () => {
    expect(queryToJson(history, query("page_size=20&cursor=abc%3D"))).toEqual({ page_size: "20", cursor: "abc=" });
    expect(queryToJson(history, query("pageSize=5"))).toEqual({ page_size: "5" });
    expect(queryToJson(history, query(""))).toEqual({});
    const message = restJsonToMessage(ListCallHistoryRequestSchema, queryToJson(history, query("page_size=20&cursor=abc")));
    expect([message.pageSize, message.cursor]).toEqual([20, "abc"]);
  });

  it("refuses names that are no query field of the route, a path field among them", () => {
    expect(() => queryToJson(history, query("pagesize=20"))).toThrow('invalid request: unknown query parameter "pagesize"');
    const roomCalls = route("GET", "/v1/rooms/room-1/calls");
    expect(() => queryToJson(roomCalls, query("room_id=other"))).toThrow('unknown query parameter "room_id"');
    // A route with a path only takes no query parameters at all.
    expect(() => queryToJson(route("GET", "/v1/calls/call-1"), query("x=1"))).toThrow('unknown query parameter "x"');
  });

  it("refuses a single field given twice, and leaves bad values to the decoder (a clear 400 either way)", () => {
    expect(() => queryToJson(history, query("cursor=a&cursor=b"))).toThrow('query parameter "cursor" given 2 times');
    expect(() => restJsonToMessage(ListCallHistoryRequestSchema, queryToJson(history, query("page_size=ten")))).toThrow(/page_size/);
  });

  it("a route whose body is the request has no query fields", () => {
    expect(route("POST", "/v1/calls/history/seen").queryFields).toEqual([]);
    expect(route("POST", "/v1/calls/call-1/ring").queryFields).toEqual([]);
  });
});
