import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import type { CallErrorCode } from "../domain/errors.js";
import { ERROR_CATALOGUE } from "./error-catalogue.js";
import { fieldConstraints } from "./openapi-rules.js";
import type { RestRoute, RouteTable } from "./rest/route-table.js";
import protoComments from "./proto-comments.json" with { type: "json" };

/** The proto comments, by full name (`scaiwave.calls.v1.Call.ended_at`), extracted by `npm run generate`. */
const COMMENTS: Readonly<Record<string, string>> = protoComments;
const commentOf = (fullName: string): string | undefined => COMMENTS[fullName];

/**
 * The OpenAPI 3.1 document of the REST surface, generated from the same
 * descriptors and `google.api.http` annotations as the gateway, so it cannot
 * drift from what is served. Schemas follow the REST JSON dialect of
 * `rest/rest-json.ts`: proto field names, `null` for unset messages and the
 * zero enum value, enums lower case without their prefix, int64 as numbers,
 * timestamps as RFC 3339 strings. Request fields (in the body, or query
 * parameters of a GET) carry their `buf.validate` rules (openapi-rules.ts),
 * and answers link their ids (`call_id`, a call's `room_id`) to the
 * operations that take them, so a stateful fuzzer can follow a call.
 *
 * protobuf-es embeds descriptors without `source_code_info`, so the proto
 * comments come from proto-comments.json, which `npm run generate` extracts
 * with `buf build` (scripts/proto-comments.ts) and the test command checks.
 */

type Schema = Record<string, unknown>;

const SECURITY_SCHEME = "bearerAuth";
const ERROR_ENVELOPE = "ErrorEnvelope";

export function buildOpenApi(routes: RouteTable, info: { title: string; version: string }): object {
  const components = new SchemaComponents();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes.all) {
    // Our templates use only literal and `{field}` segments, which is OpenAPI's own path syntax.
    const item = (paths[route.template] ??= {});
    item[route.httpMethod.toLowerCase()] = operation(route, components, routes);
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version },
    paths,
    components: {
      schemas: { ...components.schemas, [ERROR_ENVELOPE]: errorEnvelopeSchema() },
      responses: errorResponses(),
      securitySchemes: { [SECURITY_SCHEME]: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
    security: [{ [SECURITY_SCHEME]: [] }],
  };
}

function operation(route: RestRoute, components: SchemaComponents, routes: RouteTable): Schema {
  const { service, method } = route.target;
  const op: Schema = {
    operationId: method.name,
    summary: firstSentence(commentOf(`${service.typeName}.${method.name}`)) ?? method.name,
    description: operationDescription(route),
    tags: [service.name],
    security: [{ [SECURITY_SCHEME]: [] }],
  };
  const parameters = [...pathParameters(route), ...queryParameters(route, components)];
  if (parameters.length > 0) op["parameters"] = parameters;
  if (route.bodyIsRequest) op["requestBody"] = requestBody(route, components);
  op["responses"] = { "200": successResponse(route, components, routes), ...errorResponseRefs() };
  return op;
}

function operationDescription(route: RestRoute): string {
  const { service, method } = route.target;
  const rule = [`${route.httpMethod} ${route.template}`];
  if (route.bodyIsRequest) rule.push(`body: "*"`);
  if (route.responseField) rule.push(`response_body: "${route.responseField.name}"`);
  const comment = commentOf(`${service.typeName}.${method.name}`);
  return (
    (comment ? `${comment}\n\n` : "") +
    `\`${service.typeName}.${method.name}\` (${rule.join(", ")}). ` +
    `Also served over gRPC, gRPC-web and Connect at \`/${service.typeName}/${method.name}\`.`
  );
}

function pathFields(route: RestRoute): DescField[] {
  return route.segments.filter((s): s is DescField => typeof s !== "string");
}

/** Path fields are strings (the templates bind only those), with their rules. */
function pathParameters(route: RestRoute): Schema[] {
  return pathFields(route).map((field) => ({
    name: field.name,
    in: "path",
    required: true,
    schema: { ...scalarSchema(ScalarType.STRING), ...fieldConstraints(field).keywords },
  }));
}

