import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallsService } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { buildOpenApi } from "../../src/transport/openapi.js";
import { RouteTable } from "../../src/transport/rest/route-table.js";
import { RpcRegistry, type ServiceHandlers } from "../../src/transport/rpc/registry.js";
import { directoryClient } from "../support/directory.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * The OpenAPI document against the real service: every answer below, success
 * or failure, must validate against the schema the document gives for that
 * operation and status. Message schemas are closed (additionalProperties:
 * false, every always-written field required), so an undocumented or missing
 * field fails.
 */

type Json = Record<string, unknown>;
interface Document {
  paths: Record<string, Record<string, { responses: Record<string, Json> }>>;
  components: Json & { responses: Record<string, Json> };
}

let service: RunningService;
let doc: Document;
let roomId: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  service = await startService(sharedLiveKit());
  roomId = await directoryClient(service.baseUrl).room({ alice: 100, bob: 0 });
  for (const user of ["alice", "bob", "carol"]) tokens[user] = await userToken(user);
  doc = await servedOrBuiltDocument();
});

afterAll(async () => {
  await service?.stop();
});

/** The service's own `GET /openapi.json` when it serves one; otherwise the same document built here. */
async function servedOrBuiltDocument(): Promise<Document> {
  const res = await fetch(`${service.baseUrl}/openapi.json`);
  if (res.status === 200) return (await res.json()) as Document;
  const handlers = Object.fromEntries(CallsService.methods.map((m) => [m.localName, () => ({})]));
  const anyone = { authenticate: () => Promise.resolve({ subject: "u", tenantId: "t", scopes: new Set<string>() }) };
  const registry = new RpcRegistry({ authenticator: anyone }).register(CallsService, {
    handlers: handlers as unknown as ServiceHandlers<typeof CallsService, unknown>,
    access: () => ({}),
  });
  return buildOpenApi(new RouteTable(registry.methods()), { title: "ScaiWave Calls", version: "test" }) as Document;
}

/** The JSON schema of one operation's answer with this status ($refs followed into components). */
function responseSchema(method: string, template: string, status: number): Json {
  const operation = doc.paths[template]?.[method.toLowerCase()];
  if (!operation) throw new Error(`the document has no ${method} ${template}`);
  let response = operation.responses[String(status)];
  const ref = response?.["$ref"];
  if (typeof ref === "string") response = doc.components.responses[ref.replace("#/components/responses/", "")];
  const schema = (response?.["content"] as Record<string, { schema: Json }> | undefined)?.["application/json"]?.schema;
  if (!schema) throw new Error(`the document has no ${status} answer for ${method} ${template}`);
  return schema;
}

function validate(method: string, template: string, status: number, body: unknown): { valid: boolean; errors: string } {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  formats.default(ajv);
  ajv.addVocabulary(["components"]);
  const check = ajv.compile({ ...responseSchema(method, template, status), components: doc.components });
  const valid = check(body);
  return { valid, errors: ajv.errorsText(check.errors) };
}

/** Sends a request as `user` (or without a token) and checks the answer against the document. */
async function documented(
  method: string,
  template: string,
  params: Record<string, string>,
  options: { user?: string; body?: string; query?: Record<string, string> } = {},
): Promise<{ status: number; json: Json }> {
  const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : "";
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? "")) + query;
  const res = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: options.user ? { authorization: `Bearer ${tokens[options.user]}` } : {},
    ...(options.body !== undefined && { body: options.body }),
  });
  const json = (await res.json()) as Json;
  const { valid, errors } = validate(method, template, res.status, json);
  expect(valid, `${method} ${path} → ${res.status} ${JSON.stringify(json)}: ${errors}`).toBe(true);
  return { status: res.status, json };
}

const data = (answer: { json: Json }) => answer.json["data"] as Json;
const errorCode = (answer: { json: Json }) => (answer.json["error"] as Json)["code"];

