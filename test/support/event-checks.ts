import { expect } from "vitest";
import { queryStore, type StoreEnv } from "./store-reader.js";
import type { StoredEvent } from "./stream-reader.js";

/** The committed events, in commit order, straight from a service's store. */
export async function committedEvents(store: StoreEnv): Promise<{ id: string; callId: string }[]> {
  const rows = await queryStore<{ id: string; payload: string }>(store, "SELECT id, payload FROM outbox ORDER BY seq");
  return rows.map((r) => ({ id: r.id, callId: (JSON.parse(r.payload) as { call_id: string }).call_id }));
}

/** Per call, the ids in order. */
function byCall(events: readonly { id: string; callId: string }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) out.set(e.callId, [...(out.get(e.callId) ?? []), e.id]);
  return out;
}

/** Nothing lost, nothing doubled: every committed event is in the stream once, and per call in commit order. */
export function expectExactlyOnceInOrder(committed: readonly { id: string; callId: string }[], stream: readonly StoredEvent[]): void {
  const streamIds = stream.map((e) => e.msgId);
  expect(new Set(streamIds).size, "no duplicates in the stream").toBe(streamIds.length);
  expect([...streamIds].sort(), "every committed event is in the stream, nothing else").toEqual(
    committed.map((e) => e.id).sort(),
  );
  expect(byCall(stream.map((e) => ({ id: e.msgId, callId: e.callId }))), "per call in commit order").toEqual(
    byCall(committed),
  );
}
