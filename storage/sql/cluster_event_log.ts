/**
 * The cluster event log over SQL: `cluster_events`, newest first by its serial id
 * (the order of appends, not of the events' own times).
 *
 * @module
 */
import { sql } from "npm:kysely@0.29.9";
import type { ClusterEvent } from "../records.ts";
import type { ClusterEventLog } from "../roles.ts";
import type { SqlContext } from "./context.ts";
import { num } from "./rows.ts";

/** The `ClusterEventLog` role over SQL. */
export class SqlClusterEventLog implements ClusterEventLog {
  constructor(private readonly ctx: SqlContext) {}

  appendClusterEvent(e: ClusterEvent): Promise<void> {
    return this.ctx.run(async () => {
      await this.ctx.db.insertInto("cluster_events").values({
        at: e.at,
        type: e.type,
        node: e.node,
        details: e.details,
      })
        .execute();
    });
  }

  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]> {
    return this.ctx.run(async () => {
      let q = this.ctx.db.selectFrom("cluster_events").select(["at", "type", "node", "details"])
        .orderBy("id", "desc").limit(limit);
      if (type !== undefined) q = q.where("type", "=", type);
      return (await q.execute()).map((r) => ({
        at: num(r.at as string | number),
        type: r.type,
        node: r.node,
        details: r.details as Record<string, unknown>,
      }));
    });
  }

  trimClusterEvents(keep: number): Promise<void> {
    return this.ctx.run(async () => {
      await sql`delete from cluster_events where id <= (
        select id from cluster_events order by id desc offset ${keep} limit 1)`.execute(this.ctx.db);
    });
  }
}
