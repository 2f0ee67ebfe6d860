import { CallsService } from "../../../gen/scaiwave/calls/v1/calls_pb.js";
import type { CallsUseCases } from "../../app/calls.js";
import type { RecordingsUseCases } from "../../app/recordings.js";
import { callerOf } from "./access.js";
import { callToProto, callTypeFromProto, recordingToProto, requireField, ticketToProto } from "./call-mapping.js";
import type { ServiceHandlers } from "./registry.js";

/** CallsService: validate the request, call the use case, map the result. Nothing else. */
export function callsHandlers(calls: CallsUseCases, recordings: RecordingsUseCases): ServiceHandlers<typeof CallsService> {
  return {
    async initiateCall(req, ctx) {
      const roomId = requireField("room_id", req.roomId);
      return ticketToProto(await calls.initiate(callerOf(ctx.principal), roomId, callTypeFromProto(req.type)));
    },
    async joinCall(req, ctx) {
      return ticketToProto(await calls.join(callerOf(ctx.principal), requireField("call_id", req.callId)));
    },
    leaveCall(req, ctx) {
      return { call: callToProto(calls.leave(callerOf(ctx.principal), requireField("call_id", req.callId))) };
    },
    rejectCall(req, ctx) {
      return { call: callToProto(calls.reject(callerOf(ctx.principal), requireField("call_id", req.callId))) };
    },
    async endCall(req, ctx) {
      return { call: callToProto(await calls.end(callerOf(ctx.principal), requireField("call_id", req.callId))) };
    },
    async getCall(req, ctx) {
      const call = calls.get(callerOf(ctx.principal), requireField("call_id", req.callId));
      return { call: callToProto(call, await recordings.viewsFor(call)) };
    },
    async listCalls(_req, ctx) {
      const live = calls.listLive(callerOf(ctx.principal));
      return { calls: await Promise.all(live.map(async (call) => callToProto(call, await recordings.viewsFor(call)))) };
    },
    async muteParticipant(req, ctx) {
      const what = { audio: req.audio ?? true, video: req.video ?? false };
      const callId = requireField("call_id", req.callId);
      const participantId = requireField("participant_id", req.participantId);
      return { call: callToProto(await calls.muteParticipant(callerOf(ctx.principal), callId, participantId, what)) };
    },
    async removeParticipant(req, ctx) {
      const callId = requireField("call_id", req.callId);
      const participantId = requireField("participant_id", req.participantId);
      return { call: callToProto(await calls.removeParticipant(callerOf(ctx.principal), callId, participantId)) };
    },
    async startRecording(req, ctx) {
      const options = { audio: req.audio ?? true, video: req.video ?? true, transcript: req.transcript ?? false };
      const view = await recordings.start(callerOf(ctx.principal), requireField("call_id", req.callId), options);
      return { recording: recordingToProto(view) };
    },
    async stopRecording(req, ctx) {
      return { recording: recordingToProto(await recordings.stop(callerOf(ctx.principal), requireField("call_id", req.callId))) };
    },
    async listRecordings(req, ctx) {
      const views = await recordings.list(callerOf(ctx.principal), requireField("call_id", req.callId));
      return { recordings: views.map(recordingToProto) };
    },
  };
}
