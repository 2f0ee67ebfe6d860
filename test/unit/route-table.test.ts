import { create, type DescField } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CallsService,
  GetCallRequestSchema,
  GetCallResponseSchema,
  JoinCallRequestSchema,
  ListRecordingsResponseSchema,
} from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { RouteTable, type RouteLookup, type RouteMatch } from "../../src/transport/rest/route-table.js";
import { RpcRegistry, type RegisteredMethod, type ServiceHandlers } from "../../src/transport/rpc/registry.js";

const dummyHandlers: ServiceHandlers<typeof CallsService, unknown> = {
  initiateCall: () => ({}),
  joinCall: () => ({}),
  leaveCall: () => ({}),
  rejectCall: () => ({}),
  endCall: () => ({}),
  getCall: () => ({}),
  startRecording: () => ({}),
  stopRecording: () => ({}),
  listRecordings: () => ({}),
  listCalls: () => ({}),
  muteParticipant: () => ({}),
  removeParticipant: () => ({}),
  ringCall: () => ({}),
  listCallHistory: () => ({}),
  markCallHistorySeen: () => ({}),
  listRoomCalls: () => ({}),
};

function registeredMethods(): RegisteredMethod[] {
  const anyone = { authenticate: () => Promise.resolve({ subject: "u", tenantId: "t", scopes: new Set<string>() }) };
  const registry = new RpcRegistry({ authenticator: anyone }).register(CallsService, { handlers: dummyHandlers, access: () => ({}) });
  return [...registry.methods()];
}

const table = new RouteTable(registeredMethods());
/** The same routes declared in the opposite order: lookups must not depend on the order. */
const reversed = new RouteTable(registeredMethods().reverse());

function found(lookup: RouteLookup): RouteMatch {
  if (lookup.kind !== "found") throw new Error(`expected a route, got ${JSON.stringify(lookup)}`);
  return lookup.match;
}

/** Path parameters by field name, for readable assertions. */
function params(match: RouteMatch): Record<string, string> {
  return Object.fromEntries([...match.pathParams].map(([field, value]) => [field.name, value]));
}

