import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectJsonHttp1,
  grpcJsApi,
  restApi,
  type ApiCall,
  type ApiHistoryEntry,
  type CallsApi,
} from "../support/clients.js";
import { expectWireError } from "../support/wire-errors.js";
import { directoryClient } from "../support/directory.js";
import { EventTap, type Envelope } from "../support/event-tap.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { startService, type RunningService } from "../support/service.js";
import { sharedLiveKit } from "../support/shared-servers.js";
import { userToken } from "../support/tokens.js";

/**
 * Ringing, missed calls and call history against the real service, real
 * livekit-server and NATS, driven the same way over REST, Connect and gRPC:
 * a group call where each member does something else (answers, declines, is
 * busy in another call, lets it ring out), ringing again, history pages that
 * hold still while calls are added, tenant isolation and every refusal.
 *
 * Ringing out is the only thing that waits on time. The service's clock runs
 * with the wall clock but can be moved forward past the ring timeout, so a
 * ring runs out exactly when the test says, never because the machine was slow.
 */

const RING_TIMEOUT_MS = 60_000;
let clockOffsetMs = 0;
/** Moves the service's clock past every ring deadline given until now. */
const ringOut = () => {
  clockOffsetMs += RING_TIMEOUT_MS + 1_000;
};

let nats: NatsServer;
let service: RunningService;
let tap: EventTap;
let directory: ReturnType<typeof directoryClient>;
const grpcClients: { close(): void }[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  service = await startService(
    sharedLiveKit(),
    {
      NATS_URL: nats.url,
      RING_TIMEOUT_SECONDS: String(RING_TIMEOUT_MS / 1000),
      // Nobody connects media here: reconciliation would take the API's participants for ghosts.
      RECONCILE_INTERVAL_SECONDS: "0",
    },
    { clock: { now: () => Date.now() + clockOffsetMs } },
  );
  tap = await EventTap.start(nats.url);
  directory = directoryClient(service.baseUrl);
});

afterAll(async () => {
  for (const c of grpcClients) c.close();
  await tap?.close();
  await service?.stop();
  await nats?.stop();
});

const protocols: { kind: "rest" | "connect" | "grpc"; make: (baseUrl: string) => CallsApi }[] = [
  { kind: "rest", make: restApi },
  { kind: "connect", make: connectJsonHttp1 },
  {
    kind: "grpc",
    make: (baseUrl) => {
      const api = grpcJsApi(baseUrl.replace("http://", ""));
      grpcClients.push(api);
      return api;
    },
  },
];

const userSubject = (id: string) => `swp.user.${id}.call`;
const roomSubject = (id: string) => `swp.room.${id}.call`;

/** Where each invitee stands, by user id. */
const states = (call: ApiCall) => Object.fromEntries(call.invitees.map((i) => [i.user_id, i.state]));

