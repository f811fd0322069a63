/**
 * The audit route, mounted at `/api/v1` (admin only): `GET /api/v1/audit?limit=&cursor=`, the state-changing
 * calls newest first (in the order recorded), a page at a time.
 *
 * @module
 */
import type { AuditLog } from "../../../storage/roles.ts";
import { json } from "../errors.ts";
import { nextCursorHeaders } from "../route_helpers.ts";
import { Router } from "../router.ts";
import { auditSpec } from "../specs/system.ts";

export { DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE } from "../specs/system.ts";

/** What the audit route uses. */
export interface AuditRoutesDeps {
  storage: AuditLog;
}

/** The audit sub-app (paths under `/api/v1`). */
export function auditRoutes({ storage }: AuditRoutesDeps): Router {
  return new Router()
    .get("/audit", async ({ url, query }) => {
      const page = await storage.listAudit(query.limit, query.cursor ?? null);
      return json({ events: page.items, next: page.next }, 200, nextCursorHeaders(url, page.next));
    }, auditSpec);
}
