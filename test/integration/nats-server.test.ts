import { existsSync } from "node:fs";
import { connect, StringCodec, type ConnectionOptions, type NatsConnection, type Status } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { within } from "../support/wait.js";

// Proves the nats-server fixture is a real JetStream server, and that halt()/resume()
// take NATS away and bring it back on the same URL with its JetStream state intact.

const STREAM = "T";
const sc = StringCodec();

let nats: NatsServer;
const clients: NatsConnection[] = [];

async function client(opts: ConnectionOptions = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, ...opts });
  clients.push(nc);
  return nc;
}

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await Promise.all(clients.map((nc) => nc.close().catch(() => {})));
  await nats?.stop();
});


/**
 * The first status event of this type on nc from now on (the listener is
 * registered synchronously, so call this before causing the event).
 */
function nextStatus(nc: NatsConnection, type: string): Promise<Status> {
  const events = nc.status();
  const seen = (async () => {
    for await (const s of events) if (s.type === type) return s;
    throw new Error(`connection closed before a '${type}' status`);
  })();
  seen.catch(() => {}); // awaited by the caller; never an unhandled rejection if the test failed earlier
  return seen;
}

describe("nats-server fixture", () => {
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await client({ reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  it("serves JetStream: creates a stream, acks a publish, and drops a duplicate msgID", async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: STREAM, subjects: ["t.>"] });
    const js = nc.jetstream();

    const first = await js.publish("t.one", sc.encode("one"), { msgID: "m1" });
    expect(first).toMatchObject({ stream: STREAM, seq: 1, duplicate: false });
    const again = await js.publish("t.one", sc.encode("one"), { msgID: "m1" });
    expect(again).toMatchObject({ stream: STREAM, seq: 1, duplicate: true });

    expect((await jsm.streams.info(STREAM)).state.messages).toBe(1);
  });

  it("delivers a JetStream publish to a core subscriber", async () => {
    const sub = nc.subscribe("t.>", { max: 1 });
    await nc.flush(); // the server knows the subscription before we publish
    const received = (async () => {
      for await (const m of sub) return { subject: m.subject, data: sc.decode(m.data) };
      return undefined;
    })();

    const ack = await nc.jetstream().publish("t.two", sc.encode("two"), { msgID: "m2" });
    expect(ack).toMatchObject({ seq: 2, duplicate: false });
    expect(await within("the core subscriber receives the message", received)).toEqual({
      subject: "t.two",
      data: "two",
    });
  });

  it("halt() takes NATS away, resume() brings it back with the stream intact and the client reconnects", async () => {
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    const disconnected = nextStatus(nc, "disconnect");
    const reconnected = nextStatus(nc, "reconnect");

    await nats.halt();
    expect(existsSync(nats.storeDir)).toBe(true);
    await within("the client sees the disconnect", disconnected);

    // While NATS is away a JetStream publish is not acked: it fails within its timeout.
    // (nats.js also discards what it buffered while disconnected on every reconnect
    // attempt, so this message never reaches the stream later.)
    const t0 = Date.now();
    await expect(js.publish("t.lost", sc.encode("lost"), { msgID: "lost", timeout: 500 })).rejects.toThrow(/TIMEOUT/);
    expect(Date.now() - t0).toBeLessThan(2_000);

    await nats.resume();
    await within("the client reconnects by itself", reconnected);

    // The stream and its messages survived the restart.
    const info = await jsm.streams.info(STREAM);
    expect(info.config.subjects).toEqual(["t.>"]);
    expect(info.state.messages).toBe(2);
    expect(info.state.last_seq).toBe(2);
    expect(sc.decode((await jsm.streams.getMessage(STREAM, { seq: 1 })).data)).toBe("one");
    // So did the duplicate window: msg IDs are recovered from the store.
    expect(await js.publish("t.one", sc.encode("one"), { msgID: "m1" })).toMatchObject({ seq: 1, duplicate: true });

    // New publishes work, on the reconnected client and on a new one at the same URL.
    expect(await js.publish("t.three", sc.encode("three"), { msgID: "m3" })).toMatchObject({ seq: 3, duplicate: false });
    const fresh = await client();
    expect(await fresh.jetstream().publish("t.four", sc.encode("four"), { msgID: "m4" })).toMatchObject({
      seq: 4,
      duplicate: false,
    });
    expect((await jsm.streams.info(STREAM)).state.messages).toBe(4);
  });

  it("halt() and resume() are idempotent", async () => {
    await Promise.all([nats.halt(), nats.halt()]);
    await nats.resume();
    await nats.resume();
    const nc2 = await client({ reconnect: false });
    expect((await (await nc2.jetstreamManager()).streams.info(STREAM)).state.messages).toBe(4);
  });
});

describe("nats-server fixture: stop()", () => {
  it("removes the store dir, is idempotent, and refuses resume() afterwards", async () => {
    const other = await startNatsServer();
    const nc = await connect({ servers: other.url, reconnect: false });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "S", subjects: ["s.>"] });
    await nc.close();
    expect(existsSync(other.storeDir)).toBe(true);

    await Promise.all([other.stop(), other.stop()]);
    expect(existsSync(other.storeDir)).toBe(false);
    expect(existsSync(other.logPath)).toBe(false);
    await expect(other.resume()).rejects.toThrow(/after stop/);
    await other.halt(); // a no-op
    await expect(connect({ servers: other.url, reconnect: false, timeout: 1_000 })).rejects.toThrow();
  });
});