/**
 * Without a body, the other request fields are query parameters (rest/query.ts),
 * with their rules; a repeated one is given by repeating its name.
 */
function queryParameters(route: RestRoute, components: SchemaComponents): Schema[] {
  const input = route.target.method.input;
  return route.queryFields.map((field) => {
    const description = commentOf(`${input.typeName}.${field.name}`);
    return {
      name: field.name,
      in: "query",
      required: fieldConstraints(field).required,
      ...(description && { description }),
      // A query parameter is a value or absent: the `null` of a JSON body has no spelling here.
      schema: withoutNull(requestFieldSchema(field, components)),
      ...(field.fieldKind === "list" && { style: "form", explode: true }),
    };
  });
}

/**
 * `body: "*"`: the input message minus the fields bound from the path. An
 * empty body counts as `{}`, so the body is optional unless a field must be sent.
 */
function requestBody(route: RestRoute, components: SchemaComponents): Schema {
  const input = route.target.method.input;
  const omit = new Set(pathFields(route));
  const schema = components.requestMessage(input, omit);
  const required = input.fields.some((f) => !omit.has(f) && fieldConstraints(f).required);
  return { required, content: { "application/json": { schema } } };
}

/**
 * Links from an answer's top-level string field (`data.call_id`) to every
 * operation with a path parameter of that name (`{call_id}`).
 */
function responseLinks(route: RestRoute, routes: RouteTable): Record<string, Schema> {
  const field = route.responseField;
  const data = field === undefined ? route.target.method.output : field.fieldKind === "message" ? field.message : undefined;
  const links: Record<string, Schema> = {};
  for (const source of data?.fields ?? []) {
    if (source.fieldKind !== "scalar" || source.scalar !== ScalarType.STRING) continue;
    for (const target of routes.all) {
      if (!pathFields(target).some((p) => p.name === source.name)) continue;
      const operationId = target.target.method.name;
      links[operationId] = {
        operationId,
        parameters: { [source.name]: `$response.body#/data/${source.name}` },
        description: `${operationId} with this answer's ${source.name}.`,
      };
    }
  }
  return links;
}

function successResponse(route: RestRoute, components: SchemaComponents, routes: RouteTable): Schema {
  const field = route.responseField;
  let data: Schema;
  if (!field) data = components.message(route.target.method.output);
  // The handlers always set the `response_body` message, so `data` is the message itself, not nullable.
  else if (field.fieldKind === "message") data = components.message(field.message);
  else data = components.field(field);
  const links = responseLinks(route, routes);
  return {
    description: "OK",
    content: { "application/json": { schema: closedObject({ data }, ["data"]) } },
    ...(Object.keys(links).length > 0 && { links }),
  };
}

