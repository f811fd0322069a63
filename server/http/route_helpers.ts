/**
 * What the route handlers share: query parameters, paging by cursor, the
 * statuses of engine errors, and the lookups that answer 404.
 *
 * @module
 */
import type { ExecutionView } from "../../core/view.ts";
import type { ExecutionIndex, StoredWorkflow } from "../../storage/storage.ts";
import type { Engine, EngineError } from "../runtime/engine.ts";
import type { WorkflowService } from "../runtime/workflows.ts";
import { ApiError } from "./errors.ts";
import { workflowStatusBody } from "./presenters.ts";

/** The page size of a list without `?limit=`. */
export const DEFAULT_PAGE = 50;
/** The largest `?limit=` of a list. */
export const MAX_PAGE = 500;

/** The HTTP status of each engine error. */
const ENGINE_STATUS: Record<EngineError["code"], number> = {
  already_started: 409,
  not_started: 409,
  execution_terminal: 409,
  unknown_node: 404,
  signal_unknown: 404,
  execution_not_found: 404,
  node_not_found: 404,
  idempotency_mismatch: 422,
  overloaded: 503,
  not_owner: 503,
  conflict: 409,
  execution_exists: 409,
  workflow_changed: 409,
  tick_recorded: 409,
  schedule_changed: 409,
  already_paused: 409,
  not_paused: 409,
  not_queued: 409,
  execution_running: 409,
  execution_not_failed: 409,
  node_unknown: 404,
  migration_refused: 409,
  history_too_large: 409,
  parent_waiting: 409,
  version_not_found: 404,
  concurrency_key_invalid: 400,
};

/** The ApiError of an engine error (a 503 says to retry after 1 s). */
export function engineError(error: EngineError): ApiError {
  const status = ENGINE_STATUS[error.code];
  if (error.code === "idempotency_mismatch") {
    return new ApiError(status, error.code, error.message, [
      { path: "headers.Idempotency-Key", message: `the key belongs to execution ${error.executionId}` },
    ]);
  }
  // A rejection that names the fault in the request (`$.fromNode`), or several (a refused migration).
  const details = "details" in error && error.details !== undefined
    ? error.details
    : "path" in error && error.path !== undefined
    ? [{ path: error.path, message: error.message }]
    : [];
  const headers: Record<string, string> = status === 503 ? { "retry-after": "1" } : {};
  return new ApiError(status, error.code, error.message, details, headers);
}

/** The integer query parameter `name` (`fallback` when absent or empty), or 400 outside `min`..`max`. */
export function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ApiError(400, "invalid_parameter", `${name} must be an integer from ${min} to ${max}`, [
      { path: `?${name}`, message: `got ${JSON.stringify(raw)}` },
    ]);
  }
  return n;
}

/** The headers that point to a list's next page (`x-next-cursor` and a `Link`), none on the last page. */
export function nextCursorHeaders(url: URL, next: string | null): Record<string, string> {
  if (next === null) return {};
  const link = new URL(url);
  link.searchParams.set("cursor", next);
  return { "x-next-cursor": next, link: `<${link.pathname}${link.search}>; rel="next"` };
}

/** The latest version of workflow `id`, or 404. */
export async function workflowOr404(workflows: WorkflowService, id: string): Promise<StoredWorkflow> {
  const w = await workflows.get(id);
  if (!w) throw new ApiError(404, "workflow_not_found", `no workflow ${id}`);
  return w;
}

/** The view of execution `executionId`, or 404. */
export async function viewOr404(engine: Engine, executionId: string): Promise<ExecutionView> {
  const v = await engine.view(executionId);
  if (!v) throw new ApiError(404, "execution_not_found", `no execution ${executionId}`);
  return v;
}

/** The state of workflow `workflowId` from the execution index (404 for an unknown workflow). */
export async function workflowStatus(
  workflows: WorkflowService,
  storage: ExecutionIndex,
  workflowId: string,
) {
  await workflowOr404(workflows, workflowId);
  const [count, running, recent] = await Promise.all([
    storage.countExecutions(workflowId),
    storage.listExecutions({ workflowId, status: "running", limit: 1 }),
    storage.listExecutions({ workflowId, limit: 20 }),
  ]);
  return workflowStatusBody(workflowId, count, running.items[0] ?? null, recent.items);
}
