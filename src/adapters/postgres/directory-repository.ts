import type { DirectoryRepository, RoomMember, TenantPolicy } from "../../app/ports.js";
import type { Membership } from "../../domain/permissions.js";
import type { Queryable } from "./queryable.js";

/** Recordings are off until a tenant's policy turns them on. */
const DEFAULT_POLICY: TenantPolicy = { recordingsEnabled: false, transcriptionEnabled: false };

export class PostgresDirectoryRepository implements DirectoryRepository {
  constructor(
    private readonly db: Queryable,
    private readonly now: () => number,
  ) {}

  async findMember(tenantId: string, roomId: string, userId: string): Promise<Membership | undefined> {
    const { rows } = await this.db.query<{ power_level: number }>(
      "SELECT power_level FROM room_members WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3",
      [tenantId, roomId, userId],
    );
    return rows[0] && { userId, powerLevel: rows[0].power_level };
  }

  async listMemberIds(tenantId: string, roomId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ user_id: string }>(
      "SELECT user_id FROM room_members WHERE tenant_id = $1 AND room_id = $2 ORDER BY user_id",
      [tenantId, roomId],
    );
    return rows.map((r) => r.user_id);
  }

  async putRoom(tenantId: string, roomId: string, members: readonly RoomMember[]): Promise<void> {
    await this.upsertRoom(tenantId, roomId);
    await this.db.query("DELETE FROM room_members WHERE tenant_id = $1 AND room_id = $2", [tenantId, roomId]);
    if (members.length === 0) return;
    await this.db.query(
      `INSERT INTO room_members (tenant_id, room_id, user_id, power_level)
       SELECT $1, $2, * FROM unnest($3::text[], $4::int[])`,
      [tenantId, roomId, members.map((m) => m.userId), members.map((m) => m.powerLevel)],
    );
  }

  async putMember(tenantId: string, roomId: string, member: RoomMember): Promise<void> {
    await this.upsertRoom(tenantId, roomId);
    await this.db.query(
      `INSERT INTO room_members (tenant_id, room_id, user_id, power_level) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, room_id, user_id) DO UPDATE SET power_level = excluded.power_level`,
      [tenantId, roomId, member.userId, member.powerLevel],
    );
  }

  async removeMember(tenantId: string, roomId: string, userId: string): Promise<void> {
    await this.db.query("DELETE FROM room_members WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3", [tenantId, roomId, userId]);
  }

  async putTenantPolicy(tenantId: string, policy: TenantPolicy): Promise<void> {
    await this.db.query(
      `INSERT INTO tenant_policies (tenant_id, recordings_enabled, transcription_enabled, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET recordings_enabled = excluded.recordings_enabled,
         transcription_enabled = excluded.transcription_enabled, updated_at = excluded.updated_at`,
      [tenantId, policy.recordingsEnabled, policy.transcriptionEnabled, this.now()],
    );
  }

  async getTenantPolicy(tenantId: string): Promise<TenantPolicy> {
    const { rows } = await this.db.query<{ recordings_enabled: boolean; transcription_enabled: boolean }>(
      "SELECT recordings_enabled, transcription_enabled FROM tenant_policies WHERE tenant_id = $1",
      [tenantId],
    );
    const row = rows[0];
    return row ? { recordingsEnabled: row.recordings_enabled, transcriptionEnabled: row.transcription_enabled } : DEFAULT_POLICY;
  }

  private async upsertRoom(tenantId: string, roomId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO rooms (tenant_id, room_id, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, room_id) DO UPDATE SET updated_at = excluded.updated_at`,
      [tenantId, roomId, this.now()],
    );
  }
}
