/**
 * `GET /api/v1/workflows`: live workflows by id, paged by cursor (the last id), and with `?q=` only those
 * whose id or name contains the text (case ignored), matched here within a bound of workflows examined per
 * request (`list_scan.ts`): a page may then be short while a next cursor remains.
 *
 * @module
 */
import type { StoredWorkflow } from "../../storage/storage.ts";
import type { WorkflowService } from "../runtime/workflows.ts";
import { json } from "./errors.ts";
import { scanFiltered } from "./list_scan.ts";
import { workflowSummary } from "./presenters.ts";
import { nextCursorHeaders } from "./route_helpers.ts";

/** Whether a workflow matches the (lower-cased) text: in its id or its name. */
function matches(w: StoredWorkflow, text: string): boolean {
  return w.id.toLowerCase().includes(text) || String(w.definition.name ?? "").toLowerCase().includes(text);
}

/** What a listing asks for: `?limit`, `?cursor`, `?q` (checked by the route's spec, `specs/workflows.ts`). */
export interface WorkflowListQuery {
  limit: number;
  cursor?: string;
  q?: string;
}

/** Answers `GET /api/v1/workflows`. */
export async function listWorkflows(
  workflows: WorkflowService,
  url: URL,
  query: WorkflowListQuery,
): Promise<Response> {
  const { limit } = query;
  const cursor = query.cursor ?? null;
  const q = query.q ?? "";
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
