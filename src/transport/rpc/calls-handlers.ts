import { CallsService } from "../../../gen/scaiwave/calls/v1/calls_pb.js";
import type { CallHistoryUseCases } from "../../app/call-history.js";
import type { CallsUseCases } from "../../app/calls.js";
import type { RecordingsUseCases } from "../../app/recordings.js";
import type { Caller } from "../../app/ports.js";
import { userCaller, userRateKey } from "./access.js";
import { callToProto, callTypeFromProto, historyEntryToProto, recordingToProto, ticketToProto } from "./call-mapping.js";
import type { Registration, ServiceHandlers } from "./registry.js";

/**
 * CallsService, for users: a token with a user and a tenant, limited per user.
 * Starting calls and recordings cost LiveKit rooms and egress workers, and a
 * ring pushes to other people's phones, so they have budgets of their own.
 */
export function callsRegistration(
  calls: CallsUseCases,
  recordings: RecordingsUseCases,
  history: CallHistoryUseCases,
): Registration<typeof CallsService, Caller> {
  return {
    handlers: callsHandlers(calls, recordings, history),
    access: userCaller,
    rateLimit: {
      key: userRateKey,
      classes: { initiateCall: "initiate", startRecording: "recording", stopRecording: "recording", ringCall: "ring" },
    },
  };
}

/** CallsService: call the use case, map the result. Nothing else (the registry has checked the buf.validate rules). */
function callsHandlers(
  calls: CallsUseCases,
  recordings: RecordingsUseCases,
  history: CallHistoryUseCases,
): ServiceHandlers<typeof CallsService, Caller> {
  return {
    async initiateCall(req, ctx) {
      return ticketToProto(await calls.initiate(ctx.caller, req.roomId, callTypeFromProto(req.type)));
    },
    async joinCall(req, ctx) {
      return ticketToProto(await calls.join(ctx.caller, req.callId));
    },
    async leaveCall(req, ctx) {
      return { call: callToProto(await calls.leave(ctx.caller, req.callId)) };
    },
    async rejectCall(req, ctx) {
      return { call: callToProto(await calls.reject(ctx.caller, req.callId)) };
    },
    async endCall(req, ctx) {
      return { call: callToProto(await calls.end(ctx.caller, req.callId)) };
    },
    async getCall(req, ctx) {
      const { call, alongside: views } = await calls.get(ctx.caller, req.callId, (call, reads) => recordings.viewsFor([call], reads));
      return { call: callToProto(call, views[0]) };
    },
    async listCalls(_req, ctx) {
      const live = await calls.listLive(ctx.caller);
      const views = await recordings.viewsFor(live);
      return { calls: live.map((call, i) => callToProto(call, views[i])) };
    },
    async muteParticipant(req, ctx) {
      const what = { audio: req.audio ?? true, video: req.video ?? false };
      return { call: callToProto(await calls.muteParticipant(ctx.caller, req.callId, req.participantId, what)) };
    },
    async removeParticipant(req, ctx) {
      return { call: callToProto(await calls.removeParticipant(ctx.caller, req.callId, req.participantId)) };
    },
    async startRecording(req, ctx) {
      const options = { audio: req.audio ?? true, video: req.video ?? true, transcript: req.transcript ?? false };
      const view = await recordings.start(ctx.caller, req.callId, options);
      return { recording: recordingToProto(view) };
    },
    async stopRecording(req, ctx) {
      return { recording: recordingToProto(await recordings.stop(ctx.caller, req.callId)) };
    },
    async listRecordings(req, ctx) {
      // Any member of the room: the same read as GetCall's.
      const { alongside: views } = await calls.get(ctx.caller, req.callId, (call, reads) => recordings.viewsFor([call], reads));
      return { recordings: (views[0] ?? []).map(recordingToProto) };
    },
    async ringCall(req, ctx) {
      return { call: callToProto(await calls.ring(ctx.caller, req.callId, req.userIds)) };
    },
    async listCallHistory(req, ctx) {
      // An empty cursor (proto's default) is the first page.
      const page = await history.history(ctx.caller, req.pageSize, req.cursor || undefined);
      return { entries: page.items.map(historyEntryToProto), nextCursor: page.nextCursor ?? "", unseenMissedCount: page.unseenMissed };
    },
    async markCallHistorySeen(_req, ctx) {
      return { marked: await history.markSeen(ctx.caller) };
    },
    async listRoomCalls(req, ctx) {
      const page = await history.roomCalls(ctx.caller, req.roomId, req.pageSize, req.cursor || undefined);
      const views = await recordings.viewsFor(page.items);
      return { calls: page.items.map((call, i) => callToProto(call, views[i])), nextCursor: page.nextCursor ?? "" };
    },
  };
}
