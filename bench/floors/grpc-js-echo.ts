// Floor (c): the same trivial echo served by a @grpc/grpc-js server, with
// protobuf-es doing the (de)serialisation as the service's adapter does.
// Prints "LISTENING <port>".
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CallsService, GetCallRequestSchema, GetCallResponseSchema, type GetCallRequest, type GetCallResponse } from "../../gen/scaiwave/calls/v1/calls_pb.js";

const method = CallsService.method.getCall;
const definition: grpc.ServiceDefinition = {
  getCall: {
    path: `/${CallsService.typeName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestDeserialize: (bytes: Buffer) => fromBinary(GetCallRequestSchema, bytes),
    requestSerialize: (message: GetCallRequest) => Buffer.from(toBinary(GetCallRequestSchema, message)),
    responseDeserialize: (bytes: Buffer) => fromBinary(GetCallResponseSchema, bytes),
    responseSerialize: (message: GetCallResponse) => Buffer.from(toBinary(GetCallResponseSchema, message)),
  },
};

const server = new grpc.Server();
server.addService(definition, {
  getCall: (call: grpc.ServerUnaryCall<GetCallRequest, GetCallResponse>, callback: grpc.sendUnaryData<GetCallResponse>) => {
    callback(null, create(GetCallResponseSchema, { call: { id: call.request.callId } }));
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`LISTENING ${port}`);
});
