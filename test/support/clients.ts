import * as grpc from "@grpc/grpc-js";
import { anyUnpack, DurationSchema, timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { create, fromBinary, toBinary, toJson, type DescMessage, type DescService, type Message } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import {
  CallDirection,
  CallOutcome,
  CallsService,
  CallStatus,
  CallType,
  EndReason,
  InviteeState,
  type Call,
  type CallHistoryEntry,
  type ListCallHistoryResponse,
  type ListRoomCallsResponse,
} from "../../gen/scaiwave/calls/v1/calls_pb.js";

/** A call as the REST paths show it; the other protocols' answers are normalised to this. */
export interface ApiCall {
  id: string;
  room_id: string;
  type: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  initiator_id: string;
  participants: { participant_id: string; joined_at: string; video_on: boolean; audio_on: boolean }[];
  recordings: unknown[];
  end_reason: string | null;
  invitees: ApiInvitee[];
}

export interface ApiInvitee {
  user_id: string;
  state: string;
  changed_at: string;
  ring_deadline: string | null;
}

/** One entry of ListCallHistory, as the REST paths show it. */
export interface ApiHistoryEntry {
  call_id: string;
  room_id: string;
  type: string;
  status: string;
  direction: string | null;
  outcome: string | null;
  initiator_id: string;
  started_at: string;
  ended_at: string | null;
  duration: string | null;
  participant_count: number;
  missed_unseen: boolean;
}

export interface ApiHistoryPage {
  entries: ApiHistoryEntry[];
  next_cursor: string;
  unseen_missed_count: number;
}

export interface ApiRoomCallsPage {
  calls: ApiCall[];
  next_cursor: string;
}

/** A page request: both optional, as a client may leave them out. */
export interface PageRequest {
  readonly pageSize?: number;
  readonly cursor?: string;
}

export interface Ticket {
  call_id: string;
  livekit_url: string;
  livekit_token: string;
  livekit_room: string;
}

/** A failed call on any protocol: the SW_CALL_* code, plus the protocol's own status. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly protocolStatus: string | number,
    message: string,
  ) {
    super(`${code} (${protocolStatus}): ${message}`);
  }
}

/** The lifecycle RPCs, driven through one protocol. */
export interface CallsApi {
  readonly name: string;
  initiate(token: string, roomId: string, type: "audio" | "video"): Promise<Ticket>;
  join(token: string, callId: string): Promise<Ticket>;
  leave(token: string, callId: string): Promise<ApiCall>;
  reject(token: string, callId: string): Promise<ApiCall>;
  end(token: string, callId: string): Promise<ApiCall>;
  get(token: string, callId: string): Promise<ApiCall>;
  startRecording(token: string, callId: string): Promise<unknown>;
  ring(token: string, callId: string, userIds?: readonly string[]): Promise<ApiCall>;
  history(token: string, page?: PageRequest): Promise<ApiHistoryPage>;
  markHistorySeen(token: string): Promise<{ marked: number }>;
  roomCalls(token: string, roomId: string, page?: PageRequest): Promise<ApiRoomCallsPage>;
}

/** A page request as query parameters (`?page_size=…&cursor=…`), empty when neither is given. */
function pageQuery(page: PageRequest): string {
  const query = new URLSearchParams();
  if (page.pageSize !== undefined) query.set("page_size", String(page.pageSize));
  if (page.cursor !== undefined) query.set("cursor", page.cursor);
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
}

// ---------- REST (plain fetch) ----------

export function restApi(baseUrl: string): CallsApi {
  const call = async <T>(token: string, method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as { data?: T; error?: { code: string; message: string } };
    if (json.error) throw new ApiError(json.error.code, res.status, json.error.message);
    return json.data as T;
  };
  return {
    name: "REST (fetch)",
    initiate: (t, roomId, type) => call(t, "POST", "/v1/calls/initiate", { room_id: roomId, type }),
    join: (t, id) => call(t, "POST", `/v1/calls/${id}/join`),
    leave: (t, id) => call(t, "POST", `/v1/calls/${id}/leave`),
    reject: (t, id) => call(t, "POST", `/v1/calls/${id}/reject`),
    end: (t, id) => call(t, "POST", `/v1/calls/${id}/end`),
    get: (t, id) => call(t, "GET", `/v1/calls/${id}`),
    startRecording: (t, id) => call(t, "POST", `/v1/calls/${id}/recording/start`, {}),
    ring: (t, id, userIds) => call(t, "POST", `/v1/calls/${id}/ring`, userIds === undefined ? {} : { user_ids: userIds }),
    history: (t, page = {}) => call(t, "GET", `/v1/calls/history${pageQuery(page)}`),
    markHistorySeen: (t) => call(t, "POST", "/v1/calls/history/seen"),
    roomCalls: (t, roomId, page = {}) => call(t, "GET", `/v1/rooms/${encodeURIComponent(roomId)}/calls${pageQuery(page)}`),
  };
}

// ---------- normalisation of protobuf answers ----------

const enumName = (names: Record<number, string>, value: number, prefix: string): string | null =>
  value === 0 ? null : (names[value] ?? String(value)).replace(prefix, "").toLowerCase();

const time = (t: Timestamp | undefined): string | null => (t ? timestampDate(t).toISOString() : null);

export function normaliseCall(call: Call | undefined): ApiCall {
  if (!call) throw new Error("response carried no call");
  return {
    id: call.id,
    room_id: call.roomId,
    type: enumName(CallType, call.type, "") ?? "",
    status: enumName(CallStatus, call.status, "") ?? "",
    started_at: call.startedAt ? timestampDate(call.startedAt).toISOString() : "",
    ended_at: call.endedAt ? timestampDate(call.endedAt).toISOString() : null,
    initiator_id: call.initiatorId,
    participants: call.participants.map((p) => ({
      participant_id: p.participantId,
      joined_at: p.joinedAt ? timestampDate(p.joinedAt).toISOString() : "",
      video_on: p.videoOn,
      audio_on: p.audioOn,
    })),
    recordings: call.recordings,
    end_reason: enumName(EndReason, call.endReason, ""),
    invitees: call.invitees.map((i) => ({
      user_id: i.userId,
      state: enumName(InviteeState, i.state, "") ?? "",
      changed_at: time(i.changedAt) ?? "",
      ring_deadline: time(i.ringDeadline),
    })),
  };
}

export function normaliseHistoryEntry(entry: CallHistoryEntry): ApiHistoryEntry {
  return {
    call_id: entry.callId,
    room_id: entry.roomId,
    type: enumName(CallType, entry.type, "") ?? "",
    status: enumName(CallStatus, entry.status, "") ?? "",
    direction: enumName(CallDirection, entry.direction, ""),
    outcome: enumName(CallOutcome, entry.outcome, ""),
    initiator_id: entry.initiatorId,
    started_at: time(entry.startedAt) ?? "",
    ended_at: time(entry.endedAt),
    duration: entry.duration ? (toJson(DurationSchema, entry.duration) as string) : null,
    participant_count: entry.participantCount,
    missed_unseen: entry.missedUnseen,
  };
}

const historyPage = (r: ListCallHistoryResponse): ApiHistoryPage => ({
  entries: r.entries.map(normaliseHistoryEntry),
  next_cursor: r.nextCursor,
  unseen_missed_count: r.unseenMissedCount,
});

const roomCallsPage = (r: ListRoomCallsResponse): ApiRoomCallsPage => ({ calls: r.calls.map(normaliseCall), next_cursor: r.nextCursor });

const ticket = (r: { callId: string; livekitUrl: string; livekitToken: string; livekitRoom: string }): Ticket => ({
  call_id: r.callId,
  livekit_url: r.livekitUrl,
  livekit_token: r.livekitToken,
  livekit_room: r.livekitRoom,
});

// ---------- Connect family (connect-node transports) ----------

export function connectApi(name: string, transport: Transport): CallsApi {
  const client = createClient(CallsService, transport);
  const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const e = ConnectError.from(err);
      const reason = e.findDetails(ErrorInfoSchema)[0]?.reason ?? "(no ErrorInfo)";
      throw new ApiError(reason, e.code, e.rawMessage);
    }
  };
  return {
    name,
    initiate: (t, roomId, type) =>
      wrap(async () =>
        ticket(await client.initiateCall({ roomId, type: type === "audio" ? CallType.AUDIO : CallType.VIDEO }, auth(t))),
      ),
    join: (t, callId) => wrap(async () => ticket(await client.joinCall({ callId }, auth(t)))),
    leave: (t, callId) => wrap(async () => normaliseCall((await client.leaveCall({ callId }, auth(t))).call)),
    reject: (t, callId) => wrap(async () => normaliseCall((await client.rejectCall({ callId }, auth(t))).call)),
    end: (t, callId) => wrap(async () => normaliseCall((await client.endCall({ callId }, auth(t))).call)),
    get: (t, callId) => wrap(async () => normaliseCall((await client.getCall({ callId }, auth(t))).call)),
    startRecording: (t, callId) => wrap(() => client.startRecording({ callId }, auth(t))),
    ring: (t, callId, userIds = []) => wrap(async () => normaliseCall((await client.ringCall({ callId, userIds: [...userIds] }, auth(t))).call)),
    history: (t, page = {}) => wrap(async () => historyPage(await client.listCallHistory(page, auth(t)))),
    markHistorySeen: (t) => wrap(async () => ({ marked: (await client.markCallHistorySeen({}, auth(t))).marked })),
    roomCalls: (t, roomId, page = {}) => wrap(async () => roomCallsPage(await client.listRoomCalls({ roomId, ...page }, auth(t)))),
  };
}

