import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JetStreamPublisher, subjectMatches, type OutboundMessage } from "../../src/adapters/nats/jetstream-publisher.js";
import { createLogger } from "../../src/logger.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { readStream } from "../support/stream-reader.js";

// The relay's publisher against a real JetStream: a batch is pipelined, and a
// message that never reaches the stream cannot be overtaken by its successors.

let nats: NatsServer;
let publisher: JetStreamPublisher;
let counter = 0;

const event = (subject: string, bytes = 0): OutboundMessage => {
  const id = `ev${++counter}`;
  return { subject, msgId: id, payload: JSON.stringify({ id, call_id: `call-${counter}`, pad: "x".repeat(bytes) }) };
};
const ids = (stored: { msgId: string }[]) => stored.map((s) => s.msgId);

beforeAll(async () => {
  nats = await startNatsServer();
  publisher = new JetStreamPublisher({
    servers: [nats.url],
    streams: [
      { name: "EVENTS", subjects: ["swp.user.*.call", "swp.room.*.call"], retention: "limits", maxAgeSeconds: 3600, duplicateWindowSeconds: 120, replicas: 1 },
      { name: "JOBS", subjects: ["swp.jobs.>"], retention: "workqueue", maxAgeSeconds: 3600, duplicateWindowSeconds: 120, replicas: 1 },
    ],
    publishTimeoutMs: 2000,
    logger: createLogger("silent"),
  });
  publisher.start();
  // The publisher reports no event when ready; its status is what the service's /readyz shows.
  await vi.waitFor(() => expect(publisher.status()).toMatchObject({ connected: true, streamReady: true }), { timeout: 10_000, interval: 20 });
});

afterAll(async () => {
  await publisher?.close();
  await nats?.stop();
});

describe("JetStreamPublisher.publishInOrder", () => {
  it("stores a large batch across two streams in batch order, each stream in its own order", async () => {
    const batch = Array.from({ length: 300 }, (_, i) => event(i % 10 === 0 ? "swp.jobs.transcribe" : i % 2 ? "swp.room.r1.call" : "swp.user.u1.call"));
    expect(await publisher.publishInOrder(batch)).toEqual({ acked: 300 });
    expect(ids(await readStream(nats.url, "EVENTS"))).toEqual(batch.filter((m) => !m.subject.startsWith("swp.jobs")).map((m) => m.msgId));
    expect(ids(await readStream(nats.url, "JOBS"))).toEqual(batch.filter((m) => m.subject.startsWith("swp.jobs")).map((m) => m.msgId));
  });

  it("refuses the successors of a message that was not stored, so a retry keeps commit order", async () => {
    const before = ids(await readStream(nats.url, "EVENTS"));
    // The middle one exceeds NATS's max payload (1 MiB): it never reaches the stream.
    const [first, lost, next] = [event("swp.room.r2.call"), event("swp.room.r2.call", 2 * 1024 * 1024), event("swp.user.u2.call")];
    const outcome = await publisher.publishInOrder([first!, lost!, next!]);
    expect(outcome.acked).toBe(1);
    expect(String(outcome.error)).toMatch(/MAX_PAYLOAD|payload/i);
    // `next` was written after `lost` and JetStream refused it (wrong last msg id): not stored ahead of `lost`.
    expect(ids(await readStream(nats.url, "EVENTS"))).toEqual([...before, first!.msgId]);
  });

  it("a message JetStream refuses fails the publish from there: its expected predecessor is not the stream's last", async () => {
    const [x, y, z] = [event("swp.room.r4.call"), event("swp.room.r4.call"), event("swp.room.r4.call")];
    expect(await publisher.publishInOrder([x!, y!])).toEqual({ acked: 2 });
    const before = ids(await readStream(nats.url, "EVENTS"));
    // x again is a duplicate (acknowledged, stores nothing); z expects x last, but the stream's last is y.
    const outcome = await publisher.publishInOrder([x!, z!]);
    expect(outcome.acked).toBe(1);
    expect(String(outcome.error)).toMatch(/wrong last msg id/i);
    expect(ids(await readStream(nats.url, "EVENTS"))).toEqual(before);
    expect(publisher.status().lastError).toMatch(/wrong last msg id/i);
  });

  it("a subject no stream captures fails the publish at once (no responders), acknowledging the ones before it", async () => {
    const outcome = await publisher.publishInOrder([event("swp.user.u5.call"), event("swp.nowhere.u5"), event("swp.user.u5.call")]);
    expect(outcome.acked).toBe(1);
    expect(String(outcome.error)).toMatch(/no JetStream stream captures subject swp\.nowhere\.u5/);
  });

  it("a message nobody acknowledges fails the publish after the publish timeout", async () => {
    // A core subscriber hears the subject, but no stream stores it: no ack, and no "no responders" either.
    const listener = await connect({ servers: nats.url });
    const heard = listener.subscribe("swp.unstored.>");
    await listener.flush();
    const impatient = new JetStreamPublisher({
      servers: [nats.url],
      streams: [{ name: "EVENTS", subjects: ["swp.user.*.call", "swp.room.*.call"], retention: "limits", maxAgeSeconds: 3600, duplicateWindowSeconds: 120, replicas: 1 }],
      publishTimeoutMs: 300,
      logger: createLogger("silent"),
    });
    try {
      impatient.start();
      await vi.waitFor(() => expect(impatient.status()).toMatchObject({ connected: true, streamReady: true }), { timeout: 10_000, interval: 20 });
      const outcome = await impatient.publishInOrder([event("swp.room.r6.call"), event("swp.unstored.r6")]);
      expect(outcome.acked).toBe(1);
      expect(String(outcome.error)).toMatch(/no JetStream ack for a message on swp\.unstored\.r6 within 300 ms/);
      await vi.waitFor(() => expect(heard.getReceived()).toBe(1));
    } finally {
      await impatient.close();
      await listener.close();
    }
  });

  it("re-publishing an acknowledged batch (a crash before it was marked sent) stores nothing twice", async () => {
    const before = ids(await readStream(nats.url, "EVENTS"));
    const batch = [event("swp.room.r3.call"), event("swp.room.r3.call"), event("swp.user.u3.call")];
    expect(await publisher.publishInOrder(batch)).toEqual({ acked: 3 });
    expect(await publisher.publishInOrder(batch)).toEqual({ acked: 3 });
    expect(ids(await readStream(nats.url, "EVENTS"))).toEqual([...before, ...batch.map((m) => m.msgId)]);
  });
});

describe("subjectMatches", () => {
  it.each([
    ["swp.user.*.call", "swp.user.u1.call", true],
    ["swp.user.*.call", "swp.user.u1.other", false],
    ["swp.user.*.call", "swp.user.call", false],
    ["swp.jobs.>", "swp.jobs.transcribe", true],
    ["swp.jobs.>", "swp.jobs", false],
    ["swp.jobs.>", "swp.jobs.a.b", true],
  ])("%s ~ %s: %s", (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});
