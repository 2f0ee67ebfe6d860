import type { Statement } from "better-sqlite3";
import type { DirectoryRepository, RoomMember, TenantPolicy } from "../../app/ports.js";
import type { Membership } from "../../domain/permissions.js";
import type { SqliteDatabase } from "./database.js";

/** Recordings are off until a tenant's policy turns them on. */
const DEFAULT_POLICY: TenantPolicy = { recordingsEnabled: false, transcriptionEnabled: false };

export class SqliteDirectoryRepository implements DirectoryRepository {
  private readonly stmt: {
    selectMember: Statement<[string, string, string], { power_level: number }>;
    selectMemberIds: Statement<[string, string], { user_id: string }>;
    upsertRoom: Statement<[string, string, number]>;
    deleteMembers: Statement<[string, string]>;
    upsertMember: Statement<[string, string, string, number]>;
    deleteMember: Statement<[string, string, string]>;
    upsertPolicy: Statement<[string, number, number, number]>;
    selectPolicy: Statement<[string], { recordings_enabled: number; transcription_enabled: number }>;
  };

  constructor(
    db: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    this.stmt = {
      selectMember: db.prepare(
        "SELECT power_level FROM room_members WHERE tenant_id = ? AND room_id = ? AND user_id = ?",
      ),
      selectMemberIds: db.prepare(
        "SELECT user_id FROM room_members WHERE tenant_id = ? AND room_id = ? ORDER BY user_id",
      ),
      upsertRoom: db.prepare(
        `INSERT INTO rooms (tenant_id, room_id, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id, room_id) DO UPDATE SET updated_at = excluded.updated_at`,
      ),
      deleteMembers: db.prepare("DELETE FROM room_members WHERE tenant_id = ? AND room_id = ?"),
      upsertMember: db.prepare(
        `INSERT INTO room_members (tenant_id, room_id, user_id, power_level) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant_id, room_id, user_id) DO UPDATE SET power_level = excluded.power_level`,
      ),
      deleteMember: db.prepare("DELETE FROM room_members WHERE tenant_id = ? AND room_id = ? AND user_id = ?"),
      upsertPolicy: db.prepare(
        `INSERT INTO tenant_policies (tenant_id, recordings_enabled, transcription_enabled, updated_at)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET recordings_enabled = excluded.recordings_enabled,
           transcription_enabled = excluded.transcription_enabled, updated_at = excluded.updated_at`,
      ),
      selectPolicy: db.prepare(
        "SELECT recordings_enabled, transcription_enabled FROM tenant_policies WHERE tenant_id = ?",
      ),
    };
  }

  findMember(tenantId: string, roomId: string, userId: string): Promise<Membership | undefined> {
    const row = this.stmt.selectMember.get(tenantId, roomId, userId);
    return Promise.resolve(row && { userId, powerLevel: row.power_level });
  }

  listMemberIds(tenantId: string, roomId: string): Promise<string[]> {
    return Promise.resolve(this.stmt.selectMemberIds.all(tenantId, roomId).map((r) => r.user_id));
  }

  putRoom(tenantId: string, roomId: string, members: readonly RoomMember[]): Promise<void> {
    this.stmt.upsertRoom.run(tenantId, roomId, this.now());
    this.stmt.deleteMembers.run(tenantId, roomId);
    for (const m of members) this.stmt.upsertMember.run(tenantId, roomId, m.userId, m.powerLevel);
    return Promise.resolve();
  }

  putMember(tenantId: string, roomId: string, member: RoomMember): Promise<void> {
    this.stmt.upsertRoom.run(tenantId, roomId, this.now());
    this.stmt.upsertMember.run(tenantId, roomId, member.userId, member.powerLevel);
    return Promise.resolve();
  }

  removeMember(tenantId: string, roomId: string, userId: string): Promise<void> {
    this.stmt.deleteMember.run(tenantId, roomId, userId);
    return Promise.resolve();
  }

  putTenantPolicy(tenantId: string, policy: TenantPolicy): Promise<void> {
    this.stmt.upsertPolicy.run(tenantId, policy.recordingsEnabled ? 1 : 0, policy.transcriptionEnabled ? 1 : 0, this.now());
    return Promise.resolve();
  }

  getTenantPolicy(tenantId: string): Promise<TenantPolicy> {
    const row = this.stmt.selectPolicy.get(tenantId);
    if (!row) return Promise.resolve(DEFAULT_POLICY);
    return Promise.resolve({ recordingsEnabled: row.recordings_enabled === 1, transcriptionEnabled: row.transcription_enabled === 1 });
  }
}
