/**
 * The cluster registry over SQL: `members` (one row per member, upserted by each
 * heartbeat, `joined_at` kept from the first) and `cluster_meta` (write-once keys).
 *
 * @module
 */
import type { MemberRecord, Role } from "../../core/cluster.ts";
import type { ClusterRegistry } from "../roles.ts";
import type { SqlContext } from "./context.ts";
import { num } from "./rows.ts";

/** The `ClusterRegistry` role over SQL. */
export class SqlClusterRegistry implements ClusterRegistry {
  constructor(private readonly ctx: SqlContext) {}

  claimClusterMeta(key: string, value: string): Promise<string> {
    return this.ctx.run(async () => {
      await this.ctx.db.insertInto("cluster_meta").values({ key, value: { value } })
        .onConflict((oc) => oc.column("key").doNothing()).execute();
      const r = await this.ctx.db.selectFrom("cluster_meta").select("value").where("key", "=", key)
        .executeTakeFirstOrThrow();
      return (r.value as { value: string }).value;
    });
  }

  heartbeat(m: MemberRecord): Promise<void> {
    return this.ctx.run(async () => {
      await this.ctx.db.insertInto("members").values({
        id: m.id,
        address: m.address,
        http_address: m.httpAddress,
        roles: m.roles.join(","),
        joined_at: m.joinedAt,
        heartbeat_at: m.heartbeatAt,
        leaving: m.leaving,
      }).onConflict((oc) =>
        oc.column("id").doUpdateSet({
          address: m.address,
          http_address: m.httpAddress,
          roles: m.roles.join(","),
          heartbeat_at: m.heartbeatAt,
          leaving: m.leaving,
        })
      ).execute();
    });
  }

  listMembers(): Promise<MemberRecord[]> {
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("members").selectAll().orderBy("id").execute()).map((r) => ({
        id: r.id,
        address: r.address,
        httpAddress: r.http_address,
        roles: r.roles === "" ? [] : r.roles.split(",") as Role[],
        joinedAt: num(r.joined_at as string | number),
        heartbeatAt: num(r.heartbeat_at as string | number),
        leaving: r.leaving,
      }))
    );
  }

  removeMember(id: string): Promise<void> {
    return this.ctx.run(async () => {
      await this.ctx.db.deleteFrom("members").where("id", "=", id).execute();
    });
  }
}
