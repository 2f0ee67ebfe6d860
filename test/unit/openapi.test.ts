import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { describe, expect, it } from "vitest";
import {
  EndReason,
  CallSchema,
  CallsService,
  CallStatus,
  CallType,
  InviteeState,
  RecordingSchema,
  RecordingStatus,
} from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService, MemberSchema, PutMemberRequestSchema, PutRoomRequestSchema } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { ERROR_CATALOGUE } from "../../src/transport/error-catalogue.js";
import { buildOpenApi } from "../../src/transport/openapi.js";
import { fieldConstraints } from "../../src/transport/openapi-rules.js";
import { messageToRestJson } from "../../src/transport/rest/rest-json.js";
import { RouteTable } from "../../src/transport/rest/route-table.js";
import { RpcRegistry, type ServiceHandlers } from "../../src/transport/rpc/registry.js";

/** Handlers are never called: the document depends only on the descriptors. */
function dummyHandlers<S extends typeof CallsService | typeof DirectoryService>(service: S): ServiceHandlers<S, unknown> {
  return Object.fromEntries(service.methods.map((m) => [m.localName, () => ({})])) as unknown as ServiceHandlers<S, unknown>;
}

const anyone = { authenticate: () => Promise.resolve({ subject: "u", tenantId: "t", scopes: new Set<string>() }) };
const registry = new RpcRegistry({ authenticator: anyone })
  .register(CallsService, { handlers: dummyHandlers(CallsService), access: () => ({}) })
  .register(DirectoryService, { handlers: dummyHandlers(DirectoryService), access: () => ({}) });
const routes = new RouteTable(registry.methods());
const doc = buildOpenApi(routes, { title: "ScaiWave Calls", version: "0.1.0" }) as OpenApi;

interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: { $ref: string } }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: Schema }>; links?: Record<string, unknown> }>;
  security: Record<string, string[]>[];
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}
type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; $ref?: string; required?: string[] };

/** The id rule (required, at most 128 characters, NATS-subject-safe), as the document states it. */
const ID_SCHEMA = { type: "string", minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9_=@:+-]+$" };

/** JSON Schema 2020-12 validation against a schema of the document; refs resolve inside `components`. */
function validatorFor(schema: Schema) {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  formats.default(ajv);
  ajv.addVocabulary(["components"]);
  return ajv.compile({ ...schema, components: doc.components });
}

function resolve(schema: Schema): Schema {
  // A field with a proto comment wraps its $ref in allOf (the comment is the description beside it).
  const target = (schema as { allOf?: Schema[] }).allOf?.[0] ?? schema;
  const name = target.$ref?.replace("#/components/schemas/", "");
  return name === undefined ? schema : (doc.components.schemas[name] ?? {});
}

function operation(template: string, method: string): Operation {
  const op = doc.paths[template]?.[method];
  if (!op) throw new Error(`no ${method} ${template} in the document`);
  return op;
}

