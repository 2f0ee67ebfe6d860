import { create, createFileRegistry, isMessage, type DescEnum, type DescField, type DescMessage, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import {
  FeatureSet_FieldPresence,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  timestampFromMs,
  TimestampSchema,
  type DescriptorProtoSchema,
  type FieldDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CallSchema, CallsService, GetCallResponseSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import type { RecordingView } from "../../src/app/recordings.js";
import type { Call } from "../../src/domain/call.js";
import { renderCallJson } from "../../src/transport/rest/call-json.js";
import { encodeOutput } from "../../src/transport/rest/gateway.js";
import { listToRestJsonText, messageToRestJsonText } from "../../src/transport/rest/rest-json-writer.js";
import { listToRestJson, messageToRestJson } from "../../src/transport/rest/rest-json.js";
import { RouteTable, type RestRoute } from "../../src/transport/rest/route-table.js";
import type { RegisteredMethod } from "../../src/transport/rpc/registry.js";
import { callToProto } from "../../src/transport/rpc/call-mapping.js";

/**
 * The REST gateway writes its answers with a compiled writer instead of
 * protobuf-es's reflective toJson, for speed. These tests pin the writer byte
 * for byte to the generic path (JSON.stringify of messageToRestJson) for
 * every answer type the gateway has, over thousands of generated messages,
 * and for every field kind protobuf has, on a test schema built here.
 */

/** Equal strings, or a failure naming the case and showing both sides from the first byte that differs. */
function expectSameBytes(actual: string, expected: string, label: string): void {
  if (actual === expected) return;
  let at = 0;
  while (actual[at] === expected[at]) at++;
  const around = (s: string) => JSON.stringify(s.slice(Math.max(0, at - 40), at + 40));
  throw new Error(`${label}: differs at byte ${at}\n  writer:        ${around(actual)}\n  protobuf path: ${around(expected)}`);
}

const generic = (schema: DescMessage, message: Message): string => JSON.stringify(messageToRestJson(schema, message));

/** What the gateway sent before the writer: encodeOutput over the generic path. */
function genericAnswer(route: RestRoute, output: Message): string {
  const field = route.responseField;
  if (!field) return generic(route.target.method.output, output);
  if (field.fieldKind === "list") return JSON.stringify(listToRestJson(field, output));
  const value = (output as unknown as Record<string, unknown>)[field.localName];
  return field.fieldKind === "message" && isMessage(value, field.message) ? generic(field.message, value) : "null";
}

// ---- the gateway's routes ---------------------------------------------------

/** Every method the server registers, as the route table reads them (only the annotated ones become routes). */
const methods: RegisteredMethod[] = [...CallsService.methods, ...DirectoryService.methods].map((method) => ({
  service: method.parent,
  method,
  invoke: () => Promise.reject(new Error("not called here")),
}));
const routes = new RouteTable(methods).all;

// ---- a test schema with every field kind --------------------------------------

type FieldInit = MessageInitShape<typeof FieldDescriptorProtoSchema>;
const field = (name: string, number: number, type: Type, over: FieldInit = {}) => ({
  name,
  number,
  type,
  label: Label.OPTIONAL,
  jsonName: protoCamelCase(name),
  ...over,
});
const message = (name: string) => ({ type: Type.MESSAGE, typeName: name });
const repeated = { label: Label.REPEATED };
const mapEntry = (name: string, key: Type, value: FieldInit & { type: Type }): MessageInitShape<typeof DescriptorProtoSchema> => ({
  name,
  field: [field("key", 1, key), field("value", 2, value.type, value)],
  options: { mapEntry: true },
});
const map = (name: string, number: number, entry: string) => field(name, number, Type.MESSAGE, { ...repeated, typeName: `.test.writer.Sink.${entry}` });

const sinkFile = create(FileDescriptorProtoSchema, {
  name: "test/writer/sink.proto",
  package: "test.writer",
  syntax: "proto3",
  dependency: [
    "google/protobuf/timestamp.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/wrappers.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/field_mask.proto",
  ],
  enumType: [
    { name: "Color", value: [{ name: "COLOR_UNSPECIFIED", number: 0 }, { name: "COLOR_RED", number: 1 }, { name: "COLOR_DARK_BLUE", number: 2 }] },
    // No shared prefix: the names are shown as they are, lower case.
    { name: "Plain", value: [{ name: "ZERO", number: 0 }, { name: "ONE", number: 1 }, { name: "Two_Mixed", number: 2 }] },
  ],
  messageType: [
    {
      name: "Inner",
      field: [
        field("name", 1, Type.STRING),
        field("count", 2, Type.INT64),
        field("color", 3, Type.ENUM, { typeName: ".test.writer.Color" }),
        field("child", 4, Type.MESSAGE, message(".test.writer.Inner")),
        field("children", 5, Type.MESSAGE, { ...message(".test.writer.Inner"), ...repeated }),
        field("at", 6, Type.MESSAGE, message(".google.protobuf.Timestamp")),
      ],
    },
    {
      name: "Sink",
      field: [
        // Declared before lower numbers: the REST keys follow the declaration, toJson the numbers.
        field("late", 99, Type.STRING),
        field("f_double", 1, Type.DOUBLE),
        field("f_float", 2, Type.FLOAT),
        field("f_int32", 3, Type.INT32),
        field("f_int64", 4, Type.INT64),
        field("f_uint32", 5, Type.UINT32),
        field("f_uint64", 6, Type.UINT64),
        field("f_sint32", 7, Type.SINT32),
        field("f_sint64", 8, Type.SINT64),
        field("f_fixed32", 9, Type.FIXED32),
        field("f_fixed64", 10, Type.FIXED64),
        field("f_sfixed32", 11, Type.SFIXED32),
        field("f_sfixed64", 12, Type.SFIXED64),
        field("f_bool", 13, Type.BOOL),
        field("f_string", 14, Type.STRING),
        field("f_bytes", 15, Type.BYTES),
        field("o_int64", 16, Type.INT64, { proto3Optional: true, oneofIndex: 1 }),
        field("o_string", 17, Type.STRING, { proto3Optional: true, oneofIndex: 2 }),
        field("o_color", 18, Type.ENUM, { typeName: ".test.writer.Color", proto3Optional: true, oneofIndex: 3 }),
        field("o_double", 19, Type.DOUBLE, { proto3Optional: true, oneofIndex: 4 }),
        field("color", 20, Type.ENUM, { typeName: ".test.writer.Color" }),
        field("plain", 21, Type.ENUM, { typeName: ".test.writer.Plain" }),
        field("inner", 22, Type.MESSAGE, message(".test.writer.Inner")),
        field("r_int64", 23, Type.INT64, repeated),
        field("r_double", 24, Type.DOUBLE, repeated),
        field("r_string", 25, Type.STRING, repeated),
        field("r_bytes", 26, Type.BYTES, repeated),
        field("r_color", 27, Type.ENUM, { typeName: ".test.writer.Color", ...repeated }),
        field("r_inner", 28, Type.MESSAGE, { ...message(".test.writer.Inner"), ...repeated }),
        field("r_ts", 29, Type.MESSAGE, { ...message(".google.protobuf.Timestamp"), ...repeated }),
        field("r_dur", 30, Type.MESSAGE, { ...message(".google.protobuf.Duration"), ...repeated }),
        field("r_bool", 31, Type.BOOL, repeated),
        field("r_uint32", 32, Type.UINT32, repeated),
        map("m_string", 33, "MStringEntry"),
        map("m_int64", 34, "MInt64Entry"),
        map("m_color", 35, "MColorEntry"),
        map("m_double", 36, "MDoubleEntry"),
        map("m_inner", 37, "MInnerEntry"),
        map("m_ts", 38, "MTsEntry"),
        map("m_bytes", 39, "MBytesEntry"),
        field("c_string", 40, Type.STRING, { oneofIndex: 0 }),
        field("c_int64", 41, Type.INT64, { oneofIndex: 0 }),
        field("c_color", 42, Type.ENUM, { typeName: ".test.writer.Color", oneofIndex: 0 }),
        field("c_inner", 43, Type.MESSAGE, { ...message(".test.writer.Inner"), oneofIndex: 0 }),
        field("c_ts", 44, Type.MESSAGE, { ...message(".google.protobuf.Timestamp"), oneofIndex: 0 }),
        field("c_wrapped", 45, Type.MESSAGE, { ...message(".google.protobuf.Int64Value"), oneofIndex: 0 }),
        field("ts", 46, Type.MESSAGE, message(".google.protobuf.Timestamp")),
        field("dur", 47, Type.MESSAGE, message(".google.protobuf.Duration")),
        field("w_string", 48, Type.MESSAGE, message(".google.protobuf.StringValue")),
        field("w_int64", 49, Type.MESSAGE, message(".google.protobuf.Int64Value")),
        field("struct", 50, Type.MESSAGE, message(".google.protobuf.Struct")),
        field("value", 51, Type.MESSAGE, message(".google.protobuf.Value")),
        field("empty", 52, Type.MESSAGE, message(".google.protobuf.Empty")),
        field("null_value", 53, Type.ENUM, { typeName: ".google.protobuf.NullValue" }),
        field("list_value", 54, Type.MESSAGE, message(".google.protobuf.ListValue")),
        field("mask", 55, Type.MESSAGE, message(".google.protobuf.FieldMask")),
        field("r_wrapped", 56, Type.MESSAGE, { ...message(".google.protobuf.Int32Value"), ...repeated }),
        map("m_value", 57, "MValueEntry"),
        map("m_uint32", 58, "MUint32Entry"),
        map("m_bool", 59, "MBoolEntry"),
      ],
      nestedType: [
        mapEntry("MStringEntry", Type.STRING, { type: Type.STRING }),
        mapEntry("MInt64Entry", Type.INT32, { type: Type.INT64 }),
        mapEntry("MColorEntry", Type.INT64, { type: Type.ENUM, typeName: ".test.writer.Color" }),
        mapEntry("MDoubleEntry", Type.STRING, { type: Type.DOUBLE }),
        mapEntry("MInnerEntry", Type.STRING, message(".test.writer.Inner")),
        mapEntry("MTsEntry", Type.UINT32, message(".google.protobuf.Timestamp")),
        mapEntry("MBytesEntry", Type.STRING, { type: Type.BYTES }),
        mapEntry("MValueEntry", Type.STRING, message(".google.protobuf.Value")),
        mapEntry("MUint32Entry", Type.UINT64, { type: Type.UINT32 }),
        mapEntry("MBoolEntry", Type.BOOL, { type: Type.BOOL }),
      ],
      oneofDecl: [{ name: "choice" }, { name: "_o_int64" }, { name: "_o_string" }, { name: "_o_color" }, { name: "_o_double" }],
    },
  ],
});

/** proto2: explicit presence with defaults on the prototype, a closed enum, a required field. */
const legacyFile = create(FileDescriptorProtoSchema, {
  name: "test/writer/legacy.proto",
  package: "test.writer",
  syntax: "proto2",
  enumType: [{ name: "Level", value: [{ name: "LEVEL_LOW", number: 1 }, { name: "LEVEL_HIGH", number: 2 }] }],
  messageType: [
    {
      name: "Legacy",
      field: [
        field("count", 1, Type.INT32, { defaultValue: "7" }),
        field("label", 2, Type.STRING, { defaultValue: "x" }),
        field("level", 3, Type.ENUM, { typeName: ".test.writer.Level", defaultValue: "LEVEL_HIGH" }),
        field("big", 4, Type.INT64, { defaultValue: "9007199254740993" }),
        field("tags", 5, Type.INT64, repeated),
        field("nested", 6, Type.MESSAGE, message(".test.writer.Legacy")),
        field("id", 7, Type.STRING, { label: Label.REQUIRED }),
      ],
    },
  ],
});

const wkt = [
  file_google_protobuf_timestamp,
  file_google_protobuf_duration,
  file_google_protobuf_wrappers,
  file_google_protobuf_struct,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
];
const sinkRegistry = createFileRegistry(sinkFile, (name) => wkt.find((f) => f.name === name.replace(/\.proto$/, "")));
const legacyRegistry = createFileRegistry(legacyFile, () => undefined);
const SinkSchema = sinkRegistry.getMessage("test.writer.Sink") as DescMessage;
const LegacySchema = legacyRegistry.getMessage("test.writer.Legacy") as DescMessage;

// ---- a deterministic generator of messages of any schema ----------------------

/** mulberry32: a tiny seeded PRNG, so every run checks the same messages. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces of texts, some of which JSON must escape. */
const FRAGMENTS = ["alice", "call-", "X_9", "", '"', "\\", "/", "\n", "\t", "\u0000", "\u001f", "\u007f", "é", "漢字", "😀", "\u2028", "\ud800", "\udfff", "</script>", " "];
const DOUBLES = [0, -0, 1, -1.5, 1 / 3, 0.1, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, -Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity];
const INT32S = [0, 1, -1, 2147483647, -2147483648, 42];
const UINT32S = [0, 1, 4294967295, 42];
const INT64S = [0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) + 1n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 1234567890123n];
const UINT64S = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, 1234567890123n];
const MIN_SECONDS = -62135596800; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253402300799; // 9999-12-31T23:59:59Z

