import { CallsService } from "../../../gen/scaiwave/calls/v1/calls_pb.js";
import type { CallsUseCases } from "../../app/calls.js";
import type { RecordingsUseCases } from "../../app/recordings.js";
import type { Caller } from "../../app/ports.js";
import { userCaller, userRateKey } from "./access.js";
import { callToProto, callTypeFromProto, recordingToProto, ticketToProto } from "./call-mapping.js";
import type { Registration, ServiceHandlers } from "./registry.js";

/**
 * CallsService, for users: a token with a user and a tenant, limited per user.
 * Starting calls and recordings cost LiveKit rooms and egress workers, so they
 * have budgets of their own.
 */
export function callsRegistration(calls: CallsUseCases, recordings: RecordingsUseCases): Registration<typeof CallsService, Caller> {
  return {
    handlers: callsHandlers(calls, recordings),
    access: userCaller,
    rateLimit: {
      key: userRateKey,
      classes: { initiateCall: "initiate", startRecording: "recording", stopRecording: "recording" },
    },
  };
}

/** CallsService: call the use case, map the result. Nothing else (the registry has checked the buf.validate rules). */
function callsHandlers(calls: CallsUseCases, recordings: RecordingsUseCases): ServiceHandlers<typeof CallsService, Caller> {
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
      const call = await calls.get(ctx.caller, req.callId);
      return { call: callToProto(call, await recordings.viewsFor(call)) };
    },
    async listCalls(_req, ctx) {
      const live = await calls.listLive(ctx.caller);
      return { calls: await Promise.all(live.map(async (call) => callToProto(call, await recordings.viewsFor(call)))) };
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
      const views = await recordings.list(ctx.caller, req.callId);
      return { recordings: views.map(recordingToProto) };
    },
  };
}