describe("RouteTable lookup", () => {
  it("POST /v1/calls/initiate → InitiateCall, the body is the request, no path params", () => {
    const match = found(table.lookup("POST", "/v1/calls/initiate"));
    expect(match.route.target.method.name).toBe("InitiateCall");
    expect(match.route.target.service.typeName).toBe("scaiwave.calls.v1.CallsService");
    expect(match.route.bodyIsRequest).toBe(true);
    expect(match.route.responseField).toBeUndefined();
    expect(params(match)).toEqual({});
  });

  it("POST /v1/calls/call-1/join → JoinCall with call_id = call-1", () => {
    const match = found(table.lookup("POST", "/v1/calls/call-1/join"));
    expect(match.route.target.method.name).toBe("JoinCall");
    expect(match.route.template).toBe("/v1/calls/{call_id}/join");
    expect(params(match)).toEqual({ call_id: "call-1" });
    const [field] = [...match.pathParams.keys()];
    expect(field).toBe(JoinCallRequestSchema.field.callId);
  });

  it("GET /v1/calls/call-1 → GetCall with call_id = call-1, no body", () => {
    const match = found(table.lookup("GET", "/v1/calls/call-1"));
    expect(match.route.target.method.name).toBe("GetCall");
    expect(match.route.bodyIsRequest).toBe(false);
    expect(params(match)).toEqual({ call_id: "call-1" });
  });

  it.each([
    ["POST", "/v1/calls/c/leave", "LeaveCall"],
    ["POST", "/v1/calls/c/reject", "RejectCall"],
    ["POST", "/v1/calls/c/end", "EndCall"],
    ["POST", "/v1/calls/c/recording/start", "StartRecording"],
    ["POST", "/v1/calls/c/recording/stop", "StopRecording"],
    ["GET", "/v1/calls/c/recordings", "ListRecordings"],
  ])("%s %s → %s with call_id = c", (method, path, rpc) => {
    const match = found(table.lookup(method, path));
    expect(match.route.target.method.name).toBe(rpc);
    expect(params(match)).toEqual({ call_id: "c" });
  });

  it("decodes percent-encoded path segments", () => {
    expect(params(found(table.lookup("GET", "/v1/calls/call%2D1")))).toEqual({ call_id: "call-1" });
    expect(params(found(table.lookup("POST", "/v1/calls/a%20b%2Fc/join")))).toEqual({ call_id: "a b/c" });
    expect(params(found(table.lookup("GET", "/v1/calls/%E2%9C%93")))).toEqual({ call_id: "✓" });
  });

  it("a malformed percent-encoding matches no route", () => {
    expect(table.lookup("GET", "/v1/calls/%E0%A4%A")).toEqual({ kind: "not-found" });
  });

  it("PUT /v1/calls/call-1/join → wrong-method, allowing POST", () => {
    expect(table.lookup("PUT", "/v1/calls/call-1/join")).toEqual({ kind: "wrong-method", allowed: ["POST"] });
  });

  it("DELETE /v1/calls/call-1 → wrong-method, allowing GET", () => {
    expect(table.lookup("DELETE", "/v1/calls/call-1")).toEqual({ kind: "wrong-method", allowed: ["GET"] });
  });

  it("GET /v1/calls → ListCalls (no path parameters)", () => {
    const lookup = table.lookup("GET", "/v1/calls");
    expect(lookup.kind === "found" && lookup.match.route.target.method.name).toBe("ListCalls");
  });

  it("a literal segment beats a variable: /v1/calls/initiate is InitiateCall's path only", () => {
    expect(table.lookup("PUT", "/v1/calls/initiate")).toEqual({ kind: "wrong-method", allowed: ["POST"] });
    expect(table.lookup("GET", "/v1/calls/initiate")).toEqual({ kind: "wrong-method", allowed: ["POST"] });
  });

  describe.each([
    ["in proto order", table],
    ["declared in reverse", reversed],
  ])("literal segments win over variables (routes %s)", (_order, routes) => {
    it("GET /v1/calls/history → ListCallHistory, not GetCall of a call named history", () => {
      const match = found(routes.lookup("GET", "/v1/calls/history"));
      expect(match.route.target.method.name).toBe("ListCallHistory");
      expect(params(match)).toEqual({});
    });

    it("POST /v1/calls/history/seen → MarkCallHistorySeen, not a call's action", () => {
      const match = found(routes.lookup("POST", "/v1/calls/history/seen"));
      expect(match.route.target.method.name).toBe("MarkCallHistorySeen");
      expect(match.route.bodyIsRequest).toBe(true);
    });

    it("POST /v1/calls/initiate → InitiateCall; a call's own paths still take any other id", () => {
      expect(found(routes.lookup("POST", "/v1/calls/initiate")).route.target.method.name).toBe("InitiateCall");
      expect(params(found(routes.lookup("GET", "/v1/calls/call-1")))).toEqual({ call_id: "call-1" });
      const ring = found(routes.lookup("POST", "/v1/calls/history/ring"));
      expect([ring.route.target.method.name, params(ring)]).toEqual(["RingCall", { call_id: "history" }]);
    });

    it("the wrong method on a literal path names the literal route's method only", () => {
      expect(routes.lookup("POST", "/v1/calls/history")).toEqual({ kind: "wrong-method", allowed: ["GET"] });
      expect(routes.lookup("GET", "/v1/calls/history/seen")).toEqual({ kind: "wrong-method", allowed: ["POST"] });
      expect(routes.lookup("DELETE", "/v1/calls/initiate")).toEqual({ kind: "wrong-method", allowed: ["POST"] });
    });

    it("GET /v1/rooms/room-1/calls → ListRoomCalls with room_id = room-1", () => {
      const match = found(routes.lookup("GET", "/v1/rooms/room-1/calls"));
      expect(match.route.target.method.name).toBe("ListRoomCalls");
      expect(params(match)).toEqual({ room_id: "room-1" });
    });
  });

  it("GET /v1/calls/call-1/join → wrong-method, allowing POST", () => {
    expect(table.lookup("GET", "/v1/calls/call-1/join")).toEqual({ kind: "wrong-method", allowed: ["POST"] });
  });

  it.each([
    ["POST", "/v1/calls/call-1/join/extra"],
    ["GET", "/v1/nope"],
    ["GET", "/"],
    ["GET", ""],
    ["GET", "/v1/calls/"],
    ["POST", "/v1/calls//join"],
    ["POST", "/v1/calls/call-1/join/"],
    ["POST", "/v2/calls/call-1/join"],
    ["POST", "/V1/CALLS/call-1/JOIN"],
  ])("%s %j → not-found", (method, path) => {
    expect(table.lookup(method, path)).toEqual({ kind: "not-found" });
  });
});

