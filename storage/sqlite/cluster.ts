/**
 * The cluster roles in the SQLite store: the registry (`members`, upserted by each heartbeat with
 * `joined_at` kept from the first; `cluster_meta`, write-once keys) and the cluster event log
 * (`cluster_events`, newest first by its serial id). A SQLite store serves one node, but keeps them all
 * the same.
 *
 * @module
 */
import type { MemberRecord } from "../../core/cluster.ts";
import type { ClusterEvent } from "../records.ts";
import type { ClusterEventLog, ClusterRegistry } from "../roles.ts";
import type { SqliteContext } from "./context.ts";
import { type MemberRow, toMember } from "./rows.ts";

/** The `ClusterRegistry` role over SQLite. */
export class SqliteClusterRegistry implements ClusterRegistry {
  constructor(private readonly ctx: SqliteContext) {}

  claimClusterMeta(key: string, value: string): Promise<string> {
    return this.ctx.write(() => {
      this.ctx.db.run(
        "insert into cluster_meta (key, value) values (?, ?) on conflict (key) do nothing",
        key,
        value,
      );
      return this.ctx.db.get<{ value: string }>("select value from cluster_meta where key = ?", key)!.value;
    });
  }

  heartbeat(m: MemberRecord): Promise<void> {
    return this.ctx.run(() => {
      this.ctx.db.run(
        `insert into members (id, address, http_address, roles, joined_at, heartbeat_at, leaving)
          values (?, ?, ?, ?, ?, ?, ?)
          on conflict (id) do update set address = excluded.address, http_address = excluded.http_address,
            roles = excluded.roles, heartbeat_at = excluded.heartbeat_at, leaving = excluded.leaving`,
        m.id,
        m.address,
        m.httpAddress,
        m.roles.join(","),
        m.joinedAt,
        m.heartbeatAt,
        m.leaving ? 1 : 0,
      );
    });
  }

  listMembers(): Promise<MemberRecord[]> {
    return this.ctx.run(() => this.ctx.db.all<MemberRow>("select * from members order by id").map(toMember));
  }

  removeMember(id: string): Promise<void> {
    return this.ctx.run(() => {
      this.ctx.db.run("delete from members where id = ?", id);
    });
  }
}

/** The `ClusterEventLog` role over SQLite. */
export class SqliteClusterEventLog implements ClusterEventLog {
  constructor(private readonly ctx: SqliteContext) {}

  appendClusterEvent(e: ClusterEvent): Promise<void> {
    return this.ctx.run(() => {
      this.ctx.db.run(
        "insert into cluster_events (at, type, node, details) values (?, ?, ?, ?)",
        e.at,
        e.type,
        e.node,
        JSON.stringify(e.details),
      );
    });
  }

  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]> {
    return this.ctx.run(() => {
      type Row = { at: number; type: string; node: string; details: string };
      const rows = type === undefined
        ? this.ctx.db.all<Row>(
          "select at, type, node, details from cluster_events order by id desc limit ?",
          limit,
        )
        : this.ctx.db.all<Row>(
          "select at, type, node, details from cluster_events where type = ? order by id desc limit ?",
          type,
          limit,
        );
      return rows.map((r) => ({ at: r.at, type: r.type, node: r.node, details: JSON.parse(r.details) }));
    });
  }

  trimClusterEvents(keep: number): Promise<void> {
    return this.ctx.run(() => {
      this.ctx.db.run(
        "delete from cluster_events where id <= (select id from cluster_events order by id desc limit 1 offset ?)",
        keep,
      );
    });
  }
}
