import { ScalarType, type DescField, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import type { RestRoute } from "./route-table.js";

/**
 * The query string of a route without a body, as the JSON object the body
 * would have been: `?page_size=20&cursor=…` → `{"page_size":"20","cursor":"…"}`,
 * a repeated field by repeating its name. Values stay strings, which proto
 * JSON accepts for numbers, enum names and bytes (booleans become `true` /
 * `false`), so they are decoded and checked exactly as body fields are.
 * A name that is no query field of the route is refused, as an unknown body
 * field is: a typo never silently falls back to a default.
 */
export function queryToJson(route: RestRoute, query: URLSearchParams): JsonObject {
  const json: JsonObject = {};
  for (const name of new Set(query.keys())) {
    const field = route.queryFields.find((f) => f.name === name || f.jsonName === name);
    if (!field) throw invalid(`unknown query parameter "${name}"`);
    const values = query.getAll(name).map((v) => scalarValue(field, v));
    if (field.fieldKind === "list") {
      json[field.name] = values;
    } else {
      if (values.length > 1) throw invalid(`query parameter "${name}" given ${values.length} times`);
      json[field.name] = values[0] ?? null;
    }
  }
  return json;
}

function scalarValue(field: DescField, value: string): JsonValue {
  const scalar = field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : undefined;
  if (scalar !== ScalarType.BOOL) return value;
  if (value === "true") return true;
  if (value === "false") return false;
  throw invalid(`query parameter "${field.name}" must be true or false`);
}

function invalid(message: string): CallError {
  return new CallError(CallErrorCode.InvalidArgument, `invalid request: ${message}`);
}
