import { fromBinary, toBinary, type DescMethod, type Message } from "@bufbuild/protobuf";
import { Metadata, type handleUnaryCall, type MethodDefinition, type ServerUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { asCallError } from "../error-catalogue.js";
import { requestIdFrom } from "../request-id.js";
import { toGrpcStatus } from "./status.js";

/** The call as a handler sees it: the request stays raw bytes until the handler decodes them. */
export type GrpcJsCall = ServerUnaryCall<Buffer, Message>;

/**
 * Answers one request (named `requestId`), decoding it through `input` when it
 * needs it (after authentication: an anonymous caller learns nothing about its
 * bytes); throws CallError (anything else becomes SW_CALL_INTERNAL).
 */
export type UnaryHandle = (input: () => Message, call: GrpcJsCall, requestId: string) => Promise<Message>;

export interface UnaryMethod {
  readonly definition: MethodDefinition<Buffer, Message>;
  readonly handler: handleUnaryCall<Buffer, Message>;
}

/** The first value of a metadata key, if it is text (`-bin` keys hold Buffers). */
export function metadataText(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * One unary method for grpc-js, from its protobuf-es descriptor.
 *
 * The request is deserialized by the handler, not by grpc-js: grpc-js answers
 * a throwing `requestDeserialize` with INTERNAL, while malformed bytes are the
 * client's fault (INVALID_ARGUMENT, SW_CALL_INVALID_ARGUMENT).
 *
 * Like the main port's request handler, each call gets a request id (the
 * caller's `x-request-id` when sane, else a fresh one, echoed in the response
 * headers), handed to the handler and its error log, so its events and logs name it.
 */
export function unaryMethod(method: DescMethod, handle: UnaryHandle, logger: Logger): UnaryMethod {
  const definition: MethodDefinition<Buffer, Message> = {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (bytes) => bytes,
    requestDeserialize: (bytes) => bytes,
    responseSerialize: (msg) => asBuffer(toBinary(method.output, msg)),
    responseDeserialize: (bytes) => fromBinary(method.output, bytes),
  };
  const handler: handleUnaryCall<Buffer, Message> = (call, callback) => {
    const requestId = requestIdFrom(metadataText(call.metadata, "x-request-id"));
    const headers = new Metadata();
    headers.set("x-request-id", requestId);
    call.sendMetadata(headers);
    void (async () => {
      let reply: Message;
      try {
        reply = await handle(() => decode(method, call.request), call, requestId);
      } catch (err) {
        callback(toGrpcStatus(asCallError(err, logger, requestId)));
        return;
      }
      callback(null, reply);
    })();
  };
  return { definition, handler };
}

/** A view, not a copy: this is the hot path the listener exists for. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decode(method: DescMethod, bytes: Buffer): Message {
  try {
    return fromBinary(method.input, bytes);
  } catch (cause) {
    throw new CallError(CallErrorCode.InvalidArgument, `request is not a valid ${method.input.typeName}`, { cause });
  }
}
