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
const validator = createValidator({ regexMatch: matchSimplePattern });

/**
 * The `pattern` rules, matched with the platform RegExp instead of
 * protovalidate's default RE2 port, whose DFA walk was about 2 % of every
 * request. RegExp and RE2 agree, and RegExp runs in linear time, on patterns
 * made of character classes (literals and ranges, no escapes or negation),
 * each with an optional `+`, `*` or `?`, between `^` and `$`: the only shape
 * the protos use. Any other pattern is refused when first met (an error, not
 * a verdict), so a new kind of pattern cannot slip in unnoticed; the unit
 * tests check every pattern of the protos and the verdicts against RE2.
 */
export function matchSimplePattern(pattern: string, value: string): boolean {
  let regex = compiledPatterns.get(pattern);
  if (!regex) {
    if (!SIMPLE_PATTERN.test(pattern)) throw new Error(`pattern ${pattern} is outside the subset matched with RegExp (request-validation.ts)`);
    regex = new RegExp(pattern);
    compiledPatterns.set(pattern, regex);
  }
  return regex.test(value);
}

const SIMPLE_PATTERN = /^\^(?:\[[^\]\\^[]+\][+*?]?)+\$$/;
const compiledPatterns = new Map<string, RegExp>();

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
