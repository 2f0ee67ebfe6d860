import { mediaChanged, mediaJoined, mediaLeft, roomFinished, type Call } from "../domain/call.js";
import { liveKitRoomName } from "../domain/ids.js";
import type { CallsUseCases } from "./calls.js";
import type { RecordingsUseCases } from "./recordings.js";
import type { Clock, LiveKitRooms, Logger, Store } from "./ports.js";

export interface ReconcilerDeps {
  readonly store: Store;
  readonly useCases: CallsUseCases;
  /** Also asked to stop egresses no recording owns. */
  readonly recordings?: RecordingsUseCases;
  readonly rooms: LiveKitRooms;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * A participant who joined through the API but was never seen in LiveKit
   * is kept this long (they may still be connecting) before counting as gone.
   */
  readonly joinGraceMs: number;
}

/**
 * Webhooks can be lost (LiveKit drops events older than 30 s and promises no
 * delivery), so every live call is compared with what LiveKit reports and
 * repaired: ghosts removed, missed joins added, media state corrected, calls
 * whose room is gone ended. Repairs go through the same transitions as
 * webhooks, so they emit the same events. If LiveKit cannot be asked, nothing
 * is changed. One pass per interval runs for the whole cluster (a claimed
 * periodic job, see ClusterSchedule).
 */
export class Reconciler {
  private running: Promise<number> | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Resolves when no pass is running (shutdown waits for it). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** One pass over every live call; returns how many calls it changed. Passes never overlap. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    const { store, rooms, logger, clock } = this.deps;
    // LiveKit retries a webhook within seconds and drops it after 30 s: an hour of ids is plenty.
    await store.transaction((tx) => tx.webhooks.prune(clock.now() - 60 * 60 * 1000));
    // Live calls first, rooms second: every call's room was created before the call was stored.
    const live = await store.calls.listLiveCalls();
    if (live.length === 0) return 0;
    let roomNames: Set<string>;
    try {
      roomNames = await rooms.listRoomNames();
    } catch (err) {
      logger.warn({ err }, "reconcile skipped: LiveKit did not list its rooms");
      return 0;
    }
    let repaired = 0;
    for (const call of live) {
      try {
        if (await this.reconcile(call, roomNames)) repaired++;
      } catch (err) {
        logger.warn({ err, callId: call.id }, "reconcile of a call failed; the next pass retries");
      }
    }
    if (repaired > 0) logger.info({ repaired }, "reconcile repaired calls that drifted from LiveKit");
    await this.deps.recordings?.stopOrphanedEgress().catch((err: unknown) => {
      logger.warn({ err }, "could not check LiveKit's egresses for orphans");
    });
    return repaired;
  }

  /** Returns whether anything changed. */
  private async reconcile(call: Call, roomNames: ReadonlySet<string>): Promise<boolean> {
    const { useCases, rooms, store, clock, joinGraceMs } = this.deps;
    const room = liveKitRoomName(call.id);
    const before = JSON.stringify(call);
    if (!roomNames.has(room)) {
      await useCases.applyReport(call.tenantId, call.id, (c) => roomFinished(c, clock.now()));
      return true;
    }
    const inLiveKit = [];
    for (const p of await rooms.listParticipants(room)) {
      if (await store.directory.findMember(call.tenantId, call.roomId, p.identity)) inLiveKit.push(p);
    }
    let current = call;
    for (const p of inLiveKit) {
      // One change per participant: joined (if new) and media state as LiveKit lists it.
      const applied = await useCases.applyReport(call.tenantId, call.id, (c) => {
        const joined = mediaJoined(c, p.identity, p.sid, clock.now());
        const media = mediaChanged(joined.call, p.identity, { audioOn: p.audioOn, videoOn: p.videoOn });
        return { call: media.call, events: [...joined.events, ...media.events] };
      });
      current = applied.call ?? current;
    }
    const present = new Set(inLiveKit.map((p) => p.identity));
    for (const p of current.participants) {
      if (present.has(p.userId)) continue;
      const wasConnected = p.livekitSid !== null;
      if (!wasConnected && clock.now() - p.joinedAt < joinGraceMs) continue;
      current = (await useCases.applyReport(call.tenantId, call.id, (c) => mediaLeft(c, p.userId, null, clock.now(), clock.now()))).call ?? current;
    }
    return JSON.stringify(current) !== before;
  }
}