type Init = Record<string, unknown>;

function generator(seed: number) {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const chance = (p: number) => random() < p;
  const pick = <V>(values: readonly V[]): V => values[int(values.length)] as V;
  const text = () => Array.from({ length: int(4) }, () => pick(FRAGMENTS)).join("");

  const scalar = (type: Type | number): unknown => {
    switch (type) {
      case Type.STRING:
        return text();
      case Type.BOOL:
        return chance(0.5);
      case Type.DOUBLE:
        return chance(0.7) ? pick(DOUBLES) : (random() - 0.5) * 10 ** int(30);
      case Type.FLOAT:
        return Math.fround(pick(DOUBLES.filter((d) => d !== Number.MAX_VALUE)));
      case Type.INT32:
      case Type.SINT32:
      case Type.SFIXED32:
        return chance(0.7) ? pick(INT32S) : int(2 ** 31) * (chance(0.5) ? -1 : 1);
      case Type.UINT32:
      case Type.FIXED32:
        return chance(0.7) ? pick(UINT32S) : int(2 ** 32);
      case Type.INT64:
      case Type.SINT64:
      case Type.SFIXED64:
        return chance(0.7) ? pick(INT64S) : BigInt(int(2 ** 52)) * BigInt(1 + int(4096)) * (chance(0.5) ? -1n : 1n);
      case Type.UINT64:
      case Type.FIXED64:
        return chance(0.7) ? pick(UINT64S) : BigInt(int(2 ** 52)) * BigInt(1 + int(4096));
      case Type.BYTES:
        return Uint8Array.from({ length: int(8) }, () => int(256));
    }
    throw new Error(`no generator for scalar type ${type}`);
  };

  const enumValue = (desc: DescEnum): number => (chance(0.9) ? pick(desc.values).number : pick([99, -5, 7]));

  const timestamp = (): Init => {
    const seconds = chance(0.5) ? 1_700_000_000 + int(400_000_000) : MIN_SECONDS + int(MAX_SECONDS - MIN_SECONDS + 1);
    const nanos = pick([0, int(1000) * 1_000_000, int(1_000_000) * 1000, int(1_000_000_000), 999_999_999]);
    return { seconds: BigInt(pick([seconds, seconds, MIN_SECONDS, MAX_SECONDS, 0])), nanos };
  };
  const duration = (): Init => {
    const sign = pick([1, -1, 0]);
    const seconds = sign * pick([0, 1, int(1_000_000), 315_576_000_000]);
    const nanos = (seconds === 0 ? pick([1, -1]) : Math.sign(seconds)) * pick([0, int(1000) * 1_000_000, int(1_000_000) * 1000, int(1_000_000_000)]);
    return { seconds: BigInt(seconds), nanos };
  };
  const jsonValue = (depth: number): Init => {
    const kind = pick(["nullValue", "numberValue", "stringValue", "boolValue", ...(depth < 2 ? ["structValue", "listValue"] : [])]);
    const value = {
      nullValue: () => 0,
      numberValue: () => pick(DOUBLES.filter(Number.isFinite)),
      stringValue: text,
      boolValue: () => chance(0.5),
      structValue: () => ({ fields: Object.fromEntries(Array.from({ length: int(3) }, () => [text(), jsonValue(depth + 1)])) }),
      listValue: () => ({ values: Array.from({ length: int(3) }, () => jsonValue(depth + 1)) }),
    }[kind];
    return { kind: { case: kind, value: value?.() } };
  };

  /** A message's value; wrappers and Struct are plain values in a singular field outside a oneof (as protobuf-es holds them). */
  const messageValue = (desc: DescMessage, depth: number, unwrapped: boolean): unknown => {
    switch (desc.typeName) {
      case "google.protobuf.Timestamp":
        return timestamp();
      case "google.protobuf.Duration":
        return duration();
      case "google.protobuf.Value":
        return jsonValue(0);
      case "google.protobuf.ListValue":
        return { values: Array.from({ length: int(3) }, () => jsonValue(1)) };
      case "google.protobuf.Struct":
        return Object.fromEntries(Array.from({ length: int(3) }, () => [text(), pick([1, "a", null, true, [1, "b"], { k: "v" }])]));
      case "google.protobuf.FieldMask":
        return { paths: Array.from({ length: int(3) }, () => pick(["a", "b_c", "d.e_f"])) };
      case "google.protobuf.Empty":
        return {};
    }
    if (desc.typeName.startsWith("google.protobuf.") && desc.fields.length === 1 && desc.fields[0]?.fieldKind === "scalar") {
      const wrapped = scalar(desc.fields[0].scalar);
      return unwrapped ? wrapped : { value: wrapped };
    }
    return messageInit(desc, depth + 1);
  };

  const mapKey = (type: Type | number): string => {
    switch (type) {
      case Type.STRING:
        return text();
      case Type.BOOL:
        return String(chance(0.5));
      default:
        return String(scalar(type));
    }
  };

  const fieldValue = (f: DescField, depth: number, inOneof: boolean): unknown => {
    const many = () => (depth > 2 ? int(2) : int(4));
    switch (f.fieldKind) {
      case "scalar":
        return scalar(f.scalar);
      case "enum":
        return enumValue(f.enum);
      case "message":
        return messageValue(f.message, depth, !inOneof);
      case "list":
        return Array.from({ length: many() }, () =>
          f.listKind === "scalar" ? scalar(f.scalar) : f.listKind === "enum" ? enumValue(f.enum) : messageValue(f.message, depth, false),
        );
      case "map":
        return Object.fromEntries(
          Array.from({ length: many() }, () => [
            mapKey(f.mapKey),
            f.mapKind === "scalar" ? scalar(f.scalar) : f.mapKind === "enum" ? enumValue(f.enum) : messageValue(f.message, depth, false),
          ]),
        );
    }
  };

  /**
   * Init for create(): each field unset or random (which may be its zero value), each oneof unset or one
   * of its cases; below a few levels only the scalar and required fields, so that recursive types end.
   */
  function messageInit(desc: DescMessage, depth = 0): Init {
    const init: Init = {};
    for (const member of desc.members) {
      const required = member.kind === "field" && member.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED;
      if (depth > 3 && !required && (member.kind === "oneof" || member.fieldKind !== "scalar")) continue;
      if (member.kind === "oneof") {
        const chosen = chance(0.25) ? undefined : pick(member.fields);
        init[member.localName] = chosen ? { case: chosen.localName, value: fieldValue(chosen, depth, true) } : { case: undefined };
      } else if (required || chance(0.75)) {
        init[member.localName] = fieldValue(member, depth, false);
      }
    }
    return init;
  }

  return (desc: DescMessage): Message => create(desc, messageInit(desc));
}

