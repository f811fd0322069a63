/**
 * The workflow routes, mounted at `/api/v1/workflows`: the node palette, and
 * creating, listing, reading, updating and deleting workflow definitions; a
 * workflow's versions and their diff come from `workflow_versions.ts`.
 *
 * A workflow's `metadata.schedule` is checked before the workflow is stored (400 with
 * `$.metadata.schedule.…` paths) and becomes its schedule `wf:<workflowId>` once it is: a create or update
 * with one (or an update or delete of a workflow that has one) runs on the owner of that schedule's shard,
 * like every schedule write. A 503 after the workflow was stored leaves it stored: the same request again
 * answers `unchanged` and schedules it. A workflow sent again unchanged leaves a schedule that has its spec as
 * it is (a completed `immediate` one is not run again, a paused or stopped one stays so).
 *
 * @module
 */
import { shardOf } from "../../../core/ids.ts";
import type { Engine } from "../../runtime/engine.ts";
import type { ScheduleService } from "../../runtime/schedule_service.ts";
import { checkWorkflow, type WorkflowService } from "../../runtime/workflows.ts";
import { parseJson, readBody } from "../body.ts";
import { ApiError, json } from "../errors.ts";
import { isForwarded } from "../forwarding.ts";
import { nodeTypes } from "../presenters.ts";
import { redactDefinition, restoreRedacted, scrubProblems } from "../redaction.ts";
import { type RouteContext, Router } from "../router.ts";
import type { SpecContext } from "../route_spec.ts";
import {
  createWorkflowSpec,
  deleteWorkflowSpec,
  getWorkflowSpec,
  listWorkflowsSpec,
  nodeTypesSpec,
  updateWorkflowSpec,
} from "../specs/workflows.ts";
import { forwardedRequest, type ShardRouting } from "../routing.ts";
import { workflowVersionRoutes } from "./workflow_versions.ts";
import { listWorkflows } from "../workflow_list.ts";
import {
  checkMetadataSchedule,
  dropMetadataSchedule,
  hasMetadataSchedule,
  keepMetadataSchedule,
  type MetadataSchedule,
  metadataScheduleIdOf,
  putMetadataSchedule,
} from "../schedule_helpers.ts";

/** What the workflow routes use. */
export interface WorkflowRoutesDeps {
  workflows: WorkflowService;
  /** The scheduler a `metadata.schedule` goes to (none: it is checked, and `scheduleStatus` says so). */
  schedules?: ScheduleService;
  engine: Engine;
  routing: ShardRouting;
  /** The time schedules are validated at. */
  now(): number;
}

/** The `scheduleStatus` of a workflow with a `metadata.schedule` on a node without a scheduler. */
export const NO_SCHEDULER_STATUS = "not scheduled: this node runs no scheduler";

/** The workflow sub-app (paths under `/api/v1/workflows`); `/node-types` comes before `/:id`. */
export function workflowRoutes(deps: WorkflowRoutesDeps): Router {
  const { workflows } = deps;
  return new Router()
    .get("/node-types", () => json(nodeTypes(workflows.catalog)), nodeTypesSpec)
    .post("/", (ctx) => createWorkflow(deps, ctx), createWorkflowSpec)
    .get("/", ({ url, query }) => listWorkflows(workflows, url, query), listWorkflowsSpec)
    .get("/:id", async ({ params, query }) => {
      const w = await workflows.get(params.id, query.version);
      if (!w) throw new ApiError(404, "workflow_not_found", `no workflow ${params.id}`);
      return json(redactDefinition(w.definition), 200, { "x-workflow-version": String(w.version) });
    }, getWorkflowSpec)
    .put("/:id", (ctx) => updateWorkflow(deps, ctx), updateWorkflowSpec)
    .delete("/:id", (ctx) => deleteWorkflow(deps, ctx), deleteWorkflowSpec)
    .route("/", workflowVersionRoutes(deps));
}

/**
 * Runs `local` on the owner of schedule `scheduleId`'s shard (forwarding the request with `text` as its body),
 * or here when there is no schedule to write.
 */
function onScheduleOwner(
  deps: WorkflowRoutesDeps,
  ctx: RouteContext,
  scheduleId: string | undefined,
  text: string,
  local: () => Promise<Response>,
): Promise<Response> {
  if (scheduleId === undefined) return local();
  return deps.routing.route(
    shardOf(scheduleId, deps.engine.shardCount),
    forwardedRequest(ctx.req, ctx.url, text),
    isForwarded(ctx.req),
    local,
  );
}

/**
 * The 400 `validation_failed` of a definition the spec's schema refused, worded by the full validation (every
 * problem, with its code); returns when the validation finds none.
 */
function explainDefinition(workflows: WorkflowService, raw: unknown): void {
  const checked = checkWorkflow(raw, workflows.limits, workflows.catalog);
  if (checked.ok) return;
  const problems = scrubProblems(checked.problems, raw);
  throw new ApiError(400, "validation_failed", `the workflow has ${problems.length} problem(s)`, problems);
}

