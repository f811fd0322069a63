/**
 * The audit log over SQL: `audit_events`, newest first by its serial id (the order recorded), paged by that
 * id and trimmed to the newest N.
 *
 * @module
 */
import { sql } from "npm:kysely@0.29.9";
import type { AuditEvent, AuditOutcome } from "../access_records.ts";
import type { Page } from "../records.ts";
import type { AuditLog } from "../roles.ts";
import { decodeAuditCursor, encodeAuditCursor } from "../storage.ts";
import type { SqlContext } from "./context.ts";
import { num } from "./rows.ts";

/** The `AuditLog` role over SQL. */
export class SqlAuditLog implements AuditLog {
  constructor(private readonly ctx: SqlContext) {}

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.ctx.run(async () => {
      await this.ctx.db.insertInto("audit_events").values(events.map((e) => ({
        at: e.at,
        node: e.node,
        token_id: e.tokenId,
        role: e.role,
        method: e.method,
        route: e.route,
        path: e.path,
        status: e.status,
        outcome: e.outcome,
        request_id: e.requestId,
      }))).execute();
    });
  }

  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>> {
    return this.ctx.run(async () => {
      const before = cursor == null ? undefined : decodeAuditCursor(cursor);
      let q = this.ctx.db.selectFrom("audit_events").selectAll().orderBy("id", "desc").limit(limit + 1);
      if (before !== undefined) q = q.where("id", "<", before);
      const rows = await q.execute();
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({
          at: num(r.at as string | number),
          node: r.node,
          tokenId: r.token_id,
          role: r.role,
          method: r.method,
          route: r.route,
          path: r.path,
          status: r.status,
          outcome: r.outcome as AuditOutcome,
          requestId: r.request_id,
        })),
        next: rows.length > limit ? encodeAuditCursor(num(page.at(-1)!.id as string | number)) : null,
      };
    });
  }

  trimAudit(keep: number): Promise<void> {
    return this.ctx.run(async () => {
      await sql`delete from audit_events where id <= (
        select id from audit_events order by id desc offset ${keep} limit 1)`.execute(this.ctx.db);
    });
  }
}
