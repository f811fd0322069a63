/**
 * `GET /api/v1/executions`: every execution, newest first, filtered by workflow, status, start-time window and
 * the start of the id, paged by keyset (the `(startTime, executionId)` of the last row). Every filter goes to
 * the execution index, which serves each combination through an index (`storage/execution_search.ts`); with
 * `q`, a page may be short while a next cursor remains. Mounted at `/api/v1`; the web console's runs page
 * reads it.
 *
 * @module
 */
import type { ExecutionStatus } from "../../../core/state.ts";
import type { ExecutionIndex } from "../../../storage/storage.ts";
import { ApiError, json } from "../errors.ts";
import { executionRow } from "../presenters.ts";
import { DEFAULT_PAGE, intParam, MAX_PAGE, nextCursorHeaders } from "../route_helpers.ts";
import { type RouteContext, Router } from "../router.ts";
import { searchExecutionsSpec } from "../specs/executions.ts";

/** The status words `?status=` takes (`started` is the old engine's word for `running`). */
const STATUSES = new Set(["running", "completed", "failed", "cancelled", "timed_out"]);

/** The longest `?q=` and `?workflowId=`. */
const MAX_TEXT = 256;

/** What the route reads. */
export interface ExecutionSearchDeps {
  storage: ExecutionIndex;
}

/** The filters of one request. */
interface Filters {
  workflowId?: string;
  status?: ExecutionStatus;
  /** Started at or after (epoch ms). */
  from?: number;
  /** Started at or before (epoch ms). */
  to?: number;
  /** Text the execution id starts with. */
  q?: string;
}

/** The sub-app (paths under `/api/v1`): `GET /executions`. */
export function executionSearchRoutes(deps: ExecutionSearchDeps): Router {
  return new Router().get("/executions", (ctx) => searchExecutions(deps, ctx), searchExecutionsSpec);
}

/** A text parameter, absent when empty; 400 when longer than {@link MAX_TEXT} or holding a NUL character. */
function textParam(url: URL, name: string): string | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return undefined;
  if (raw.length > MAX_TEXT) {
    throw new ApiError(400, "invalid_parameter", `${name} must be at most ${MAX_TEXT} characters`, [
      { path: `?${name}`, message: `length ${raw.length}` },
    ]);
  }
  if (raw.includes("\u0000")) { // no id holds one, and PostgreSQL's text cannot
    throw new ApiError(400, "invalid_parameter", `${name} must not contain a NUL character`, [
      { path: `?${name}`, message: `NUL at ${raw.indexOf("\u0000")}` },
    ]);
  }
  return raw;
}

/** The request's filters, or 400. */
function filtersOf(url: URL): Filters {
  const asked = textParam(url, "status");
  const status = asked === "started" ? "running" : asked;
  if (status !== undefined && !STATUSES.has(status)) {
    throw new ApiError(
      400,
      "invalid_parameter",
      `status must be one of ${[...STATUSES].join(", ")} (or started, for running)`,
      [{ path: "?status", message: `got ${JSON.stringify(asked)}` }],
    );
  }
  const time = (name: string) =>
    url.searchParams.get(name) ? intParam(url, name, 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
  const from = time("from");
  const to = time("to");
  if (from !== undefined && to !== undefined && from > to) {
    throw new ApiError(400, "invalid_parameter", "from must not be after to", [
      { path: "?from", message: `${from} > ${to}` },
    ]);
  }
  return {
    workflowId: textParam(url, "workflowId"),
    status: status as ExecutionStatus | undefined,
    from,
    to,
    q: textParam(url, "q"),
  };
}

/** `GET /api/v1/executions`: a page of executions, newest first, with the cursor headers. */
async function searchExecutions({ storage }: ExecutionSearchDeps, { url }: RouteContext): Promise<Response> {
  const filters = filtersOf(url);
  const limit = intParam(url, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
  const page = await storage.listExecutions({
    workflowId: filters.workflowId,
    status: filters.status,
    from: filters.from,
    to: filters.to,
    idPrefix: filters.q,
    limit,
    cursor: url.searchParams.get("cursor") || null,
  });
  return json(page.items.map(executionRow), 200, nextCursorHeaders(url, page.next));
}
