import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { newCallId } from "../../src/domain/ids.js";

/**
 * Writes rooms, members and calls straight into a fresh store file (with the
 * service's own migrations), so a scenario can start with a million calls
 * without a million API requests. No outbox rows are written: seeded calls
 * announce nothing.
 */
export class StoreSeeder {
  private readonly db;
  private readonly insertRoom;
  private readonly insertMember;
  private readonly insertCall;
  private readonly insertParticipant;
  private readonly startedAt = Date.now() - 24 * 3600 * 1000;
  private nextCallMs = this.startedAt;

  constructor(
    path: string,
    private readonly tenantId: string,
  ) {
    this.db = openDatabase(path);
    // Bulk load: nobody reads this file until the seed is done.
    this.db.pragma("synchronous = OFF");
    this.insertRoom = this.db.prepare("INSERT OR IGNORE INTO rooms (tenant_id, room_id, updated_at) VALUES (?, ?, ?)");
    this.insertMember = this.db.prepare(
      "INSERT OR IGNORE INTO room_members (tenant_id, room_id, user_id, power_level) VALUES (?, ?, ?, ?)",
    );
    this.insertCall = this.db.prepare(
      `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ring_deadline)
       VALUES (?, ?, ?, 'audio', ?, ?, ?, ?, ?, 0)`,
    );
    this.insertParticipant = this.db.prepare(
      "INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid) VALUES (?, ?, ?, 1, 0, NULL)",
    );
  }

  /** A room whose members are `users`; the first one is its moderator (power 100). */
  room(roomId: string, users: readonly string[]): void {
    this.insertRoom.run(this.tenantId, roomId, this.startedAt);
    users.forEach((user, i) => this.insertMember.run(this.tenantId, roomId, user, i === 0 ? 100 : 0));
  }

  /**
   * A call in `roomId` started by `initiator`, with `participants` in it;
   * live (active) or ended. Ids are time-ordered like the service's own.
   */
  call(roomId: string, initiator: string, participants: readonly string[], live: boolean): string {
    const startedAt = ++this.nextCallMs;
    const id = newCallId(startedAt);
    this.insertCall.run(id, this.tenantId, roomId, live ? "active" : "ended", initiator, startedAt, live ? null : startedAt + 60_000, live ? null : "all_left");
    for (const user of participants) this.insertParticipant.run(id, user, startedAt);
    return id;
  }

  /** Runs `fill` in one transaction (a million rows in seconds rather than hours). */
  batch(fill: () => void): void {
    this.db.transaction(fill)();
  }

  close(): void {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }
}