export const connectJsonHttp1 = (baseUrl: string) =>
  connectApi("Connect JSON over HTTP/1.1", createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }));
export const connectBinaryHttp2 = (baseUrl: string) =>
  connectApi("Connect binary over HTTP/2 (h2c)", createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }));
export const grpcWebHttp1 = (baseUrl: string) =>
  connectApi("gRPC-web over HTTP/1.1", createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }));

// ---------- gRPC (@grpc/grpc-js, a different implementation than the server's) ----------

type GrpcUnary = (
  req: Message,
  metadata: grpc.Metadata,
  callback: (err: grpc.ServiceError | null, res?: Message) => void,
) => grpc.ClientUnaryCall;

/** A grpc-js client for any service, built from the protobuf-es descriptors (binary protobuf on the wire). */
export function grpcJsClient(service: DescService, address: string): { client: grpc.Client; call: (method: string, req: Message, token: string) => Promise<Message> } {
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) {
    const codec = (schema: DescMessage) => ({
      serialize: (msg: Message) => Buffer.from(toBinary(schema, create(schema, msg as never))),
      deserialize: (bytes: Buffer) => fromBinary(schema, bytes),
    });
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: codec(method.input).serialize,
      requestDeserialize: codec(method.input).deserialize,
      responseSerialize: codec(method.output).serialize,
      responseDeserialize: codec(method.output).deserialize,
    };
  }
  const Client = grpc.makeGenericClientConstructor(definition, service.name);
  const client = new Client(address, grpc.credentials.createInsecure());
  const call = (method: string, req: Message, token: string) =>
    new Promise<Message>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      const fn = (client as unknown as Record<string, GrpcUnary>)[method];
      if (!fn) throw new Error(`no method ${method}`);
      fn.call(client, req, metadata, (err, res) => {
        if (err) reject(grpcApiError(err));
        else resolve(res as Message);
      });
    });
  return { client, call };
}

