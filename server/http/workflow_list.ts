/**
 * `GET /api/v1/workflows`: live workflows by id, paged by cursor (the last id), and with `?q=` only those
 * whose id or name contains the text (case ignored), matched here within a bound of workflows examined per
 * request (`list_scan.ts`): a page may then be short while a next cursor remains.
 *
 * @module
 */
import type { StoredWorkflow } from "../../storage/storage.ts";
import type { WorkflowService } from "../runtime/workflows.ts";
import { ApiError, json } from "./errors.ts";
import { scanFiltered } from "./list_scan.ts";
import { workflowSummary } from "./presenters.ts";
import { DEFAULT_PAGE, intParam, MAX_PAGE, nextCursorHeaders } from "./route_helpers.ts";

/** The longest `?q=`. */
const MAX_QUERY = 256;

/** Whether a workflow matches the (lower-cased) text: in its id or its name. */
function matches(w: StoredWorkflow, text: string): boolean {
  return w.id.toLowerCase().includes(text) || String(w.definition.name ?? "").toLowerCase().includes(text);
}

/** Answers `GET /api/v1/workflows` (`?limit`, `?cursor`, `?q`). */
export async function listWorkflows(workflows: WorkflowService, url: URL): Promise<Response> {
  const limit = intParam(url, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
  const cursor = url.searchParams.get("cursor");
  const q = url.searchParams.get("q") ?? "";
  if (q.length > MAX_QUERY) {
    throw new ApiError(400, "invalid_parameter", `q must be at most ${MAX_QUERY} characters`, [
      { path: "?q", message: `length ${q.length}` },
    ]);
  }
  if (q === "") {
    const page = await workflows.list(limit, cursor);
    return json(page.items.map(workflowSummary), 200, nextCursorHeaders(url, page.next));
  }
  const text = q.toLowerCase();
  const page = await scanFiltered<StoredWorkflow>((c, n) => workflows.list(n, c), {
    cursor,
    limit,
    keep: (w) => matches(w, text),
    cursorOf: (w) => w.id,
  });
  return json(page.items.map(workflowSummary), 200, nextCursorHeaders(url, page.next));
}