describe.each(protocols)("ringing over $kind", ({ kind, make }) => {
  let api: CallsApi;
  beforeAll(() => {
    api = make(service.baseUrl);
  });
  /** User ids of their own per protocol: each run's history holds its own calls only. */
  const u = (name: string) => `${name}-${kind}`;
  const as = (name: string, tenantId = "acme") => userToken(u(name), tenantId);

  const expectError = (promise: Promise<unknown>, code: string, message?: string | RegExp) => expectWireError(kind, promise, code, message);

  const entryFor = async (name: string, callId: string): Promise<ApiHistoryEntry | undefined> =>
    (await api.history(await as(name))).entries.find((e) => e.call_id === callId);

  it("a group call: one answers, one declines, one is busy, one lets it ring out; events, states and history say so", async () => {
    // Dave is talking in another room's call when the group call starts.
    const otherRoom = await directory.room({ [u("frank")]: 0, [u("dave")]: 0 });
    const other = await api.initiate(await as("frank"), otherRoom, "audio");
    await api.join(await as("dave"), other.call_id);

    const roomId = await directory.room({ [u("alice")]: 0, [u("bob")]: 0, [u("carol")]: 0, [u("dave")]: 0, [u("erin")]: 0 });
    const { call_id: callId } = await api.initiate(await as("alice"), roomId, "video");
    const started = await api.get(await as("alice"), callId);
    expect(states(started)).toEqual({ [u("bob")]: "ringing", [u("carol")]: "ringing", [u("dave")]: "busy", [u("erin")]: "ringing" });
    for (const invitee of started.invitees) {
      expect(invitee.ring_deadline, invitee.user_id).not.toBeNull();
      expect(Date.parse(invitee.ring_deadline ?? "") - Date.parse(started.started_at)).toBe(RING_TIMEOUT_MS);
    }

    await api.join(await as("bob"), callId);
    const declined = await api.reject(await as("carol"), callId);
    expect(states(declined)).toMatchObject({ [u("bob")]: "answered", [u("carol")]: "rejected" });
    expect(declined.status).toBe("active");

    ringOut();
    const missed = await tap.waitFor((e) => e.call_id === callId && e.type === "swp.call.missed");
    await tap.settle(service);

    // Dave's ring ran out too, but he stays busy (the caller saw why); only Erin missed it.
    const afterTimeout = await api.get(await as("alice"), callId);
    expect(states(afterTimeout)).toEqual({
      [u("bob")]: "answered",
      [u("carol")]: "rejected",
      [u("dave")]: "busy",
      [u("erin")]: "missed",
    });
    expect(afterTimeout.invitees.every((i) => i.ring_deadline === null)).toBe(true);
    expect(afterTimeout.status).toBe("active");

    // Exactly one missed call, to the member who let it ring out.
    expect(tap.forCall(callId).filter((e) => e.type === "swp.call.missed")).toEqual([missed]);
    expect(missed.subject).toBe(userSubject(u("erin")));
    expect(missed.data).toEqual({ caller_id: u("alice"), type: "video", reason: "timeout", call: expect.anything() as unknown });
    expect(states(missed.data["call"] as ApiCall)[u("erin")]).toBe("missed");

    const invites = tap.forCall(callId).filter((e) => e.type === "swp.call.invite");
    expect(Object.fromEntries(invites.map((e) => [e.subject, e.data["busy"]]))).toEqual({
      [userSubject(u("bob"))]: false,
      [userSubject(u("carol"))]: false,
      [userSubject(u("dave"))]: true,
      [userSubject(u("erin"))]: false,
    });
    expect(tap.sequence(userSubject(u("bob")), callId)).toEqual(["swp.call.invite", "swp.call.ring_stopped(answered)"]);
    expect(tap.sequence(userSubject(u("carol")), callId)).toEqual(["swp.call.invite", "swp.call.ring_stopped(rejected)"]);
    expect(tap.sequence(userSubject(u("dave")), callId)).toEqual(["swp.call.invite", "swp.call.ring_stopped(timeout)"]);
    expect(tap.sequence(userSubject(u("erin")), callId)).toEqual([
      "swp.call.invite",
      "swp.call.ring_stopped(timeout)",
      "swp.call.missed(timeout)",
    ]);
    const room = tap.sequence(roomSubject(roomId), callId);
    expect(room.slice(0, 5)).toEqual([
      "swp.call.started",
      `swp.call.participant_joined(${u("alice")})`,
      `swp.call.participant_joined(${u("bob")})`,
      "swp.call.active",
      `swp.call.rejected(${u("carol")})`,
    ]);
    // The ring timeouts reach the room as invitee updates, in either order.
    expect(room.slice(5).sort()).toEqual([`swp.call.invitee_updated(${u("dave")})`, `swp.call.invitee_updated(${u("erin")})`]);
    const updates = tap.forCall(callId).filter((e) => e.type === "swp.call.invitee_updated");
    expect(Object.fromEntries(updates.map((e) => [e.data["user_id"], e.data["state"]]))).toEqual({ [u("dave")]: "busy", [u("erin")]: "missed" });
    // Every event's call is the call as GetCall shows it on the REST paths, invitees included.
    expect(updates.at(-1)?.data["call"]).toEqual(await restApi(service.baseUrl).get(await as("alice"), callId));

    // Each member's history: which way the call went and how it turned out for them.
    const expected: Record<string, [string, string]> = {
      alice: ["outgoing", "answered"],
      bob: ["incoming", "answered"],
      carol: ["incoming", "declined"],
      dave: ["incoming", "busy"],
      erin: ["incoming", "missed"],
    };
    for (const [name, [direction, outcome]] of Object.entries(expected)) {
      expect(await entryFor(name, callId), name).toMatchObject({
        call_id: callId,
        room_id: roomId,
        type: "video",
        status: "active",
        direction,
        outcome,
        initiator_id: u("alice"),
        started_at: started.started_at,
        ended_at: null,
        duration: null,
        participant_count: 2,
        missed_unseen: name === "erin",
      });
    }
    // Dave's own call in the other room is in his history too, newest first.
    expect((await api.history(await as("dave"))).entries.map((e) => [e.call_id, e.outcome])).toEqual([
      [callId, "busy"],
      [other.call_id, "answered"],
    ]);

    // Erin has one missed call she has not seen; marking her history seen clears it.
    const erinHistory = await api.history(await as("erin"));
    expect(erinHistory.unseen_missed_count).toBe(1);
    expect(erinHistory.next_cursor).toBe("");
    expect(await api.markHistorySeen(await as("erin"))).toEqual({ marked: 1 });
    const seen = await api.history(await as("erin"));
    expect(seen.unseen_missed_count).toBe(0);
    expect(seen.entries.find((e) => e.call_id === callId)).toMatchObject({ outcome: "missed", missed_unseen: false });
    expect(await api.markHistorySeen(await as("erin"))).toEqual({ marked: 0 });

    // The same user id in another tenant sees nothing of any of it.
    const stranger = await as("erin", "globex");
    expect(await api.history(stranger)).toEqual({ entries: [], next_cursor: "", unseen_missed_count: 0 });
    await expectError(api.get(stranger, callId), "SW_CALL_NOT_FOUND");
    await expectError(api.ring(stranger, callId, [u("erin")]), "SW_CALL_NOT_FOUND");
    await expectError(api.roomCalls(stranger, roomId), "SW_CALL_FORBIDDEN");

    // Ringing Erin again after her miss: a fresh ring and a new invite; this time she answers.
    const rungAgain = await api.ring(await as("bob"), callId, [u("erin")]);
    const erin = rungAgain.invitees.find((i) => i.user_id === u("erin"));
    expect(erin?.state).toBe("ringing");
    expect(Date.parse(erin?.ring_deadline ?? "")).toBeGreaterThan(Date.parse(missed.ts));
    await api.join(await as("erin"), callId);
    await api.end(await as("alice"), callId);
    await api.end(await as("frank"), other.call_id);
    await tap.settle(service);

    expect(tap.sequence(userSubject(u("erin")), callId)).toEqual([
      "swp.call.invite",
      "swp.call.ring_stopped(timeout)",
      "swp.call.missed(timeout)",
      "swp.call.invite",
      "swp.call.ring_stopped(answered)",
    ]);
    const secondInvite = tap.forCall(callId).filter((e) => e.type === "swp.call.invite" && e.subject === userSubject(u("erin")))[1];
    expect(secondInvite?.data).toMatchObject({ caller_id: u("alice"), type: "video", busy: false });
    expect(tap.sequence(roomSubject(roomId), callId).slice(7)).toEqual([
      `swp.call.invitee_updated(${u("erin")})`,
      `swp.call.participant_joined(${u("erin")})`,
      "swp.call.ended(ended)",
    ]);
    expect(tap.forCall(callId).filter((e) => e.type === "swp.call.missed")).toHaveLength(1);

    // The end's call shows everyone's final state; history has the length of the call.
    const ended = tap.forCall(callId).find((e) => e.type === "swp.call.ended") as Envelope;
    expect(states(ended.data["call"] as ApiCall)).toEqual({
      [u("bob")]: "answered",
      [u("carol")]: "rejected",
      [u("dave")]: "busy",
      [u("erin")]: "answered",
    });
    const final = await entryFor("erin", callId);
    expect(final).toMatchObject({ status: "ended", direction: "incoming", outcome: "answered", participant_count: 3 });
    expect(final?.duration).toMatch(/^\d+(\.\d+)?s$/);
    expect(Date.parse(final?.ended_at ?? "")).toBeGreaterThan(Date.parse(final?.started_at ?? ""));
  });

  it("history pages hold still while calls are added: no repeats, no gaps", async () => {
    const pager = "pager";
    const startCall = async () => {
      const roomId = await directory.room({ [u(pager)]: 0, [u("peer")]: 0 });
      const { call_id } = await api.initiate(await as(pager), roomId, "audio");
      await api.end(await as(pager), call_id);
      return call_id;
    };
    const existing: string[] = [];
    for (let i = 0; i < 5; i++) existing.push(await startCall());
    const newestFirst = [...existing].reverse();

    const token = await as(pager);
    const seen: string[] = [];
    const added: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; ; page++) {
      const result = await api.history(token, { pageSize: 2, ...(cursor !== undefined && { cursor }) });
      expect(result.entries.length).toBeLessThanOrEqual(2);
      seen.push(...result.entries.map((e) => e.call_id));
      if (result.next_cursor === "") break;
      cursor = result.next_cursor;
      // Newer calls arrive between pages.
      added.push(await startCall());
      expect(page).toBeLessThan(5);
    }
    expect(seen).toEqual(newestFirst);
    expect(seen.every((id) => !added.includes(id))).toBe(true);
    // Starting over shows the new ones first.
    expect((await api.history(token, { pageSize: 100 })).entries.map((e) => e.call_id)).toEqual([...added.reverse(), ...newestFirst]);
  });

  it("ListRoomCalls: a room's calls newest first, paged, for its members only", async () => {
    const roomId = await directory.room({ [u("alice")]: 0, [u("bob")]: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { call_id } = await api.initiate(await as("alice"), roomId, "audio");
      ids.push(call_id);
      if (i < 2) await api.end(await as("alice"), call_id);
    }
    const bob = await as("bob");
    const first = await api.roomCalls(bob, roomId, { pageSize: 2 });
    expect(first.calls.map((c) => [c.id, c.status])).toEqual([
      [ids[2], "ringing"],
      [ids[1], "ended"],
    ]);
    // Each call as GetCall shows it, invitees included.
    expect(first.calls[0]).toEqual(await api.get(bob, ids[2] ?? ""));
    expect(first.next_cursor).not.toBe("");
    const second = await api.roomCalls(bob, roomId, { pageSize: 2, cursor: first.next_cursor });
    expect(second.calls.map((c) => c.id)).toEqual([ids[0]]);
    expect(second.next_cursor).toBe("");
    // No page size: the default page holds them all.
    expect((await api.roomCalls(bob, roomId)).calls.map((c) => c.id)).toEqual([...ids].reverse());

    await expectError(api.roomCalls(await as("mallory"), roomId), "SW_CALL_FORBIDDEN", /not a member of room/);
    await expectError(api.roomCalls(bob, roomId, { cursor: "bm90LWEtY3Vyc29y" }), "SW_CALL_INVALID_ARGUMENT", /cursor/);
    await expectError(api.history(bob, { cursor: "garbage" }), "SW_CALL_INVALID_ARGUMENT", /cursor/);
    await expectError(api.history(bob, { pageSize: 101 }), "SW_CALL_INVALID_ARGUMENT", /page_size/);
    await api.end(await as("alice"), ids[2] ?? "");
  });

  it("RingCall refusals: not a participant (403), an ended call (SW_CALL_ENDED), a target outside the room (400)", async () => {
    const roomId = await directory.room({ [u("alice")]: 0, [u("bob")]: 0, [u("carol")]: 0 });
    const { call_id: callId } = await api.initiate(await as("alice"), roomId, "audio");
    await expectError(api.ring(await as("bob"), callId, [u("carol")]), "SW_CALL_FORBIDDEN", /only a participant/);
    await expectError(api.ring(await as("mallory"), callId, [u("carol")]), "SW_CALL_FORBIDDEN");
    await expectError(api.ring(await as("alice"), callId, [u("mallory")]), "SW_CALL_INVALID_ARGUMENT", new RegExp(`not members of room ${roomId}: ${u("mallory")}`));
    await expectError(api.ring(await as("alice"), callId, [u("bob"), u("bob")]), "SW_CALL_INVALID_ARGUMENT", /user_ids/);
    await api.end(await as("alice"), callId);
    await expectError(api.ring(await as("alice"), callId, [u("bob")]), "SW_CALL_ENDED");
    // Nobody was rung by any of it.
    await tap.settle(service);
    expect(tap.forCall(callId).filter((e) => e.type === "swp.call.invite")).toHaveLength(2);
  });
});

