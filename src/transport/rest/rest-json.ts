import {
  fromJson,
  ScalarType,
  toJson,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";

/**
 * The REST paths' JSON dialect, derived from proto JSON by a few generic
 * rules so that the shapes match the product documentation:
 * - field names in snake_case (the proto names);
 * - an unset message field (a timestamp, say) is `null`, lists are `[]`,
 *   scalars always present;
 * - enum values in lower case without the enum's prefix
 *   (`CALL_STATUS_ACTIVE` → `"active"`), and the zero value `…_UNSPECIFIED` → `null`;
 * - 64-bit integers as JSON numbers when they fit exactly.
 * Requests accept these forms as well as plain proto JSON.
 */
export function messageToRestJson(schema: DescMessage, message: Message): JsonObject {
  const json = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true }) as JsonObject;
  return restifyMessage(schema, json);
}

/** A list field sent as the whole response body (`response_body` naming a repeated field). */
export function listToRestJson(field: DescField, message: Message): JsonValue {
  const json = messageToRestJson(field.parent, message);
  return json[field.name] ?? [];
}

export function restJsonToMessage<Desc extends DescMessage>(schema: Desc, json: JsonObject): ReturnType<typeof fromJson<Desc>> {
  return fromJson(schema, unrestifyMessage(schema, json));
}

/** google.protobuf.* messages keep their proto JSON form (a Timestamp stays an RFC 3339 string). */
export function isWellKnown(message: DescMessage): boolean {
  return message.typeName.startsWith("google.protobuf.");
}

/** Rewrites proto JSON into the REST dialect, keeping the proto's field order. */
function restifyMessage(schema: DescMessage, json: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const field of schema.fields) {
    const value = json[field.name];
    switch (field.fieldKind) {
      case "message":
        if (value === undefined || value === null) out[field.name] = null;
        else out[field.name] = isWellKnown(field.message) ? value : restifyMessage(field.message, value as JsonObject);
        break;
      case "enum":
        if (field.oneof === undefined || value !== undefined) out[field.name] = enumToRest(field.enum, value);
        break;
      case "scalar":
        if (value !== undefined) out[field.name] = int64ToNumber(field.scalar, value);
        break;
      case "list": {
        const items = Array.isArray(value) ? value : [];
        if (field.listKind === "message" && !isWellKnown(field.message)) {
          const element = field.message;
          out[field.name] = items.map((item) => restifyMessage(element, item as JsonObject));
        } else if (field.listKind === "enum") {
          const element = field.enum;
          out[field.name] = items.map((v) => enumToRest(element, v));
        } else {
          out[field.name] = items;
        }
        break;
      }
      case "map":
        out[field.name] = value ?? {};
        break;
    }
  }
  return out;
}

function enumToRest(desc: DescEnum, value: JsonValue | undefined): JsonValue {
  if (typeof value !== "string") return value ?? null;
  const enumValue = desc.values.find((v) => v.name === value);
  if (!enumValue || enumValue.number === 0) return null;
  return stripPrefix(desc, value).toLowerCase();
}

/** An enum value's name without the enum's shared prefix (`CALL_STATUS_ACTIVE` → `ACTIVE`). */
export function stripPrefix(desc: DescEnum, name: string): string {
  const prefix = (desc.sharedPrefix ?? "").toUpperCase();
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function int64ToNumber(scalar: ScalarType, value: JsonValue): JsonValue {
  const is64 =
    scalar === ScalarType.INT64 ||
    scalar === ScalarType.UINT64 ||
    scalar === ScalarType.SINT64 ||
    scalar === ScalarType.FIXED64 ||
    scalar === ScalarType.SFIXED64;
  if (!is64 || typeof value !== "string") return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

/** Maps REST enum spellings (`"audio"`) back to proto JSON names, recursively, into a copy. */
function unrestifyMessage(schema: DescMessage, input: JsonObject): JsonObject {
  const json: JsonObject = { ...input };
  for (const field of schema.fields) {
    const key = field.name in json ? field.name : field.jsonName in json ? field.jsonName : undefined;
    if (key === undefined) continue;
    const value = json[key];
    if (field.fieldKind === "enum") {
      json[key] = enumFromRest(field.enum, value);
    } else if (field.fieldKind === "list" && field.listKind === "enum" && Array.isArray(value)) {
      const element = field.enum;
      json[key] = value.map((v) => enumFromRest(element, v));
    } else if (field.fieldKind === "message" && !isWellKnown(field.message) && isObject(value)) {
      json[key] = unrestifyMessage(field.message, value);
    } else if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
      const element = field.message;
      if (!isWellKnown(element)) json[key] = value.map((item) => (isObject(item) ? unrestifyMessage(element, item) : item));
    }
  }
  return json;
}

function enumFromRest(desc: DescEnum, value: JsonValue | undefined): JsonValue {
  if (typeof value !== "string") return value ?? null;
  if (desc.values.some((v) => v.name === value)) return value;
  // The short spelling is the documented lower-case one ("audio"), as /openapi.json says.
  if (value !== value.toLowerCase()) return value;
  const prefix = (desc.sharedPrefix ?? "").toUpperCase();
  const candidate = `${prefix}${value.toUpperCase()}`;
  const match = desc.values.find((v) => v.name === candidate && v.number !== 0);
  // Unknown spellings go through unchanged so that fromJson reports them.
  return match ? match.name : value;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