function dataSchema(op: Operation): Schema {
  const schema = op.responses["200"]?.content?.["application/json"]?.schema;
  return schema?.properties?.["data"] ?? {};
}

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("has schemas that compile as strict JSON Schema 2020-12, every $ref resolving", () => {
    for (const name of Object.keys(doc.components.schemas)) {
      expect(() => validatorFor({ $ref: `#/components/schemas/${name}` }), name).not.toThrow();
    }
  });

  it("lists every REST route with its method, operationId and path parameters, and nothing else", () => {
    const listed = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(listed.sort()).toEqual(routes.all.map((r) => `${r.httpMethod} ${r.template}`).sort());
    expect(routes.all).toHaveLength(CallsService.methods.length); // DirectoryService has no REST routes

    for (const route of routes.all) {
      const op = operation(route.template, route.httpMethod.toLowerCase());
      expect(op.operationId).toBe(route.target.method.name);
      const variables = [...route.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      // Every path parameter is an id, with the id rule of its buf.validate options.
      const inPath = (op.parameters ?? []).filter((p) => p.in === "path");
      expect(inPath, route.template).toEqual(variables.map((name) => ({ name, in: "path", required: true, schema: ID_SCHEMA })));
      // Query parameters only where there is no body: the request fields the path does not bind.
      const inQuery = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      expect(inQuery, route.template).toEqual(route.queryFields.map((f) => f.name));
      if (route.bodyIsRequest) expect(inQuery).toEqual([]);
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(op.requestBody === undefined, route.template).toBe(!route.bodyIsRequest);
    }
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } });
  });

  it("documents request bodies without the fields taken from the path", () => {
    const initiate = resolve(operation("/v1/calls/initiate", "post").requestBody?.content["application/json"]?.schema ?? {});
    expect(Object.keys(initiate.properties ?? {})).toEqual(["room_id", "type"]);

    const mute = resolve(
      operation("/v1/calls/{call_id}/participants/{participant_id}/mute", "post").requestBody?.content["application/json"]?.schema ?? {},
    );
    // Optional fields: null stands for the default, as in proto JSON.
    expect(mute).toMatchObject({
      properties: { audio: { type: ["boolean", "null"] }, video: { type: ["boolean", "null"] } },
      additionalProperties: false,
    });
    expect(Object.keys(mute.properties ?? {})).toEqual(["audio", "video"]);
    expect(mute.required).toBeUndefined();
    expect(operation("/v1/calls/{call_id}/participants/{participant_id}/mute", "post").requestBody?.required).toBe(false);
  });

  it("carries the buf.validate rules of the request fields: required, pattern, lengths, accepted enum values", () => {
    const op = operation("/v1/calls/initiate", "post");
    expect(op.requestBody?.required).toBe(true);
    const initiate = resolve(op.requestBody?.content["application/json"]?.schema ?? {});
    expect(initiate.required).toEqual(["room_id", "type"]);
    expect(initiate.properties?.["room_id"]).toEqual({ ...ID_SCHEMA, description: "The ScaiWave room to call." });
    // What the gateway reads: the REST spelling, or plain proto JSON; never the unspecified value (no null).
    expect(initiate.properties?.["type"]).toEqual({
      anyOf: [
        { type: "string", enum: ["audio", "video"] },
        { type: "string", enum: ["CALL_TYPE_AUDIO", "CALL_TYPE_VIDEO"], description: "the proto JSON name" },
        { type: "integer", enum: [1, 2], description: "the proto JSON number" },
      ],
      description: "audio or video.",
    });

    const validateInitiate = validatorFor({ $ref: "#/components/schemas/InitiateCallRequest" });
    for (const body of [{ room_id: "room-1", type: "video" }, { room_id: "a=b@c:d+e_f", type: "CALL_TYPE_AUDIO" }, { room_id: "r", type: 2 }]) {
      expect(validateInitiate(body), JSON.stringify(body)).toBe(true);
    }
    // The example, and every other way the validator refuses InitiateCall.
    for (const body of [
      { room_id: "", type: "video" },
      { room_id: "room.1", type: "video" },
      { room_id: "r".repeat(129), type: "video" },
      { room_id: "room-1" },
      { room_id: "room-1", type: null },
      { room_id: "room-1", type: "CALL_TYPE_UNSPECIFIED" },
      { room_id: "room-1", type: 0 },
      { room_id: "room-1", type: "Video" },
      { type: "video" },
    ]) {
      expect(validateInitiate(body), JSON.stringify(body)).toBe(false);
    }
    // The response's enums keep the REST spelling only, null for unspecified.
    expect(resolve({ $ref: "#/components/schemas/CallType" })).toMatchObject({ enum: ["audio", "video", null] });
  });

  it("states the paging rules of the history and room-call lists as query parameters", () => {
    for (const [template, sizeWhat] of [
      ["/v1/calls/history", "Entries"],
      ["/v1/rooms/{room_id}/calls", "Calls"],
    ] as const) {
      const query = (operation(template, "get").parameters ?? []).filter((p) => p.in === "query");
      expect(query, template).toEqual([
        {
          name: "page_size",
          in: "query",
          required: false,
          description: `${sizeWhat} per page, at most 100; 0 (or absent) means 50.`,
          schema: { type: "integer", format: "int32", minimum: 0, maximum: 100 },
        },
        {
          name: "cursor",
          in: "query",
          required: false,
          description: "The `next_cursor` of the previous page; empty for the newest page.",
          schema: { type: "string", maxLength: 512 },
        },
      ]);
    }
    const history = dataSchema(operation("/v1/calls/history", "get"));
    expect(history).toEqual({ $ref: "#/components/schemas/ListCallHistoryResponse" });
    expect(resolve(history).required).toEqual(["entries", "next_cursor", "unseen_missed_count"]);
    const entry = resolve({ $ref: "#/components/schemas/CallHistoryEntry" });
    expect(resolve(entry.properties?.["direction"] ?? {})["enum"]).toEqual(["outgoing", "incoming", null]);
    expect(resolve(entry.properties?.["outcome"] ?? {})["enum"]).toEqual(["answered", "missed", "declined", "busy", "canceled", null]);
    expect(entry.properties?.["duration"]).toMatchObject({ type: ["string", "null"], pattern: "^-?\\d+(\\.\\d+)?s$" });
  });

  it("carries RingCall's list rules: at most 100 unique user ids, each an id", () => {
    const op = operation("/v1/calls/{call_id}/ring", "post");
    // Nothing must be sent: no user_ids rings every member not in the call and not ringing.
    expect(op.requestBody?.required).toBe(false);
    const ring = resolve(op.requestBody?.content["application/json"]?.schema ?? {});
    expect(ring.properties?.["user_ids"]).toMatchObject({
      type: ["array", "null"],
      maxItems: 100,
      uniqueItems: true,
      items: { type: "string", maxLength: 128, pattern: ID_SCHEMA.pattern },
    });
    const validateRing = validatorFor({ $ref: "#/components/schemas/RingCallRequest" });
    for (const body of [{}, { user_ids: [] }, { user_ids: ["bob", "carol"] }, { user_ids: null }]) {
      expect(validateRing(body), JSON.stringify(body)).toBe(true);
    }
    for (const body of [
      { user_ids: ["bob", "bob"] },
      { user_ids: ["bob.smith"] },
      { user_ids: [""] },
      { user_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) },
      { user_ids: "bob" },
    ]) {
      expect(validateRing(body), JSON.stringify(body).slice(0, 80)).toBe(false);
    }
    expect(dataSchema(op)).toEqual({ $ref: "#/components/schemas/Call" });
    const invitee = resolve({ $ref: "#/components/schemas/Invitee" });
    expect(resolve(invitee.properties?.["state"] ?? {})["enum"]).toEqual(["ringing", "answered", "rejected", "missed", "busy", "canceled", null]);
  });

  it("translates numeric ranges and required messages (DirectoryService's rules, not on the REST paths)", () => {
    expect(fieldConstraints(MemberSchema.field.powerLevel)).toEqual({ required: false, keywords: { minimum: 0, maximum: 100 } });
    expect(fieldConstraints(PutMemberRequestSchema.field.member)).toEqual({ required: true, keywords: {} });
    expect(fieldConstraints(PutRoomRequestSchema.field.members)).toEqual({ required: false, keywords: {} });
  });

  it("links every answer that carries a call_id to each operation taking {call_id}", () => {
    const takingCallId = routes.all.filter((r) => r.template.includes("{call_id}")).map((r) => r.target.method.name);
    expect(takingCallId).toHaveLength(11);
    for (const [template, method] of [
      ["/v1/calls/initiate", "post"],
      ["/v1/calls/{call_id}/join", "post"],
    ] as const) {
      const links = operation(template, method).responses["200"]?.links ?? {};
      expect(Object.keys(links).sort(), template).toEqual([...takingCallId].sort());
      for (const name of takingCallId) {
        expect(links[name]).toMatchObject({ operationId: name, parameters: { call_id: "$response.body#/data/call_id" } });
      }
    }
    // The call itself (its id is `id`) links by its room_id to the room's calls; lists link nowhere.
    expect(Object.keys(operation("/v1/calls/{call_id}", "get").responses["200"]?.links ?? {})).toEqual(["ListRoomCalls"]);
    expect(operation("/v1/calls/{call_id}", "get").responses["200"]?.links?.["ListRoomCalls"]).toMatchObject({
      parameters: { room_id: "$response.body#/data/room_id" },
    });
    expect(operation("/v1/calls", "get").responses["200"]?.links).toBeUndefined();
    expect(operation("/v1/calls/history", "get").responses["200"]?.links).toBeUndefined();
  });

  it("has an ErrorEnvelope listing every SW_CALL code, and every catalogue status on every operation", () => {
    const envelope = doc.components.schemas["ErrorEnvelope"] as Schema;
    expect(envelope).toMatchObject({ required: ["error"], additionalProperties: false });
    const error = envelope.properties?.["error"];
    expect(error).toMatchObject({ required: ["code", "message"], additionalProperties: false, properties: { message: { type: "string" } } });
    expect((error?.properties?.["code"]?.["enum"] as string[]).sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());

    const statuses = [...new Set(Object.values(ERROR_CATALOGUE).map((e) => String(e.httpStatus)))].sort();
    for (const route of routes.all) {
      const responses = operation(route.template, route.httpMethod.toLowerCase()).responses;
      expect(Object.keys(responses).sort()).toEqual(["200", ...statuses].sort());
      for (const status of statuses) expect(responses[status]).toEqual({ $ref: `#/components/responses/Error${status}` });
    }
    expect(doc.components.responses["Error404"]).toMatchObject({
      description: "SW_CALL_NOT_FOUND, SW_CALL_PARTICIPANT_NOT_FOUND, SW_CALL_ROUTE_NOT_FOUND",
      content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
    });
    // The headers the gateway sends with them: Allow on 405, Retry-After on 429.
    expect(doc.components.responses["Error405"]).toMatchObject({ headers: { Allow: { required: true, schema: { type: "string" } } } });
    expect(doc.components.responses["Error429"]).toMatchObject({ headers: { "Retry-After": { required: true, schema: { type: "integer" } } } });
  });

  it("takes summaries and descriptions from the proto comments", () => {
    const get = operation("/v1/calls/{call_id}", "get") as Operation & { summary?: string; description?: string };
    expect(get.summary).toBe("Returns the call state; an ended call keeps its final state.");
    expect(get.description).toContain("Caller: a member of the call's room.");
    expect(doc.components.schemas["Call"]?.["description"]).toBe("The state of a call.");
  });

  it("describes GetCall's data as Call in the REST dialect", () => {
    const data = dataSchema(operation("/v1/calls/{call_id}", "get"));
    expect(data).toEqual({ $ref: "#/components/schemas/Call" });
    const call = resolve(data);
    expect(call["additionalProperties"]).toBe(false);
    expect(call.required).toEqual(Object.keys(call.properties ?? {}));
    expect(call.properties?.["ended_at"]).toEqual({
      type: ["string", "null"],
      format: "date-time",
      description: "Unset (null on the REST paths) while the call is live.",
    });
    expect(resolve(call.properties?.["status"] ?? {})).toMatchObject({ type: ["string", "null"], enum: ["ringing", "active", "ended", null] });
    expect(resolve(call.properties?.["end_reason"] ?? {})["enum"]).toEqual([
      "ended",
      "all_left",
      "canceled",
      "rejected",
      "no_answer",
      "room_finished",
      null,
    ]);
    expect(call.properties?.["participants"]).toEqual({
      type: "array",
      items: { $ref: "#/components/schemas/Participant" },
      description: "Who is in the call now.",
    });

    const recording = resolve({ $ref: "#/components/schemas/Recording" });
    expect(recording.properties?.["media"]).toEqual({
      oneOf: [{ $ref: "#/components/schemas/MediaReference" }, { type: "null" }],
      description: "Set once the recording is ready.",
    });
    expect(resolve({ $ref: "#/components/schemas/MediaReference" }).properties?.["size_bytes"]).toMatchObject({ type: "integer" });
  });

  it("describes the other response shapes: the whole output, a message field, a list field", () => {
    expect(dataSchema(operation("/v1/calls/initiate", "post"))).toEqual({ $ref: "#/components/schemas/InitiateCallResponse" });
    expect(dataSchema(operation("/v1/calls/{call_id}/recording/start", "post"))).toEqual({ $ref: "#/components/schemas/Recording" });
    expect(dataSchema(operation("/v1/calls/{call_id}/recordings", "get"))).toEqual({
      type: "array",
      items: { $ref: "#/components/schemas/Recording" },
    });
  });

  it("accepts what the REST dialect writes and refuses undocumented fields", () => {
    const validateCall = validatorFor({ $ref: "#/components/schemas/Call" });
    const live = messageToRestJson(
      CallSchema,
      create(CallSchema, {
        id: "call-1",
        roomId: "room-1",
        type: CallType.AUDIO,
        status: CallStatus.RINGING,
        startedAt: timestampFromDate(new Date()),
        participants: [{ participantId: "alice", joinedAt: timestampFromDate(new Date()) }],
        livekitRoom: "scaiwave-call-1",
        invitees: [
          { userId: "bob", state: InviteeState.RINGING, changedAt: timestampFromDate(new Date()), ringDeadline: timestampFromDate(new Date()) },
        ],
      }),
    );
    expect(validateCall(live), JSON.stringify(validateCall.errors)).toBe(true);
    expect(validateCall({ ...live, colour: "red" })).toBe(false);
    expect(validateCall({ ...live, status: "CALL_STATUS_RINGING" })).toBe(false);

    const ended = messageToRestJson(
      CallSchema,
      create(CallSchema, {
        id: "call-1",
        status: CallStatus.ENDED,
        endReason: EndReason.ALL_LEFT,
        endedAt: timestampFromDate(new Date()),
        invitees: [{ userId: "bob", state: InviteeState.MISSED, changedAt: timestampFromDate(new Date()) }],
        recordings: [
          create(RecordingSchema, {
            id: "rec-1",
            status: RecordingStatus.READY,
            media: { mediaId: "m-1", sizeBytes: 123_456_789n, durationSeconds: 1.5, downloadUrl: "http://x" },
            transcription: { text: "hello", attempts: 1 },
          }),
        ],
      }),
    );
    expect(validateCall(ended), JSON.stringify(validateCall.errors)).toBe(true);
    expect((ended["invitees"] as unknown[])[0]).toEqual({ user_id: "bob", state: "missed", changed_at: expect.any(String) as string, ring_deadline: null });
  });
});
