import { CallsService } from "../../../gen/scaiwave/calls/v1/calls_pb.js";
import type { CallsUseCases } from "../../app/calls.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { callerOf } from "./access.js";
import { callToProto, callTypeFromProto, requireField, ticketToProto } from "./call-mapping.js";
import type { ServiceHandlers } from "./registry.js";

const recordingsLater = (): never => {
  throw new CallError(CallErrorCode.Unimplemented, "recordings are not available in this version yet");
};

/** CallsService: validate the request, call the use case, map the result. Nothing else. */
export function callsHandlers(calls: CallsUseCases): ServiceHandlers<typeof CallsService> {
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
    getCall(req, ctx) {
      return { call: callToProto(calls.get(callerOf(ctx.principal), requireField("call_id", req.callId))) };
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
    startRecording: recordingsLater,
    stopRecording: recordingsLater,
    listRecordings: recordingsLater,
  };
}