describe("REST specifics of the new paths", () => {
  const get = async (path: string) => {
    const res = await fetch(`${service.baseUrl}${path}`, { headers: { authorization: `Bearer ${await userToken("rest-only")}` } });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it("bad paging input on the query string: 400 naming the parameter", async () => {
    for (const [query, message] of [
      ["?cursor=not-a-cursor", "cursor is not one this service gave out; start again without it"],
      ["?page_size=ten", /page_size/],
      ["?page_size=101", /^page_size: /],
      ["?pagesize=10", 'invalid request: unknown query parameter "pagesize"'],
    ] as const) {
      const res = await get(`/v1/calls/history${query}`);
      expect(res.status, query).toBe(400);
      const error = res.json["error"] as { code: string; message: string };
      expect(error.code, query).toBe("SW_CALL_INVALID_ARGUMENT");
      expect(error.message, query).toMatch(message);
    }
  });

  it("/v1/calls/history is never GetCall of a call named history, whatever else is on the path", async () => {
    expect(await get("/v1/calls/history")).toEqual({ status: 200, json: { data: { entries: [], next_cursor: "", unseen_missed_count: 0 } } });
    const wrongMethod = await fetch(`${service.baseUrl}/v1/calls/history`, { method: "DELETE" });
    expect([wrongMethod.status, wrongMethod.headers.get("allow")]).toEqual([405, "GET"]);
  });
});
