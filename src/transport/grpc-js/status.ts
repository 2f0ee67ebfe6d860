import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import type { CallError } from "../../domain/errors.js";
import { rpcError } from "../error-catalogue.js";

/**
 * A CallError as grpc-js sends it, the same as connect-node's gRPC: the
 * status code from the catalogue (Connect's `Code` values are gRPC's status
 * numbers), the message, and a `grpc-status-details-bin` trailer holding a
 * `google.rpc.Status` whose one detail is the ErrorInfo with the SW_CALL_* reason.
 */
export function toGrpcStatus(err: CallError): StatusObject {
  const { code, errorInfo, metadata } = rpcError(err);
  const trailers = new Metadata();
  for (const [key, value] of Object.entries(metadata)) trailers.set(key, value);
  const status = create(StatusSchema, { code, message: err.message, details: [anyPack(ErrorInfoSchema, errorInfo)] });
  trailers.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, status)));
  return { code: code as number, details: err.message, metadata: trailers };
}