/** The SW_CALL_* reason from the `grpc-status-details-bin` trailer (google.rpc.Status with ErrorInfo). */
export function grpcApiError(err: grpc.ServiceError): ApiError {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  let reason = "(no ErrorInfo)";
  if (raw) {
    const status = fromBinary(StatusSchema, typeof raw === "string" ? Buffer.from(raw, "base64") : raw);
    for (const detail of status.details) {
      const info = anyUnpack(detail, ErrorInfoSchema);
      if (info) reason = info.reason;
    }
  }
  return new ApiError(reason, grpc.status[err.code] ?? err.code, err.details);
}

export function grpcJsApi(address: string): CallsApi & { close(): void } {
  const { client, call } = grpcJsClient(CallsService, address);
  const type = (t: "audio" | "video") => (t === "audio" ? CallType.AUDIO : CallType.VIDEO);
  const withCall = async (method: string, callId: string, token: string) =>
    normaliseCall(((await call(method, { callId } as never, token)) as unknown as { call?: Call }).call);
  return {
    name: "gRPC (@grpc/grpc-js over h2c)",
    initiate: async (t, roomId, kind) =>
      ticket((await call("initiateCall", { roomId, type: type(kind) } as never, t)) as never),
    join: async (t, callId) => ticket((await call("joinCall", { callId } as never, t)) as never),
    leave: (t, callId) => withCall("leaveCall", callId, t),
    reject: (t, callId) => withCall("rejectCall", callId, t),
    end: (t, callId) => withCall("endCall", callId, t),
    get: (t, callId) => withCall("getCall", callId, t),
    startRecording: (t, callId) => call("startRecording", { callId } as never, t),
    ring: async (t, callId, userIds = []) =>
      normaliseCall(((await call("ringCall", { callId, userIds: [...userIds] } as never, t)) as unknown as { call?: Call }).call),
    history: async (t, page = {}) => historyPage((await call("listCallHistory", page as never, t)) as unknown as ListCallHistoryResponse),
    markHistorySeen: async (t) => ({ marked: ((await call("markCallHistorySeen", {} as never, t)) as unknown as { marked: number }).marked }),
    roomCalls: async (t, roomId, page = {}) =>
      roomCallsPage((await call("listRoomCalls", { roomId, ...page } as never, t)) as unknown as ListRoomCallsResponse),
    close: () => client.close(),
  };
}
