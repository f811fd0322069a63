/**
 * The old engine's history routes, mounted at `/api/history`: a workflow's
 * executions with their nodes, its status, one execution, and a timeline.
 *
 * @module
 */
import type { ExecutionIndex } from "../../../storage/storage.ts";
import type { Engine } from "../../runtime/engine.ts";
import type { WorkflowService } from "../../runtime/workflows.ts";
import { ApiError, json } from "../errors.ts";
import { withOldState } from "../old_engine.ts";
import { historyExecution, historyTimeline } from "../presenters.ts";
import { nextCursorHeaders, viewOr404, workflowOr404, workflowStatus } from "../route_helpers.ts";
import { Router } from "../router.ts";
import type { SpecContext } from "../route_spec.ts";
import { historyExecutionSpec, historySpec, historyStatusSpec, timelineSpec } from "../specs/system.ts";

/** What the history routes use. */
export interface HistoryRoutesDeps {
  engine: Engine;
  workflows: WorkflowService;
  storage: ExecutionIndex;
}

/** The history sub-app (paths under `/api/history`). */
export function historyRoutes(deps: HistoryRoutesDeps): Router {
  const { engine, workflows, storage } = deps;
  return new Router()
    .get("/:workflowId", (ctx) => history(deps, ctx), historySpec)
    .get(
      "/:workflowId/status",
      ({ params }) =>
        workflowStatus(workflows, storage, params.workflowId).then((s) => json(withOldState(s))),
      historyStatusSpec,
    )
    .get("/:workflowId/execution/:executionId", async ({ params }) => {
      const w = await workflowOr404(workflows, params.workflowId);
      const v = await viewOr404(engine, params.executionId);
      if (v.workflowId !== w.id) {
        throw new ApiError(404, "execution_not_found", "no such execution for this workflow");
      }
      return json(historyExecution(v, w.definition.name));
    }, historyExecutionSpec)
    .get("/:workflowId/timeline", (ctx) => timeline(deps, ctx), timelineSpec);
}

/** `GET /api/history/:workflowId`: a page of the workflow's executions, each with its nodes. */
async function history(
  { engine, workflows, storage }: HistoryRoutesDeps,
  { params, url, query }: SpecContext<typeof historySpec>,
) {
  const w = await workflowOr404(workflows, params.workflowId);
  const page = await storage.listExecutions({
    workflowId: w.id,
    limit: query.limit,
    cursor: query.cursor ?? null,
  });
  const views = await Promise.all(page.items.map((e) => engine.view(e.executionId)));
  return json(
    {
      workflowId: w.id,
      executions: views.filter((v) => v !== undefined).map((v) => historyExecution(v!, w.definition.name)),
    },
    200,
    nextCursorHeaders(url, page.next),
  );
}

/** `GET /api/history/:workflowId/timeline`: the nodes' times of `?executionId=` (default: the latest). */
async function timeline(
  { engine, workflows, storage }: HistoryRoutesDeps,
  { params, query }: SpecContext<typeof timelineSpec>,
) {
  const w = await workflowOr404(workflows, params.workflowId);
  let executionId = query.executionId;
  if (!executionId) {
    const latest = await storage.listExecutions({ workflowId: w.id, limit: 1 });
    if (latest.items.length === 0) {
      throw new ApiError(404, "execution_not_found", "this workflow has no executions");
    }
    executionId = latest.items[0].executionId;
  }
  const v = await viewOr404(engine, executionId);
  if (v.workflowId !== w.id) {
    throw new ApiError(404, "execution_not_found", "no such execution for this workflow");
  }
  return json(historyTimeline(v, w.definition.name));
}
