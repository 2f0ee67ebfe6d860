import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MinioObjectStore } from "../../src/adapters/s3/minio-object-store.js";
import { openDatabase, type SqliteDatabase } from "../../src/adapters/sqlite/database.js";
import { SqliteStore } from "../../src/adapters/sqlite/store.js";
import { CallEventFactory } from "../../src/app/events.js";
import type { Caller, EgressService, Logger } from "../../src/app/ports.js";
import { RecordingsUseCases } from "../../src/app/recordings.js";
import { startCall } from "../../src/domain/call.js";

/**
 * The reconcile pass's orphaned-egress check against starts in flight, over
 * the real use cases and the real SQLite store. LiveKit egress (which needs a
 * Chrome/GStreamer worker) is played in memory so that the test decides when
 * each of its answers arrives: the interleavings below are the ones where a
 * recording could be taken for an orphan. (test/integration/recordings.test.ts
 * puts a start inside the pass's wait for LiveKit's list, end to end.)
 */

const T0 = 1_700_000_000_000;
const TENANT = "t1";
const CALL_ID = "call-1";
const ROOM = `scaiwave-${CALL_ID}`;
const admin: Caller = { userId: "alice", tenantId: TENANT };
const OPTIONS = { audio: true, video: true, transcript: false };

/** A promise the test settles. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * LiveKit's egress API in memory. An egress exists as soon as it is asked
 * for; while `startAnswers` is closed, the answer with its id is held back
 * (a slow or timed-out StartRoomCompositeEgress).
 */
class LiveKitEgressInMemory implements EgressService {
  readonly running = new Map<string, string>();
  readonly stopped: string[] = [];
  startAnswers: Promise<void> = Promise.resolve();
  /** Set to fail the next start after LiveKit created its egress (the answer timed out). */
  failNextAnswer = false;
  private readonly asked: ((egressId: string) => void)[] = [];
  private count = 0;

  /** Resolves with the id of the next egress LiveKit creates. */
  nextCreated(): Promise<string> {
    return new Promise((resolve) => this.asked.push(resolve));
  }

  create(roomName: string): string {
    const egressId = `EG_${++this.count}`;
    this.running.set(egressId, roomName);
    for (const resolve of this.asked.splice(0)) resolve(egressId);
    return egressId;
  }

  async start(request: { roomName: string }): Promise<string> {
    const egressId = this.create(request.roomName);
    await this.startAnswers;
    if (this.failNextAnswer) {
      this.failNextAnswer = false;
      throw new Error("LiveKit did not answer in time");
    }
    return egressId;
  }

  async stop(egressId: string): Promise<void> {
    this.running.delete(egressId);
    this.stopped.push(egressId);
  }

  async listActive(): Promise<{ egressId: string; roomName: string }[]> {
    return [...this.running].map(([egressId, roomName]) => ({ egressId, roomName }));
  }
}

const quietLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

let db: SqliteDatabase;
let livekit: LiveKitEgressInMemory;
let store: SqliteStore;

/** A service instance over the shared store (several may share one SQLite file). */
function instance(): RecordingsUseCases {
  return new RecordingsUseCases({
    store,
    events: new CallEventFactory(() => "null", () => T0),
    egress: livekit,
    // Never contacted: no recording here reaches storage.
    objects: new MinioObjectStore({ endpoint: "http://s3.invalid", accessKey: "in-memory", secretKey: "in-memory-secret", bucket: "recordings", region: "us-east-1" }),
    clock: { now: () => T0 },
    logger: quietLogger,
    maxDurationMs: 60_000,
    downloadUrlTtlSeconds: 300,
  });
}

beforeEach(async () => {
  db = openDatabase(":memory:");
  store = new SqliteStore(db, { now: () => T0 });
  await store.transaction(async (tx) => {
    await tx.directory.putRoom(TENANT, "room-1", [{ userId: "alice", powerLevel: 100 }]);
    await tx.directory.putTenantPolicy(TENANT, { recordingsEnabled: true, transcriptionEnabled: false });
    await tx.calls.insertCall(
      startCall({ id: CALL_ID, tenantId: TENANT, roomId: "room-1", type: "video", initiatorId: "alice", memberIds: ["alice"], now: T0, ringTimeoutMs: 45_000 })
        .call,
    );
  });
  livekit = new LiveKitEgressInMemory();
});

afterEach(() => db.close());

