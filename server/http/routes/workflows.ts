/**
 * The workflow routes, mounted at `/api/v1/workflows`: the node palette, and
 * creating, listing, reading, updating and deleting workflow definitions.
 *
 * @module
 */
import type { WorkflowService } from "../../runtime/workflows.ts";
import { readJson } from "../body.ts";
import { ApiError, json } from "../errors.ts";
import { nodeTypes, workflowSummary } from "../presenters.ts";
import { redactDefinition, restoreRedacted, scrubProblems } from "../redaction.ts";
import { DEFAULT_PAGE, intParam, MAX_PAGE, nextCursorHeaders } from "../route_helpers.ts";
import { type RouteContext, Router } from "../router.ts";

/** What the workflow routes use. */
export interface WorkflowRoutesDeps {
  workflows: WorkflowService;
}

/** The workflow sub-app (paths under `/api/v1/workflows`); `/node-types` comes before `/:id`. */
export function workflowRoutes({ workflows }: WorkflowRoutesDeps): Router {
  return new Router()
    .get("/node-types", () => json(nodeTypes()))
    .post("/", ({ req }) => createWorkflow(workflows, req))
    .get("/", async ({ url }) => {
      const limit = intParam(url, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
      const page = await workflows.list(limit, url.searchParams.get("cursor"));
      return json(page.items.map(workflowSummary), 200, nextCursorHeaders(url, page.next));
    })
    .get("/:id", async ({ params, url }) => {
      const version = url.searchParams.has("version") ? intParam(url, "version", 1, 1, 2 ** 31) : undefined;
      const w = await workflows.get(params.id, version);
      if (!w) throw new ApiError(404, "workflow_not_found", `no workflow ${params.id}`);
      return json(redactDefinition(w.definition), 200, { "x-workflow-version": String(w.version) });
    })
    .put("/:id", (ctx) => updateWorkflow(workflows, ctx))
    .delete("/:id", async ({ params }) => {
      if (!(await workflows.delete(params.id))) {
        throw new ApiError(404, "workflow_not_found", `no workflow ${params.id}`);
      }
      return json({ message: "workflow deleted", workflowId: params.id });
    });
}

/** `POST /api/v1/workflows`: 201 for a new workflow, 200 for the same definition again. */
async function createWorkflow(workflows: WorkflowService, req: Request): Promise<Response> {
  const body = await readJson(req);
  const r = await workflows.create(body);
  if (!r.ok) {
    if (r.code === "validation_failed") {
      const problems = scrubProblems(r.problems, body);
      throw new ApiError(400, r.code, `the workflow has ${r.problems.length} problem(s)`, problems);
    }
    if (r.code === "workflow_exists") {
      throw new ApiError(
        409,
        r.code,
        `workflow ${r.current.id} exists with a different definition; PUT a new version`,
      );
    }
    throw new ApiError(409, r.code, "the workflow changed concurrently; retry");
  }
  const w = r.workflow;
  const schedule = w.definition.metadata?.schedule;
  return json(
    {
      message: r.status === "created" ? "workflow created" : "workflow unchanged",
      workflowId: w.id,
      version: w.version,
      scheduleStatus: schedule?.enabled ? "stored (the scheduler is not part of this release)" : "none",
    },
    r.status === "created" ? 201 : 200,
    { location: `/api/v1/workflows/${encodeURIComponent(w.id)}` },
  );
}

/** `PUT /api/v1/workflows/:id`: a new version, or `unchanged` for the same definition. */
async function updateWorkflow(workflows: WorkflowService, { req, params }: RouteContext): Promise<Response> {
  const body = await readJson(req);
  // A credential sent back as GET showed it (`***`) keeps the stored one, unless its node now sends it
  // elsewhere: then it must be sent again (applied to the latest version on each try of the update).
  const r = await workflows.update(params.id, body, (input, stored) => {
    const restored = restoreRedacted(input, stored);
    if (restored.ok) return restored.definition;
    const problems = scrubProblems(restored.problems, input, stored);
    throw new ApiError(400, "validation_failed", `the workflow has ${problems.length} problem(s)`, problems);
  });
  if (!r.ok) {
    if (r.code === "validation_failed") {
      const stored = (await workflows.get(params.id))?.definition;
      const problems = scrubProblems(r.problems, body, stored);
      throw new ApiError(400, r.code, `the workflow has ${r.problems.length} problem(s)`, problems);
    }
    if (r.code === "workflow_not_found") throw new ApiError(404, r.code, `no workflow ${params.id}`);
    if (r.code === "id_mismatch") {
      throw new ApiError(400, r.code, r.message, [{ path: "$.id", message: r.message }]);
    }
    throw new ApiError(409, r.code, "the workflow changed concurrently; retry");
  }
  return json({
    message: r.status === "updated" ? "workflow updated" : "workflow unchanged",
    workflowId: r.workflow.id,
    version: r.workflow.version,
  });
}