describe("OpenAPI document against the real service", () => {
  it("describes every answer of a whole call: initiate, get, join, recordings, leave, end, get after the end", async () => {
    const initiated = await documented("POST", "/v1/calls/initiate", {}, { user: "alice", body: JSON.stringify({ room_id: roomId, type: "video" }) });
    expect(initiated.status).toBe(200);
    const call_id = String(data(initiated)["call_id"]);

    const ringing = await documented("GET", "/v1/calls/{call_id}", { call_id }, { user: "bob" });
    expect(data(ringing)).toMatchObject({ status: "ringing", ended_at: null, end_reason: null });

    const joined = await documented("POST", "/v1/calls/{call_id}/join", { call_id }, { user: "bob" });
    expect(data(joined)["call_id"]).toBe(call_id);

    const active = await documented("GET", "/v1/calls/{call_id}", { call_id }, { user: "alice" });
    expect(data(active)).toMatchObject({ status: "active" });
    expect(data(active)["participants"]).toHaveLength(2);

    const recordings = await documented("GET", "/v1/calls/{call_id}/recordings", { call_id }, { user: "alice" });
    expect(recordings.json["data"]).toEqual([]);

    const left = await documented("POST", "/v1/calls/{call_id}/leave", { call_id }, { user: "bob", body: "{}" });
    expect(data(left)["participants"]).toHaveLength(1);

    const ended = await documented("POST", "/v1/calls/{call_id}/end", { call_id }, { user: "alice" });
    expect(data(ended)).toMatchObject({ status: "ended", end_reason: "ended" });
    expect(typeof data(ended)["ended_at"]).toBe("string");

    const final = await documented("GET", "/v1/calls/{call_id}", { call_id }, { user: "bob" });
    expect(data(final)).toEqual(data(ended));

    const gone = await documented("POST", "/v1/calls/{call_id}/join", { call_id }, { user: "bob" });
    expect([gone.status, errorCode(gone)]).toEqual([410, "SW_CALL_ENDED"]);

    // The schemas are closed: a field the document does not list is a failure.
    expect(validate("GET", "/v1/calls/{call_id}", 200, { data: { ...data(final), undocumented: true } }).valid).toBe(false);
    expect(validate("GET", "/v1/calls/{call_id}", 200, { data: { ...data(final), status: "CALL_STATUS_ENDED" } }).valid).toBe(false);
  });

  it("describes the answers of ringing and history: RingCall, ListCallHistory, MarkCallHistorySeen, ListRoomCalls", async () => {
    const group = await directoryClient(service.baseUrl).room({ alice: 0, bob: 0, carol: 0 });
    const initiated = await documented("POST", "/v1/calls/initiate", {}, { user: "alice", body: JSON.stringify({ room_id: group, type: "audio" }) });
    const call_id = String(data(initiated)["call_id"]);
    await documented("POST", "/v1/calls/{call_id}/reject", { call_id }, { user: "bob" });

    const rung = await documented("POST", "/v1/calls/{call_id}/ring", { call_id }, { user: "alice", body: JSON.stringify({ user_ids: ["bob"] }) });
    expect(data(rung)["invitees"]).toContainEqual(expect.objectContaining({ user_id: "bob", state: "ringing" }));

    // A ringing call: no outcome yet, no end, no duration.
    const ringing = await documented("GET", "/v1/calls/history", {}, { user: "bob", query: { page_size: "1" } });
    expect(data(ringing)["entries"]).toEqual([
      expect.objectContaining({ call_id, direction: "incoming", outcome: null, ended_at: null, duration: null }),
    ]);
    const ended = await documented("POST", "/v1/calls/{call_id}/end", { call_id }, { user: "alice" });
    expect(data(ended)).toMatchObject({ status: "ended" });
    const history = await documented("GET", "/v1/calls/history", {}, { user: "alice" });
    expect((data(history)["entries"] as Json[])[0]).toMatchObject({ call_id, direction: "outgoing", duration: expect.stringMatching(/s$/) as string });

    const seen = await documented("POST", "/v1/calls/history/seen", {}, { user: "bob" });
    expect(Object.keys(data(seen))).toEqual(["marked"]);

    const roomCalls = await documented("GET", "/v1/rooms/{room_id}/calls", { room_id: group }, { user: "carol", query: { page_size: "10" } });
    expect(data(roomCalls)).toMatchObject({ calls: [expect.objectContaining({ id: call_id })], next_cursor: "" });

    const outsider = await documented("GET", "/v1/rooms/{room_id}/calls", { room_id: roomId }, { user: "carol" });
    expect([outsider.status, errorCode(outsider)]).toEqual([403, "SW_CALL_FORBIDDEN"]);
    const badCursor = await documented("GET", "/v1/calls/history", {}, { user: "bob", query: { cursor: "nonsense" } });
    expect([badCursor.status, errorCode(badCursor)]).toEqual([400, "SW_CALL_INVALID_ARGUMENT"]);
    const stranger = await documented("POST", "/v1/calls/{call_id}/ring", { call_id }, { user: "alice", body: JSON.stringify({ user_ids: ["mallory"] }) });
    expect(stranger.status).toBe(400);
  });

  it("describes the error answers: 404 unknown call, 401 no token, 400 bad body, 403 not a member", async () => {
    const unknown = await documented("GET", "/v1/calls/{call_id}", { call_id: "call-00000000000000000000000000" }, { user: "alice" });
    expect([unknown.status, errorCode(unknown)]).toEqual([404, "SW_CALL_NOT_FOUND"]);

    const anonymous = await documented("GET", "/v1/calls/{call_id}", { call_id: "call-x" });
    expect([anonymous.status, errorCode(anonymous)]).toEqual([401, "SW_CALL_UNAUTHENTICATED"]);

    for (const body of ["{bad", JSON.stringify({ room_id: roomId, colour: "red" }), JSON.stringify({ room_id: roomId, type: "fax" })]) {
      const bad = await documented("POST", "/v1/calls/initiate", {}, { user: "alice", body });
      expect([bad.status, errorCode(bad)], body).toEqual([400, "SW_CALL_INVALID_ARGUMENT"]);
    }

    const outsider = await documented("POST", "/v1/calls/initiate", {}, { user: "carol", body: JSON.stringify({ room_id: roomId, type: "audio" }) });
    expect([outsider.status, errorCode(outsider)]).toEqual([403, "SW_CALL_FORBIDDEN"]);

    expect(validate("GET", "/v1/calls/{call_id}", 404, { error: { code: "SW_CALL_SOMETHING_ELSE", message: "x" } }).valid).toBe(false);
  });
});