/**
 * A start on `recordings` whose egress LiveKit has created but whose answer
 * is held back until `answer.open()`; resolves once the egress exists.
 */
async function heldStart(recordings: RecordingsUseCases) {
  const answer = gate();
  livekit.startAnswers = answer.promise;
  const created = livekit.nextCreated();
  const starting = recordings.start(admin, CALL_ID, OPTIONS);
  return { answer, starting, ours: await created };
}

describe("stopOrphanedEgress", () => {
  it("keeps the egress of a start still waiting for LiveKit, even after a webhook made its recording adopt an orphan", async () => {
    const recordings = instance();
    const orphan = livekit.create(ROOM);
    const { answer, starting, ours } = await heldStart(recordings);
    // The orphan's egress_updated arrives first: the starting recording, with no egress id yet, takes it for its own.
    expect(await recordings.onEgress("wh-1", { egressId: orphan, roomName: ROOM, status: "active", error: "" })).toBe("processed");
    expect((await store.recordings.findActive(CALL_ID))?.egressId).toBe(orphan);

    expect(await recordings.stopOrphanedEgress()).toBe(0);
    expect(livekit.stopped).toEqual([]);

    answer.open();
    expect((await starting).recording.egressId).toBe(ours);
    // Now the orphan is one, and only it is stopped.
    expect(await recordings.stopOrphanedEgress()).toBe(1);
    expect(livekit.stopped).toEqual([orphan]);
    expect([...livekit.running.keys()]).toEqual([ours]);
    expect((await store.recordings.findActive(CALL_ID))?.egressId).toBe(ours);
  });

  it("a starting recording adopts only the egress writing its own file: an orphan's report (another file) is ignored", async () => {
    const recordings = instance();
    const orphan = livekit.create(ROOM);
    const { answer, starting, ours } = await heldStart(recordings);
    const fileKey = (await store.recordings.findActive(CALL_ID))?.fileKey;

    const elsewhere = { roomName: ROOM, status: "active" as const, error: "", filepath: "recordings/call-1/an-earlier-start.mp4" };
    expect(await recordings.onEgress("wh-1", { egressId: orphan, ...elsewhere })).toBe("ignored");
    expect((await store.recordings.findActive(CALL_ID))?.egressId).toBeNull();
    // Its own egress's report, before the start returned, is adopted.
    expect(await recordings.onEgress("wh-2", { egressId: ours, roomName: ROOM, status: "active", error: "", filepath: fileKey })).toBe("processed");
    expect((await store.recordings.findActive(CALL_ID))).toMatchObject({ egressId: ours, status: "recording" });

    answer.open();
    expect((await starting).recording.egressId).toBe(ours);
    expect(await recordings.stopOrphanedEgress()).toBe(1);
    expect(livekit.stopped).toEqual([orphan]);
  });

  it("keeps the egress of a start in flight on another instance sharing the store", async () => {
    const [starter, reconciler] = [instance(), instance()];
    const { answer, starting, ours } = await heldStart(starter);

    expect(await reconciler.stopOrphanedEgress()).toBe(0);
    answer.open();
    expect((await starting).recording).toMatchObject({ status: "starting", egressId: ours });
    expect(await reconciler.stopOrphanedEgress()).toBe(0);
    expect(livekit.stopped).toEqual([]);
    expect([...livekit.running.keys()]).toEqual([ours]);
  });

  it("stops the egress LiveKit started for a start that timed out here (its recording was discarded)", async () => {
    const recordings = instance();
    livekit.failNextAnswer = true;
    await expect(recordings.start(admin, CALL_ID, OPTIONS)).rejects.toThrow("LiveKit did not answer in time");
    expect((await store.recordings.findLatest(CALL_ID))).toBeUndefined();
    const [leftBehind] = livekit.running.keys();

    expect(await recordings.stopOrphanedEgress()).toBe(1);
    expect(livekit.stopped).toEqual([leftBehind]);
    // And the call can be recorded again.
    const again = await recordings.start(admin, CALL_ID, OPTIONS);
    expect(again.recording.egressId).toMatch(/^EG_/);
    expect(await recordings.stopOrphanedEgress()).toBe(0);
  });

  it("leaves egresses of rooms that are not calls' alone", async () => {
    livekit.create("someone-elses-room");
    expect(await instance().stopOrphanedEgress()).toBe(0);
    expect(livekit.stopped).toEqual([]);
  });
});