// ---- tests ----------------------------------------------------------------

describe("the REST writer", () => {
  it("covers every route of the gateway", () => {
    expect(routes.map((r) => `${r.httpMethod} ${r.template}`)).toEqual(
      expect.arrayContaining(["GET /v1/calls/{call_id}", "GET /v1/calls", "GET /v1/calls/history", "POST /v1/calls/initiate", "GET /v1/calls/{call_id}/recordings"]),
    );
    expect(routes.length).toBe(CallsService.methods.length);
  });

  describe.each(routes.map((route) => [`${route.httpMethod} ${route.template}`, route] as const))("%s", (name, route) => {
    it("answers with the bytes of the protobuf path, for 300 generated responses", () => {
      const SEED = 1205;
      const next = generator(SEED);
      for (let n = 0; n < 300; n++) {
        const output = next(route.target.method.output);
        expectSameBytes(encodeOutput(route, output), genericAnswer(route, output), `${name}: generated response #${n} (seed ${SEED})`);
      }
    });

    it("answers an empty response as the protobuf path does", () => {
      const output = create(route.target.method.output);
      expectSameBytes(encodeOutput(route, output), genericAnswer(route, output), `${name}: empty response`);
    });
  });

  it("writes every field kind (scalars, 64-bit, enums, oneofs, maps, lists, well-known types) as the protobuf path does", () => {
    const SEED = 4242;
    const next = generator(SEED);
    for (let n = 0; n < 3000; n++) {
      const sink = next(SinkSchema);
      expectSameBytes(messageToRestJsonText(SinkSchema, sink), generic(SinkSchema, sink), `Sink #${n} (seed ${SEED})`);
    }
    for (const field of SinkSchema.fields.filter((f) => f.fieldKind === "list")) {
      const sink = next(SinkSchema);
      expectSameBytes(listToRestJsonText(field, sink), JSON.stringify(listToRestJson(field, sink)), `list ${field.name}`);
    }
  });

  it("writes proto2 messages (defaults, closed enums, required fields) as the protobuf path does", () => {
    const SEED = 2;
    const next = generator(SEED);
    for (let n = 0; n < 1000; n++) {
      const legacy = next(LegacySchema);
      expectSameBytes(messageToRestJsonText(LegacySchema, legacy), generic(LegacySchema, legacy), `Legacy #${n} (seed ${SEED})`);
    }
    const unset = create(LegacySchema, { id: "a" });
    // Unset scalars are left out, an unset enum or message is null (the defaults on the prototype do not count).
    expect(messageToRestJsonText(LegacySchema, unset)).toBe('{"level":null,"tags":[],"nested":null,"id":"a"}');
    expectSameBytes(messageToRestJsonText(LegacySchema, unset), generic(LegacySchema, unset), "unset proto2 fields");
    expect(() => generic(LegacySchema, create(LegacySchema))).toThrow(/required field not set/);
    expect(() => messageToRestJsonText(LegacySchema, create(LegacySchema))).toThrow(/required field not set/);
  });

  it("writes the REST dialect: snake_case keys, short lower-case enums, null for unset, 64-bit as numbers while exact", () => {
    const sink = create(SinkSchema, {
      fInt64: 2n ** 53n - 1n,
      fUint64: 2n ** 53n,
      color: 2,
      plain: 2,
      rInt64: [1n, 2n ** 60n],
      rColor: [0, 1, 99],
      mColor: { "5": 2 },
      mInt64: { "-1": 3n },
      choice: { case: "cColor", value: 0 },
      ts: timestampFromMs(Date.UTC(2026, 0, 2, 3, 4, 5, 60)),
      dur: { seconds: -1n, nanos: -500_000_000 },
    });
    const json = messageToRestJsonText(SinkSchema, sink);
    expectSameBytes(json, generic(SinkSchema, sink), "dialect");
    expect(json).toContain('"f_int64":9007199254740991,');
    expect(json).toContain('"f_uint64":"9007199254740992",');
    expect(json).toContain('"color":"dark_blue","plain":"two_mixed","inner":null,"r_int64":["1","1152921504606846976"]');
    expect(json).toContain('"r_color":[null,"red",99]');
    expect(json).toContain('"m_int64":{"-1":"3"},"m_color":{"5":"COLOR_DARK_BLUE"}');
    expect(json).toContain('"c_color":null,"c_inner":null,"c_ts":null,"c_wrapped":null,"ts":"2026-01-02T03:04:05.060Z","dur":"-1.500s"');
    expect(json).not.toContain('"o_int64"');
    expect(json).not.toContain('"c_string"');
  });

  it("refuses what protobuf JSON cannot print, as the protobuf path does", () => {
    const tooLate = create(SinkSchema, { ts: { seconds: BigInt(MAX_SECONDS + 1), nanos: 0 } });
    expect(() => generic(SinkSchema, tooLate)).toThrow(/0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/);
    expect(() => messageToRestJsonText(SinkSchema, tooLate)).toThrow(/0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/);
    const mixedSigns = create(SinkSchema, { dur: { seconds: 1n, nanos: -1 } });
    expect(() => generic(SinkSchema, mixedSigns)).toThrow(/nanos sign must match/);
    expect(() => messageToRestJsonText(SinkSchema, mixedSigns)).toThrow(/nanos sign must match/);
  });

  it("writes a well-known type at the top as the protobuf path does", () => {
    const ts = timestampFromMs(Date.UTC(2026, 0, 1));
    expect(messageToRestJsonText(TimestampSchema, ts)).toBe(generic(TimestampSchema, ts));
  });

  it("writes GetCall's call as renderCallJson does for the events", () => {
    const T = Date.UTC(2026, 11, 5, 1, 2, 3);
    const call: Call = {
      id: "call-1",
      tenantId: "acme",
      roomId: "room-1",
      type: "video",
      status: "active",
      initiatorId: "alice",
      startedAt: T,
      endedAt: null,
      endReason: null,
      endedBy: null,
      endRequest: null,
      ringDeadline: T + 60_000,
      participants: ["alice", "bob"].map((userId, i) => ({ userId, joinedAt: T + i * 1001, audioOn: true, videoOn: i === 0, livekitSid: null })),
      invitees: [{ userId: "carol", state: "ringing", changedAt: T, ringDeadline: T + 60_000 }],
      endedSessions: [],
    };
    const recordings: RecordingView[] = [];
    const response = create(GetCallResponseSchema, { call: callToProto(call, recordings) });
    const route = routes.find((r) => r.target.method === CallsService.method.getCall) as RestRoute;
    expect(encodeOutput(route, response)).toBe(renderCallJson(call, recordings));
    expect(messageToRestJsonText(CallSchema, response.call as Message)).toBe(renderCallJson(call, recordings));
  });

  it("names the case and the first differing byte when the bytes drift", () => {
    const sink = create(SinkSchema, { fString: "a", fBool: true });
    const drifted = messageToRestJsonText(SinkSchema, sink).replace('"f_bool":true', '"f_bool":false');
    expect(() => expectSameBytes(drifted, generic(SinkSchema, sink), "flipped")).toThrow(/flipped: differs at byte \d+\n.*"f_bool/);
  });
});
