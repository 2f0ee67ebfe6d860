import { create, getOption, hasOption, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { field as validateField } from "../../gen/buf/validate/validate_pb.js";
import { CallsService, GetCallRequestSchema, InitiateCallRequestSchema } from "../../gen/scaiwave/calls/v1/calls_pb.js";
import { DirectoryService, PutMemberRequestSchema, PutRoomRequestSchema } from "../../gen/scaiwave/calls/v1/directory_pb.js";
import { CallError } from "../../src/domain/errors.js";
import { isSafeId } from "../../src/domain/ids.js";
import { RpcRegistry, type ServiceHandlers } from "../../src/transport/rpc/registry.js";
import { createValidator } from "@bufbuild/protovalidate";
import { matchSimplePattern, validateRequest } from "../../src/transport/rpc/request-validation.js";

/** What validateRequest throws for this message, or undefined when it passes. */
function failure<D extends DescMessage>(schema: D, init: Parameters<typeof create<D>>[1]): { code: string; message: string } | undefined {
  try {
    validateRequest(schema, create(schema, init));
    return undefined;
  } catch (err) {
    if (!(err instanceof CallError)) throw err;
    return { code: err.code, message: err.message };
  }
}

const invalid = (message: string) => ({ code: "SW_CALL_INVALID_ARGUMENT", message });

const requestMessages = [...CallsService.methods, ...DirectoryService.methods].map((m) => m.input);

/** Request fields (nested messages included) that carry buf.validate rules. */
function ruledFields(): DescField[] {
  const seen = new Set<DescMessage>();
  const fields: DescField[] = [];
  const visit = (message: DescMessage) => {
    if (seen.has(message)) return;
    seen.add(message);
    for (const f of message.fields) {
      if (hasOption(f, validateField)) fields.push(f);
      if (f.message) visit(f.message);
    }
  };
  requestMessages.forEach(visit);
  return fields;
}

describe("request validation (buf.validate rules)", () => {
  it("passes a request that keeps every rule", () => {
    expect(failure(InitiateCallRequestSchema, { roomId: "room-1", type: 2 })).toBeUndefined();
    expect(failure(PutRoomRequestSchema, { tenantId: "acme", roomId: "r", members: [{ userId: "a", powerLevel: 0 }, { userId: "b", powerLevel: 100 }] })).toBeUndefined();
  });

  it.each([
    ["a required id is empty", { roomId: "", type: 1 }, "room_id: value is required"],
    ["an id has a character NATS subjects cannot hold", { roomId: "room.1", type: 1 }, "room_id: does not match regex pattern `^[A-Za-z0-9_=@:+-]+$`"],
    ["an id is longer than 128 characters", { roomId: "r".repeat(129), type: 1 }, "room_id: must be at most 128 characters"],
    ["the enum is unspecified", { roomId: "room-1", type: 0 }, "type: value is required"],
    ["the enum number is not a defined value", { roomId: "room-1", type: 9 }, "type: value must be one of the defined enum values"],
    ["several rules break", { roomId: "", type: 0 }, "room_id: value is required; type: value is required"],
  ])("refuses InitiateCall when %s, naming the field", (_why, init, message) => {
    expect(failure(InitiateCallRequestSchema, init)).toEqual(invalid(message));
  });

  it("refuses power levels outside 0-100 and a missing member, with the path of the field", () => {
    for (const powerLevel of [-1, 101]) {
      expect(failure(PutRoomRequestSchema, { tenantId: "acme", roomId: "r", members: [{ userId: "a", powerLevel: 0 }, { userId: "b", powerLevel }] })).toEqual(
        invalid("members[1].power_level: must be greater than or equal to 0 and less than or equal to 100"),
      );
    }
    expect(failure(PutMemberRequestSchema, { tenantId: "acme", roomId: "r" })).toEqual(invalid("member: value is required"));
  });

  it("has rules that compile for every request message", () => {
    // An empty request breaks rules (ids are required) but must never be an evaluation error.
    for (const schema of requestMessages) expect(() => failure(schema, {}), schema.typeName).not.toThrow();
  });

  it("gives every request id the domain's rule: exactly the ids the domain (isSafeId) accepts", () => {
    const ids = ruledFields().filter((f) => f.name.endsWith("_id"));
    // Every string id of every request, in both services.
    const allIds = requestMessages.flatMap((m) => m.fields).filter((f) => f.name.endsWith("_id") && f.fieldKind === "scalar");
    expect(allIds.filter((f) => !ids.includes(f)).map((f) => `${f.parent.typeName}.${f.name}`)).toEqual([]);
    expect(ids.length).toBeGreaterThanOrEqual(20);
    const rules = ids.map((f) => {
      const r = getOption(f, validateField);
      return { required: r.required, string: r.type.case === "string" ? { maxLen: r.type.value.maxLen, pattern: r.type.value.pattern } : undefined };
    });
    for (const r of rules) expect(r).toEqual({ required: true, string: { maxLen: 128n, pattern: "^[A-Za-z0-9_=@:+-]+$" } });

    const samples = [
      "a", "room-1", "call-06h45h3v3d1hepaftwa13k2k1c", "A-Za-z0-9_=@:+", "user@example.com", "x".repeat(128),
      "", "x".repeat(129), "a.b", "a*b", "a>b", "a b", "a\tb", "a\nb", "a\n", "\na", "a/b", "a%2Eb", "é", "a\u0000b", "👍", "a,b", "a;b",
    ];
    for (const id of samples) {
      const refused = failure(GetCallRequestSchema, { callId: id }) !== undefined;
      expect(refused, JSON.stringify(id)).toBe(!isSafeId(id));
    }
  });

  it("runs in the registry before the handler, whatever the transport", async () => {
    const handled: string[] = [];
    const handlers = Object.fromEntries(
      CallsService.methods.map((m) => [m.localName, (req: { callId?: string }) => (handled.push(req.callId ?? ""), {})]),
    ) as unknown as ServiceHandlers<typeof CallsService, unknown>;
    const anyone = { authenticate: () => Promise.resolve({ subject: "u", tenantId: "t", scopes: new Set<string>() }) };
    const registry = new RpcRegistry({ authenticator: anyone }).register(CallsService, { handlers, access: () => ({}) });
    const getCall = [...registry.methods()].find((m) => m.method === CallsService.method.getCall);
    const request = { authorization: "Bearer x", signal: new AbortController().signal, protocol: "grpc", requestId: "req-1" };

    await expect(getCall?.invoke(request, () => create(GetCallRequestSchema, { callId: "a.b" }))).rejects.toMatchObject(
      invalid("call_id: does not match regex pattern `^[A-Za-z0-9_=@:+-]+$`"),
    );
    expect(handled).toEqual([]);
    await getCall?.invoke(request, () => create(GetCallRequestSchema, { callId: "call-1" }));
    expect(handled).toEqual(["call-1"]);
  });

  describe("id patterns, matched with RegExp", () => {
    const patterns = [
      ...new Set(
        ruledFields().flatMap((f) => {
          const rules = getOption(f, validateField).type;
          return rules.case === "string" && rules.value.pattern ? [rules.value.pattern] : [];
        }),
      ),
    ];

    it("every pattern of the protos is one the RegExp matcher takes", () => {
      expect(patterns.length).toBeGreaterThan(0);
      for (const pattern of patterns) expect(() => matchSimplePattern(pattern, "x"), pattern).not.toThrow();
    });

    it("gives the same verdicts as protovalidate's RE2 default, on ids that probe the edges", () => {
      const re2 = createValidator();
      const values = ["call-1", "", "a.b", "a\n", "\na", "a b", "é", "ａ", "𝟘", "a\u0000", "A-Z_=@:+-", "-", "+", "a$", "^a", "[a]", "r".repeat(128), "r".repeat(129)];
      for (const callId of values) {
        const message = create(GetCallRequestSchema, { callId });
        const expected = re2.validate(GetCallRequestSchema, message).kind;
        expect(failure(GetCallRequestSchema, { callId }) === undefined ? "valid" : "invalid", JSON.stringify(callId)).toBe(expected);
      }
    });

    it("refuses a pattern outside the subset instead of guessing its meaning", () => {
      for (const pattern of ["^(a|b)$", "^[^a]+$", "^[\\d]+$", "^a+$", "[a]+$", "^[a]+"]) {
        expect(() => matchSimplePattern(pattern, "a"), pattern).toThrow(/outside the subset/);
      }
    });
  });
});