/** Each HTTP status of the catalogue, with the codes that use it. */
function codesByStatus(): Map<number, CallErrorCode[]> {
  const byStatus = new Map<number, CallErrorCode[]>();
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE) as [CallErrorCode, { httpStatus: number }][]) {
    byStatus.set(entry.httpStatus, [...(byStatus.get(entry.httpStatus) ?? []), code]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}

/** Headers the REST paths send with some errors (see sendCallError and the gateway). */
const ERROR_HEADERS: Readonly<Record<number, Record<string, Schema>>> = {
  405: { Allow: { description: "The methods the path takes.", required: true, schema: { type: "string" } } },
  429: { "Retry-After": { description: "Seconds until a request of this class is admitted again.", required: true, schema: { type: "integer", minimum: 1 } } },
};

function errorResponses(): Record<string, Schema> {
  const responses: Record<string, Schema> = {};
  for (const [status, codes] of codesByStatus()) {
    responses[`Error${status}`] = {
      description: codes.join(", "),
      ...(ERROR_HEADERS[status] && { headers: ERROR_HEADERS[status] }),
      content: { "application/json": { schema: { $ref: `#/components/schemas/${ERROR_ENVELOPE}` } } },
    };
  }
  return responses;
}

function errorResponseRefs(): Record<string, Schema> {
  const refs: Record<string, Schema> = {};
  for (const status of codesByStatus().keys()) refs[String(status)] = { $ref: `#/components/responses/Error${status}` };
  return refs;
}

function errorEnvelopeSchema(): Schema {
  const error = closedObject(
    {
      code: { type: "string", enum: Object.keys(ERROR_CATALOGUE) },
      message: { type: "string" },
    },
    ["code", "message"],
  );
  return { ...closedObject({ error }, ["error"]), description: "Every failure on the REST paths." };
}

/** An object with exactly these properties: an undocumented field fails validation. */
function closedObject(properties: Record<string, Schema>, required: string[]): Schema {
  return { type: "object", properties, ...(required.length > 0 && { required }), additionalProperties: false };
}

/** `components/schemas`, filled on demand: one schema per message and enum, named by its proto name. */
class SchemaComponents {
  readonly schemas: Record<string, Schema> = {};
  /** Schema name → what it describes, so that two different shapes never share a name. */
  private readonly owners = new Map<string, string>();

  /** A reference to a message's response schema (every field the server always writes is required). */
  message(desc: DescMessage): Schema {
    return this.define(desc.name, desc.typeName, () => messageSchema(desc, this, new Set(), true));
  }

  /** A reference to a request body schema: path fields left out, fields narrowed (and required) by their rules. */
  requestMessage(desc: DescMessage, omit: ReadonlySet<DescField>): Schema {
    const shape = `${desc.typeName} as a request body without [${[...omit].map((f) => f.name).join(", ")}]`;
    return this.define(desc.name, shape, () => messageSchema(desc, this, omit, false));
  }

  enum(desc: DescEnum): Schema {
    return this.define(desc.name, desc.typeName, () => enumSchema(desc));
  }

  field(field: DescField): Schema {
    return fieldSchema(field, this);
  }

  private define(name: string, shape: string, build: () => Schema): Schema {
    const owner = this.owners.get(name);
    if (owner !== undefined && owner !== shape) throw new Error(`OpenAPI schema ${name} would describe both ${owner} and ${shape}`);
    if (owner === undefined) {
      this.owners.set(name, shape);
      this.schemas[name] = {}; // placeholder first: messages may refer to themselves
      this.schemas[name] = build();
    }
    return { $ref: `#/components/schemas/${name}` };
  }
}

/** A response message (every field the server always writes is required) or a request message (fields as their rules say). */
function messageSchema(desc: DescMessage, components: SchemaComponents, omit: ReadonlySet<DescField>, response: boolean): Schema {
  const fields = desc.fields.filter((f) => !omit.has(f));
  const schemaOf = (f: DescField) => (response ? fieldSchema(f, components) : requestFieldSchema(f, components));
  const properties = Object.fromEntries(fields.map((f) => [f.name, withComment(schemaOf(f), `${desc.typeName}.${f.name}`)]));
  const required = fields.filter(response ? alwaysSent : (f) => fieldConstraints(f).required).map((f) => f.name);
  return { ...closedObject(properties, required), description: commentOf(desc.typeName) ?? `protobuf message ${desc.typeName}` };
}

/**
 * A request field: its REST schema narrowed by its `buf.validate` rules.
 * As in proto JSON, `null` stands for the field's default, so it is allowed
 * wherever the default is.
 */
function requestFieldSchema(field: DescField, components: SchemaComponents): Schema {
  const { required, keywords, enumNumbers } = fieldConstraints(field);
  if (field.fieldKind === "enum") return requestEnumSchema(field.enum, enumNumbers ?? field.enum.values.map((v) => v.number));
  if (field.fieldKind === "message") return required ? messageValueSchema(field.message, components) : fieldSchema(field, components);
  const base = fieldSchema(field, components);
  const itemKeywords = keywords["items"] as Schema | undefined;
  // A repeated field's element rules narrow the element schema.
  const schema = { ...base, ...keywords, ...(itemKeywords && { items: { ...(base["items"] as Schema), ...itemKeywords } }) };
  return required ? schema : nullable(schema);
}

/** The schema without the `null` alternative `nullable` (or an enum's zero value) added. */
function withoutNull(schema: Schema): Schema {
  const type = schema["type"];
  if (Array.isArray(type)) {
    const types = type.filter((t) => t !== "null");
    return { ...schema, type: types.length === 1 ? types[0] : types };
  }
  const anyOf = schema["anyOf"];
  if (Array.isArray(anyOf)) return { ...schema, anyOf: anyOf.filter((s: Schema) => s["type"] !== "null") };
  return schema;
}

/** Whether the REST dialect always writes the field (see restifyMessage). */
function alwaysSent(field: DescField): boolean {
  switch (field.fieldKind) {
    case "message":
    case "list":
    case "map":
      return true;
    case "enum":
      return field.oneof === undefined;
    case "scalar":
      // Implicit-presence scalars are always written; proto3 `optional` and oneof members only when set.
      return field.presence !== FeatureSet_FieldPresence.EXPLICIT;
  }
}

function fieldSchema(field: DescField, components: SchemaComponents): Schema {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return components.enum(field.enum);
    case "message":
      return nullable(messageValueSchema(field.message, components));
    case "list":
      return { type: "array", items: listItemSchema(field, components) };
    case "map":
      // Map values are sent as plain proto JSON (rest-json leaves them as they are).
      return { type: "object" };
  }
}

