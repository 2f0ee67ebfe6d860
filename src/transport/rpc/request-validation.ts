import type { DescMessage, Message } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Violation } from "@bufbuild/protovalidate";
import { CallError, CallErrorCode } from "../../domain/errors.js";

/**
 * The `buf.validate` rules of the protos (required ids, the id pattern, power
 * levels 0-100, defined enum values), checked once for every protocol: the
 * handler registry calls this before any handler runs. The same rules are
 * what /openapi.json documents.
 */
const validator = createValidator();

/** Throws SW_CALL_INVALID_ARGUMENT naming every field that breaks a rule ("room_id: value is required"). */
export function validateRequest(schema: DescMessage, message: Message): void {
  const result = validator.validate(schema, message);
  switch (result.kind) {
    case "valid":
      return;
    case "invalid":
      throw new CallError(CallErrorCode.InvalidArgument, result.violations.map(describe).join("; "), { cause: result.error });
    case "error":
      // A rule that does not compile or evaluate is a bug in the protos, not the caller's fault.
      throw result.error;
  }
}

function describe(violation: Violation): string {
  const field = pathToString(violation.field);
  return field ? `${field}: ${violation.message}` : violation.message;
}