/** An object body without an `id` with `id` (anything else as it is). */
function withId(raw: unknown, id: string): unknown {
  const object = raw !== null && typeof raw === "object" && !Array.isArray(raw);
  return object && (raw as { id?: unknown }).id === undefined ? { ...raw, id } : raw;
}

/** `POST /api/v1/workflows`: 201 for a new workflow, 200 for the same definition again. */
async function createWorkflow(
  deps: WorkflowRoutesDeps,
  ctx: SpecContext<typeof createWorkflowSpec>,
): Promise<Response> {
  const text = await readBody(ctx.req);
  const body = parseJson(text);
  const schedule = ctx.body(
    body,
    (raw) => checkMetadataSchedule(raw, deps.now()),
    (raw) => explainDefinition(deps.workflows, raw),
  );
  const scheduleId = schedule && deps.schedules && metadataScheduleIdOf((body as { id?: unknown }).id);
  return await onScheduleOwner(deps, ctx, scheduleId, text, () => createHere(deps, body, schedule));
}

/** Creates the workflow here, then its metadata schedule. */
async function createHere(
  { workflows, schedules }: WorkflowRoutesDeps,
  body: unknown,
  schedule: MetadataSchedule | undefined,
): Promise<Response> {
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
  const scheduleStatus = schedule === undefined
    ? "none"
    : schedules === undefined
    ? NO_SCHEDULER_STATUS
    : r.status === "created"
    ? await putMetadataSchedule(schedules, w.id, schedule)
    : await keepMetadataSchedule(schedules, w.id, schedule);
  return json(
    {
      message: r.status === "created" ? "workflow created" : "workflow unchanged",
      workflowId: w.id,
      version: w.version,
      scheduleStatus,
    },
    r.status === "created" ? 201 : 200,
    { location: `/api/v1/workflows/${encodeURIComponent(w.id)}` },
  );
}

/**
 * `PUT /api/v1/workflows/:id`: a new version, or `unchanged` for the same definition; its `metadata.schedule`
 * replaces the workflow's schedule, and without one a schedule from the previous metadata is deleted.
 */
async function updateWorkflow(
  deps: WorkflowRoutesDeps,
  ctx: SpecContext<typeof updateWorkflowSpec>,
): Promise<Response> {
  const text = await readBody(ctx.req);
  const body = parseJson(text);
  const schedule = ctx.body(
    body,
    (raw) => checkMetadataSchedule(raw, deps.now()),
    // A body without an id takes the path's, as the update does.
    (raw) => explainDefinition(deps.workflows, withId(raw, ctx.params.id)),
  );
  const id = deps.schedules && metadataScheduleIdOf(ctx.params.id);
  const manage = id !== undefined &&
    (schedule !== undefined || await hasMetadataSchedule(deps.schedules!, id));
  return await onScheduleOwner(
    deps,
    ctx,
    manage ? id : undefined,
    text,
    () => updateHere(deps, ctx, body, schedule, manage),
  );
}

/** Updates the workflow here, then puts or drops its metadata schedule (when `manage`). */
async function updateHere(
  { workflows, schedules }: WorkflowRoutesDeps,
  { params }: RouteContext,
  body: unknown,
  schedule: MetadataSchedule | undefined,
  manage: boolean,
): Promise<Response> {
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
  let scheduleStatus = schedule === undefined ? "none" : NO_SCHEDULER_STATUS;
  if (manage && schedules !== undefined) {
    if (schedule !== undefined) {
      scheduleStatus = r.status === "updated"
        ? await putMetadataSchedule(schedules, r.workflow.id, schedule)
        : await keepMetadataSchedule(schedules, r.workflow.id, schedule);
    } else await dropMetadataSchedule(schedules, r.workflow.id);
  }
  return json({
    message: r.status === "updated" ? "workflow updated" : "workflow unchanged",
    workflowId: r.workflow.id,
    version: r.workflow.version,
    scheduleStatus,
  });
}

/** `DELETE /api/v1/workflows/:id`, and its metadata schedule (first, on that schedule's owner). */
async function deleteWorkflow(deps: WorkflowRoutesDeps, ctx: RouteContext): Promise<Response> {
  const { workflows, schedules } = deps;
  const id = ctx.params.id;
  const scheduleId = schedules && metadataScheduleIdOf(id);
  const manage = scheduleId !== undefined && await hasMetadataSchedule(schedules!, scheduleId);
  const text = await readBody(ctx.req);
  return await onScheduleOwner(deps, ctx, manage ? scheduleId : undefined, text, async () => {
    if (manage) await dropMetadataSchedule(schedules!, id);
    if (!(await workflows.delete(id))) throw new ApiError(404, "workflow_not_found", `no workflow ${id}`);
    return json({ message: "workflow deleted", workflowId: id });
  });
}
