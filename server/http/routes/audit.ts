/**
 * The audit route, mounted at `/api/v1` (admin only): `GET /api/v1/audit?limit=&cursor=`, the state-changing
 * calls newest first (in the order recorded), a page at a time.
 *
 * @module
 */
import type { AuditLog } from "../../../storage/roles.ts";
import { json } from "../errors.ts";
import { intParam, nextCursorHeaders } from "../route_helpers.ts";
import { Router } from "../router.ts";

/** The page size of `GET /api/v1/audit` without `?limit=`. */
export const DEFAULT_AUDIT_PAGE = 100;
/** The largest `?limit=` of `GET /api/v1/audit`. */
export const MAX_AUDIT_PAGE = 1_000;

/** What the audit route uses. */
export interface AuditRoutesDeps {
  storage: AuditLog;
}

/** The audit sub-app (paths under `/api/v1`). */
export function auditRoutes({ storage }: AuditRoutesDeps): Router {
  return new Router()
    .get("/audit", async ({ url }) => {
      const limit = intParam(url, "limit", DEFAULT_AUDIT_PAGE, 1, MAX_AUDIT_PAGE);
      const page = await storage.listAudit(limit, url.searchParams.get("cursor") || null);
      return json({ events: page.items, next: page.next }, 200, nextCursorHeaders(url, page.next));
    });
}
