import { openDatabase } from "../../src/adapters/sqlite/database.js";
import { newCallId } from "../../src/domain/ids.js";

/** What a seeded call may add to the default tenant and a clean end. */
export interface CallExtras {
  /** Members it rang who never answered: invitees left `missed`, unseen in their history. */
  readonly missed?: readonly string[];
  /** Another tenant than the seeder's. */
  readonly tenantId?: string;
}

/**
 * Writes rooms, members and calls straight into a fresh store file (with the
 * service's own migrations), as the service itself would have left them, so
 * a scenario can start with a million calls without a million API requests.
 * No outbox rows are written: seeded calls announce nothing.
 */
export class StoreSeeder {
  private readonly db;
  private readonly insertRoom;
  private readonly insertMember;
  private readonly insertCall;
  private readonly insertParticipant;
  private readonly insertMissedInvitee;
  private readonly insertParty;
  private readonly startedAt = Date.now() - 24 * 3600 * 1000;
  private nextCallMs = this.startedAt;

  constructor(
    path: string,
    private readonly tenantId: string,
  ) {
    this.db = openDatabase(path);
    // Bulk load: nobody reads this file until the seed is done. A page cache
    // that holds the indexes being filled (256 MiB): with the default 2 MiB
    // a million calls' inserts go to the OS page by page, and take ~1.7× as long.
    this.db.pragma("synchronous = OFF");
    this.db.pragma("cache_size = -262144");
    this.insertRoom = this.db.prepare("INSERT OR IGNORE INTO rooms (tenant_id, room_id, updated_at) VALUES (?, ?, ?)");
    this.insertMember = this.db.prepare(
      "INSERT OR IGNORE INTO room_members (tenant_id, room_id, user_id, power_level) VALUES (?, ?, ?, ?)",
    );
    // Seeded calls are active (nobody ringing) or ended: nothing of them rings out, so next_ring_at is NULL.
    this.insertCall = this.db.prepare(
      `INSERT INTO calls (id, tenant_id, room_id, type, status, initiator_id, started_at, ended_at, end_reason, ring_deadline, next_ring_at)
       VALUES (?, ?, ?, 'audio', ?, ?, ?, ?, ?, 0, NULL)`,
    );
    this.insertParticipant = this.db.prepare(
      "INSERT INTO call_participants (call_id, user_id, joined_at, audio_on, video_on, livekit_sid) VALUES (?, ?, ?, 1, 0, NULL)",
    );
    this.insertMissedInvitee = this.db.prepare(
      "INSERT INTO call_invitees (call_id, user_id, state, changed_at, ring_deadline) VALUES (?, ?, 'missed', ?, NULL)",
    );
    this.insertParty = this.db.prepare(
      "INSERT INTO call_parties (call_id, user_id, tenant_id, started_at, joined, missed_unseen) VALUES (?, ?, ?, ?, ?, ?)",
    );
  }

  /** A room whose members are `users`; the first one is its moderator (power 100). */
  room(roomId: string, users: readonly string[], tenantId = this.tenantId): void {
    this.insertRoom.run(tenantId, roomId, this.startedAt);
    users.forEach((user, i) => this.insertMember.run(tenantId, roomId, user, i === 0 ? 100 : 0));
  }

  /**
   * A call in `roomId` started by `initiator`, which `joined` (the initiator
   * among them) joined; live (active) or ended. A live call has them as
   * participants; an ended one has none left, as the service leaves it. Either
   * way each of them, and each member it rang who `missed` it, has the call in
   * their history (call_parties). Ids are time-ordered like the service's own.
   */
  call(roomId: string, initiator: string, joined: readonly string[], live: boolean, extras: CallExtras = {}): string {
    const { missed = [], tenantId = this.tenantId } = extras;
    const startedAt = ++this.nextCallMs;
    const endedAt = live ? null : startedAt + 60_000;
    // Rang, and only the initiator ever came: nobody answered.
    const endReason = live ? null : missed.length > 0 && joined.length <= 1 ? "no_answer" : "all_left";
    const id = newCallId(startedAt);
    this.insertCall.run(id, tenantId, roomId, live ? "active" : "ended", initiator, startedAt, endedAt, endReason);
    for (const user of joined) {
      if (live) this.insertParticipant.run(id, user, startedAt);
      this.insertParty.run(id, user, tenantId, startedAt, 1, 0);
    }
    for (const user of missed) {
      this.insertMissedInvitee.run(id, user, endedAt ?? startedAt);
      this.insertParty.run(id, user, tenantId, startedAt, 0, 1);
    }
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