function listItemSchema(field: DescField & { fieldKind: "list" }, components: SchemaComponents): Schema {
  switch (field.listKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return components.enum(field.enum);
    case "message":
      return messageValueSchema(field.message, components);
  }
}

/** A message value: a reference to its schema, or the JSON form of a well-known type. */
function messageValueSchema(desc: DescMessage, components: SchemaComponents): Schema {
  if (!desc.typeName.startsWith("google.protobuf.")) return components.message(desc);
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?\\d+(\\.\\d+)?s$" };
    default:
      return { description: `proto JSON of ${desc.typeName}` };
  }
}

/** Unset message fields are `null`: a plain `type` gains "null", a reference becomes a choice. */
function nullable(schema: Schema): Schema {
  const type = schema["type"];
  if (typeof type === "string") return { ...schema, type: [type, "null"] };
  if ("$ref" in schema) return { oneOf: [schema, { type: "null" }] };
  return schema;
}

/** Enum values lower case without the shared prefix; the zero value is `null`. */
function enumSchema(desc: DescEnum): Schema {
  const names = desc.values.filter((v) => v.number !== 0).map((v) => restEnumName(desc, v.name));
  return { type: ["string", "null"], enum: [...names, null], description: `protobuf enum ${desc.typeName}; null is unspecified` };
}

/**
 * A request enum field, as the gateway reads it (rest-json.ts), limited to
 * the values its rules accept: the REST spelling first, then plain proto
 * JSON (the value's name or number); `null` stands for the zero value.
 */
function requestEnumSchema(desc: DescEnum, numbers: readonly number[]): Schema {
  const values = desc.values.filter((v) => numbers.includes(v.number));
  const rest = values.filter((v) => v.number !== 0).map((v) => restEnumName(desc, v.name));
  const choices: Schema[] = [
    ...(rest.length > 0 ? [{ type: "string", enum: rest }] : []),
    { type: "string", enum: values.map((v) => v.name), description: "the proto JSON name" },
    { type: "integer", enum: values.map((v) => v.number), description: "the proto JSON number" },
    ...(values.some((v) => v.number === 0) ? [{ type: "null" }] : []),
  ];
  return { anyOf: choices, description: `protobuf enum ${desc.typeName}` };
}

function restEnumName(desc: DescEnum, name: string): string {
  const prefix = (desc.sharedPrefix ?? "").toUpperCase();
  return (prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name).toLowerCase();
}

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", minimum: 0, maximum: 4294967295 };
    // 64-bit: a number while it fits exactly (|n| <= 2^53 - 1); beyond that the dialect sends a decimal string.
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "integer", format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "integer", format: "int64", minimum: 0 };
  }
}

function firstSentence(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end + 1);
}

/** A field's proto comment as its description; a `$ref` is wrapped, since siblings of `$ref` are ignored in older tools. */
function withComment(schema: Schema, fullName: string): Schema {
  const comment = commentOf(fullName);
  if (!comment) return schema;
  return "$ref" in schema ? { allOf: [schema], description: comment } : { ...schema, description: comment };
}
