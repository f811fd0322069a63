/**
 * A workflow's versions, mounted with the workflow routes at `/api/v1/workflows`: the list of its stored
 * versions (`/:id/versions`), one version's definition (`/:id/versions/:version`) and what changed between two
 * versions (`/:id/diff?from=&to=`). Every update stores a new immutable version; these routes read them.
 *
 * Like `GET /api/v1/workflows/:id?version=n`, they serve the versions of a deleted workflow too (storage keeps
 * them for its executions): only an id never stored is 404 `workflow_not_found`; a version it does not have is
 * 404 `version_not_found`.
 *
 * @module
 */
import { diffDefinitions } from "../../../core/workflow_diff.ts";
import type { StoredWorkflow } from "../../../storage/storage.ts";
import type { WorkflowService } from "../../runtime/workflows.ts";
import { ApiError, json } from "../errors.ts";
import { redactDefinition, redactText } from "../redaction.ts";
import { nextCursorHeaders } from "../route_helpers.ts";
import { Router } from "../router.ts";
import { diffSpec, getVersionSpec, listVersionsSpec } from "../specs/workflows.ts";
import { versionNotFound } from "../versions.ts";

/** What the version routes use. */
export interface WorkflowVersionRoutesDeps {
  workflows: WorkflowService;
}

/**
 * The version sub-app (paths under `/api/v1/workflows`).
 *
 * @example
 * ```ts
 * import { workflowVersionRoutes } from "./workflow_versions.ts";
 * import { WorkflowService } from "../../runtime/workflows.ts";
 * import { MemoryStorage } from "../../../storage/memory.ts";
 *
 * const workflows = new WorkflowService(new MemoryStorage(), () => 1);
 * await workflows.create({ id: "w", name: "W", edges: [],
 *   nodes: [{ id: "s", type: "source", nodeType: "sequence.numbers", config: {} }] });
 * const app = workflowVersionRoutes({ workflows });
 * const { handler, params } = app.match("GET", new URL("http://x/w/versions"));
 * const res = await handler({ req: new Request("http://x/w/versions"), url: new URL("http://x/w/versions"), params });
 * const [v1] = await res.json();
 * if (v1.version !== 1 || v1.nodeCount !== 1) throw new Error(JSON.stringify(v1));
 * ```
 */
export function workflowVersionRoutes({ workflows }: WorkflowVersionRoutesDeps): Router {
  return new Router()
    .get("/:id/versions", async ({ params, url, query }) => {
      const [latest, page] = await Promise.all([
        workflows.latestVersion(params.id),
        workflows.versions(params.id, query.limit, query.cursor ?? null),
      ]);
      if (latest === 0) throw new ApiError(404, "workflow_not_found", `no workflow ${params.id}`);
      const items = page.items.map((v) => ({
        version: v.version,
        name: redactText(v.name),
        hash: v.hash,
        createdAt: v.createdAt,
        nodeCount: v.nodeCount,
        edgeCount: v.edgeCount,
      }));
      return json(items, 200, nextCursorHeaders(url, page.next));
    }, listVersionsSpec)
    .get("/:id/versions/:version", async ({ params }) => {
      const w = await versionOr404(workflows, params.id, params.version, "path.version");
      return json(redactDefinition(w.definition), 200, { "x-workflow-version": String(w.version) });
    }, getVersionSpec)
    .get("/:id/diff", async ({ params, query: { from, to } }) => {
      const [a, b] = await Promise.all([
        versionOr404(workflows, params.id, from, "?from"),
        versionOr404(workflows, params.id, to, "?to"),
      ]);
      return json({ workflowId: params.id, from, to, ...diffDefinitions(a.definition, b.definition) });
    }, diffSpec);
}

/**
 * Version `version` of workflow `id`, deleted or not; 404 `workflow_not_found` for an id never stored, else
 * 404 `version_not_found` (its detail at `path`) when it has no such version.
 */
export async function versionOr404(
  workflows: WorkflowService,
  id: string,
  version: number,
  path: string,
): Promise<StoredWorkflow> {
  const w = await workflows.get(id, version);
  if (w) return w;
  if (await workflows.latestVersion(id) === 0) {
    throw new ApiError(404, "workflow_not_found", `no workflow ${id}`);
  }
  throw versionNotFound(id, version, path);
}
