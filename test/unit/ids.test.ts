import { describe, expect, it } from "vitest";
import { CallError, CallErrorCode } from "../../src/domain/errors.js";
import { assertSafeId, isSafeId, liveKitRoomName, newCallId } from "../../src/domain/ids.js";

const CALL_ID = /^call-[0-9a-hjkmnp-tv-z]{26}$/;
const T0 = 1_700_000_000_000;

describe("newCallId", () => {
  it("is call- followed by 26 lowercase Crockford base32 characters", () => {
    for (let i = 0; i < 200; i++) expect(newCallId(T0 + i)).toMatch(CALL_ID);
    expect(newCallId(0)).toMatch(CALL_ID);
    expect(newCallId(Date.now())).toMatch(CALL_ID);
  });

  it("starts with the 48-bit millisecond time, so ids of the same millisecond share their first 9 characters", () => {
    const a = newCallId(T0);
    const b = newCallId(T0);
    // 1_700_000_000_000 >> 3 in Crockford base32 (the top 45 of the 48 time bits).
    expect(a.slice(0, 14)).toBe("call-065wzsb80");
    expect(b.slice(0, 14)).toBe("call-065wzsb80");
    expect(a).not.toBe(b);
    // 48-bit time: the epoch encodes as all zeros in the time prefix.
    expect(newCallId(0).slice(5, 14)).toBe("000000000");
  });

  it("ids created in a later millisecond sort after earlier ones", () => {
    const times = [0, 1, 2, 31, 32, 1_000, T0 - 1, T0, T0 + 1, T0 + 86_400_000, 2 ** 48 - 1];
    const ids = times.map((t) => newCallId(t));
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it("ids one millisecond apart sort by time whatever their random part", () => {
    for (let i = 0; i < 500; i++) {
      const earlier = newCallId(T0 + i);
      const later = newCallId(T0 + i + 1);
      expect(earlier < later).toBe(true);
    }
  });

  it("10 000 ids created in the same millisecond are all distinct", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) ids.add(newCallId(T0));
    expect(ids.size).toBe(10_000);
  });
});

describe("liveKitRoomName", () => {
  it("is exactly scaiwave-<call_id>", () => {
    expect(liveKitRoomName("call-01hzy3k9q8v7w6x5t4s3r2p1m0")).toBe("scaiwave-call-01hzy3k9q8v7w6x5t4s3r2p1m0");
    const id = newCallId(T0);
    expect(liveKitRoomName(id)).toBe(`scaiwave-${id}`);
  });
});

describe("assertSafeId", () => {
  it.each([
    "alice",
    "@alice:example",
    "@alice:example-org",
    "tenant_42",
    "A-Z_a-z0-9=+:@",
    "x",
    "a".repeat(128),
  ])("accepts %j", (value) => {
    expect(() => assertSafeId("user_id", value)).not.toThrow();
    expect(isSafeId(value)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["a dot (NATS token separator)", "a.b"],
    ["a Matrix-style id with a dotted server", "@alice:example.org"],
    ["a NATS wildcard *", "a*"],
    ["a NATS wildcard >", "a>"],
    ["a space", "a b"],
    ["a tab", "a\tb"],
    ["a newline", "a\n"],
    ["a slash", "a/b"],
    ["non-ASCII", "álice"],
    ["129 characters", "a".repeat(129)],
  ])("rejects %s with SW_CALL_INVALID_ARGUMENT naming the field", (_why, value) => {
    let caught: unknown;
    try {
      assertSafeId("room_id", value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CallError);
    expect((caught as CallError).code).toBe(CallErrorCode.InvalidArgument);
    expect((caught as CallError).code).toBe("SW_CALL_INVALID_ARGUMENT");
    expect((caught as CallError).message).toMatch(/^room_id must be 1-128 characters/);
    expect(isSafeId(value)).toBe(false);
  });

  it("quotes the offending value in the message", () => {
    expect(() => assertSafeId("tenant_id", "a.b")).toThrow(
      'tenant_id must be 1-128 characters of A-Z a-z 0-9 _ - = @ : + (got "a.b")',
    );
  });
});