describe("RouteTable routes read from the google.api.http annotations", () => {
  it("every one of the sixteen RPCs has a route, with the method and template of its annotation", () => {
    const routes = table.all.map((r) => [r.target.method.name, r.httpMethod, r.template, r.bodyIsRequest]);
    expect(routes).toEqual([
      ["InitiateCall", "POST", "/v1/calls/initiate", true],
      ["JoinCall", "POST", "/v1/calls/{call_id}/join", true],
      ["LeaveCall", "POST", "/v1/calls/{call_id}/leave", true],
      ["RejectCall", "POST", "/v1/calls/{call_id}/reject", true],
      ["EndCall", "POST", "/v1/calls/{call_id}/end", true],
      ["GetCall", "GET", "/v1/calls/{call_id}", false],
      ["ListCalls", "GET", "/v1/calls", false],
      ["MuteParticipant", "POST", "/v1/calls/{call_id}/participants/{participant_id}/mute", true],
      ["RemoveParticipant", "POST", "/v1/calls/{call_id}/participants/{participant_id}/remove", true],
      ["StartRecording", "POST", "/v1/calls/{call_id}/recording/start", true],
      ["StopRecording", "POST", "/v1/calls/{call_id}/recording/stop", true],
      ["ListRecordings", "GET", "/v1/calls/{call_id}/recordings", false],
      ["RingCall", "POST", "/v1/calls/{call_id}/ring", true],
      ["ListCallHistory", "GET", "/v1/calls/history", false],
      ["MarkCallHistorySeen", "POST", "/v1/calls/history/seen", true],
      ["ListRoomCalls", "GET", "/v1/rooms/{room_id}/calls", false],
    ]);
    expect(new Set(table.all.map((r) => r.target.method)).size).toBe(CallsService.methods.length);
    expect(CallsService.methods).toHaveLength(16);
  });

  it("GetCall's response field is the call message field", () => {
    const route = found(table.lookup("GET", "/v1/calls/x")).route;
    const field = route.responseField as DescField;
    expect(field).toBe(GetCallResponseSchema.field.call);
    expect(field.name).toBe("call");
    expect(field.fieldKind).toBe("message");
  });

  it("ListRecordings' response field is the repeated recordings field", () => {
    const route = found(table.lookup("GET", "/v1/calls/x/recordings")).route;
    const field = route.responseField as DescField;
    expect(field).toBe(ListRecordingsResponseSchema.field.recordings);
    expect(field.name).toBe("recordings");
    expect(field.fieldKind).toBe("list");
  });

  it("response fields of the other RPCs follow their response_body", () => {
    const responseFields = Object.fromEntries(table.all.map((r) => [r.target.method.name, r.responseField?.name ?? null]));
    expect(responseFields).toEqual({
      InitiateCall: null,
      JoinCall: null,
      LeaveCall: "call",
      RejectCall: "call",
      EndCall: "call",
      GetCall: "call",
      ListCalls: "calls",
      MuteParticipant: "call",
      RemoveParticipant: "call",
      StartRecording: "recording",
      StopRecording: "recording",
      ListRecordings: "recordings",
      RingCall: "call",
      ListCallHistory: null,
      MarkCallHistorySeen: null,
      ListRoomCalls: null,
    });
  });

  it("path variables are bound to the request's call_id (and participant_id, room_id) fields", () => {
    const variableNames = Object.fromEntries(
      table.all.map((r) => [
        r.target.method.name,
        r.segments.filter((s): s is DescField => typeof s !== "string").map((f) => f.name),
      ]),
    );
    expect(variableNames).toEqual({
      InitiateCall: [],
      JoinCall: ["call_id"],
      LeaveCall: ["call_id"],
      RejectCall: ["call_id"],
      EndCall: ["call_id"],
      GetCall: ["call_id"],
      ListCalls: [],
      MuteParticipant: ["call_id", "participant_id"],
      RemoveParticipant: ["call_id", "participant_id"],
      StartRecording: ["call_id"],
      StopRecording: ["call_id"],
      ListRecordings: ["call_id"],
      RingCall: ["call_id"],
      ListCallHistory: [],
      MarkCallHistorySeen: [],
      ListRoomCalls: ["room_id"],
    });
    for (const route of table.all) {
      for (const variable of route.segments.filter((s): s is DescField => typeof s !== "string")) {
        expect(variable.parent).toBe(route.target.method.input);
      }
    }
  });

  it("routes without a body take the request fields the path does not bind as query parameters", () => {
    const queryFields = Object.fromEntries(
      table.all.filter((r) => r.queryFields.length > 0).map((r) => [r.target.method.name, r.queryFields.map((f) => f.name)]),
    );
    expect(queryFields).toEqual({ ListCallHistory: ["page_size", "cursor"], ListRoomCalls: ["page_size", "cursor"] });
  });

  it("the matched route invokes the registered handler", async () => {
    const match = found(table.lookup("GET", "/v1/calls/call-1"));
    const output = await match.route.target.invoke(
      { authorization: "Bearer any", signal: new AbortController().signal, protocol: "rest", requestId: "req-1" },
      () => create(GetCallRequestSchema, { callId: "call-1" }),
    );
    expect(output.$typeName).toBe("scaiwave.calls.v1.GetCallResponse");
  });
});
