/**
 * The schedule routes, mounted at `/api/v1/schedules`: the old engine's (`GET /`, `POST /add`,
 * `POST /{id}/pause|resume|stop`, `GET /templates`) with their shapes, plus `GET /{id}` (next fire times, latest
 * fires), `PATCH /{id}`, `DELETE /{id}` and `POST /{id}/trigger` (run now). Reads answer on any member; every
 * write runs on the owner of the schedule's shard (`shardOf(scheduleId)`), forwarded there like an execution's
 * commands. Bodies are checked before they travel (400 `validation_failed`, each problem at its path).
 *
 * @module
 */
import { shardOf } from "../../../core/ids.ts";
import type { Json } from "../../../core/json.ts";
import { SCHEDULE_ID_PATTERN, type ScheduleStatus } from "../../../core/schedule.ts";
import { MAX_SCHEDULE_INPUT_BYTES, mergePatch, parseScheduleSpec } from "../../../core/schedule_spec.ts";
import { utf8Length } from "../../../core/json.ts";
import type { Engine } from "../../runtime/engine.ts";
import type { ScheduleService } from "../../runtime/schedule_service.ts";
import { cronCheck } from "../../runtime/cron.ts";
import { parseJson, readBody } from "../body.ts";
import { ApiError, json } from "../errors.ts";
import { isForwarded } from "../forwarding.ts";
import { nextCursorHeaders } from "../route_helpers.ts";
import { type RouteContext, Router } from "../router.ts";
import type { Explain, SpecContext } from "../route_spec.ts";
import { forwardedRequest, type ShardRouting } from "../routing.ts";
import { objectBody, scheduleError, serviceOr503, validationFailed } from "../schedule_helpers.ts";
import { SCHEDULE_TEMPLATES, scheduleBody, scheduleDetailBody } from "../schedule_presenters.ts";
import {
  addScheduleSpec,
  deleteScheduleSpec,
  getScheduleSpec,
  listSchedulesSpec,
  patchScheduleSpec,
  pauseScheduleSpec,
  resumeScheduleSpec,
  scheduleTemplatesSpec,
  stopScheduleSpec,
  triggerScheduleSpec,
  WORKFLOW_ID,
} from "../specs/schedules.ts";

/** What the schedule routes use. */
export interface ScheduleRoutesDeps {
  /** The scheduler (none: every schedule route answers 503 `schedules_unavailable`). */
  schedules?: ScheduleService;
  engine: Engine;
  routing: ShardRouting;
  /** The time schedules are validated at (cron expressions that never fire). */
  now(): number;
}

/** Ids an API schedule may not take: the route names under `/api/v1/schedules`. */
const RESERVED_IDS = new Set(["add", "templates"]);

/**
 * The schedule sub-app (paths under `/api/v1/schedules`); `/templates` comes before `/:scheduleId`, whose
 * format the specs check (400 `invalid_parameter` at `path.scheduleId`).
 */
export function scheduleRoutes(deps: ScheduleRoutesDeps): Router {
  return new Router()
    .get("/", (ctx) => list(deps, ctx), listSchedulesSpec)
    .get("/templates", () => json(SCHEDULE_TEMPLATES), scheduleTemplatesSpec)
    .post("/add", (ctx) => add(deps, ctx), addScheduleSpec)
    .get("/:scheduleId", async ({ params }) => {
      const r = await serviceOr503(deps.schedules).get(params.scheduleId);
      if (!r.ok) throw scheduleError(r.error);
      return json(scheduleDetailBody(r.value));
    }, getScheduleSpec)
    .on("PATCH", "/:scheduleId", (ctx) => patch(deps, ctx), patchScheduleSpec)
    .delete("/:scheduleId", (ctx) => remove(deps, ctx), deleteScheduleSpec)
    .post("/:scheduleId/pause", (ctx) => setStatus(deps, ctx, "paused"), pauseScheduleSpec)
    .post("/:scheduleId/resume", (ctx) => setStatus(deps, ctx, "active"), resumeScheduleSpec)
    .post("/:scheduleId/stop", (ctx) => setStatus(deps, ctx, "stopped"), stopScheduleSpec)
    .post("/:scheduleId/trigger", (ctx) => trigger(deps, ctx), triggerScheduleSpec);
}

/** Runs `local` on the owner of the schedule's shard (forwarding the request, with `body` as its body). */
function onOwner(
  deps: ScheduleRoutesDeps,
  ctx: RouteContext,
  id: string,
  body: string,
  local: () => Promise<Response>,
) {
  return deps.routing.route(
    shardOf(id, deps.engine.shardCount),
    forwardedRequest(ctx.req, ctx.url, body),
    isForwarded(ctx.req),
    local,
  );
}

/** `GET /api/v1/schedules`: a page of schedules by id, `?workflowId=` filtering. */
async function list(
  deps: ScheduleRoutesDeps,
  { url, query }: SpecContext<typeof listSchedulesSpec>,
): Promise<Response> {
  const schedules = serviceOr503(deps.schedules);
  const page = await schedules.list({
    workflowId: query.workflowId,
    limit: query.limit,
    cursor: query.cursor ?? null,
  });
  return json(page.items.map(scheduleBody), 200, nextCursorHeaders(url, page.next));
}

/** The id of a new schedule: the body's `id` (checked), else a new random one. */
function newScheduleId(body: Record<string, unknown>): string {
  const id = body.id;
  if (id === undefined || id === null) return `sch-${crypto.randomUUID()}`;
  const problem = typeof id !== "string"
    ? "id must be a string"
    : !SCHEDULE_ID_PATTERN.test(id)
    ? "id is 1 to 140 of A-Z a-z 0-9 . _ : -"
    : id.startsWith("wf:")
    ? "ids starting with wf: belong to workflows' metadata.schedule"
    : RESERVED_IDS.has(id)
    ? `${id} is a route name`
    : undefined;
  if (problem === undefined) return id as string;
  throw validationFailed([{ path: "$.id", code: "id_format", message: problem }]);
}

/** An `add` body checked: the body, its workflow, the new schedule's id and its spec (or the 400). */
function checkAdd(raw: unknown, now: number) {
  const body = objectBody(raw, "{workflowId, scheduleType|kind, ...}");
  const workflowId = body.workflowId;
  if (typeof workflowId !== "string" || !WORKFLOW_ID.test(workflowId)) {
    throw validationFailed([{
      path: "$.workflowId",
      code: "schedule_invalid",
      message: "workflowId is required: 1 to 128 of A-Z a-z 0-9 . _ : -",
    }]);
  }
  const id = newScheduleId(body);
  const r = parseScheduleSpec(body, "$", now, cronCheck);
  if (!r.ok) throw validationFailed(r.problems);
  return { body, workflowId, id, r };
}

/** `POST /api/v1/schedules/add`: checks the body here, then creates the schedule on its owner (201). */
async function add(deps: ScheduleRoutesDeps, ctx: SpecContext<typeof addScheduleSpec>): Promise<Response> {
  const schedules = serviceOr503(deps.schedules);
  const text = await readBody(ctx.req);
  const { body, workflowId, id, r } = ctx.body(parseJson(text), (raw) => checkAdd(raw, deps.now()));
  // The id chosen here travels in the body, so the owner makes the same schedule.
  return await onOwner(deps, ctx, id, JSON.stringify({ ...body, id }), async () => {
    const created = await schedules.create({
      id,
      workflowId,
      spec: r.spec,
      source: "api",
      status: r.enabled ? "active" : "paused",
    });
    if (!created.ok) throw scheduleError(created.error);
    return json(
      { message: "schedule created", scheduleId: id, schedule: scheduleBody(created.value) },
      201,
      { location: `/api/v1/schedules/${encodeURIComponent(id)}` },
    );
  });
}

/** 409 for a change a workflow's metadata owns (its spec, its existence): change the workflow instead. */
function fromMetadata(workflowId: string): ApiError {
  return new ApiError(
    409,
    "schedule_from_metadata",
    `this schedule is workflow ${workflowId}'s metadata.schedule: change it with PUT /api/v1/workflows/${workflowId}`,
  );
}

/**
 * The problems of the schedule parser at the paths the spec's schema refused, to word them with their codes
 * (a PATCH's fields are checked in full once merged over the current spec, on the owner).
 */
function explainFields(now: number): Explain {
  return (raw, fault) => {
    const paths = new Set(fault.details.map((d) => d.path));
    const r = parseScheduleSpec(raw, "$", now, cronCheck);
    const problems = r.ok ? [] : r.problems.filter((p) => paths.has(p.path));
    if (problems.length > 0) throw validationFailed(problems);
  };
}

/** `PATCH /api/v1/schedules/:scheduleId`: the body's fields over the current spec, checked; `enabled` too. */
async function patch(
  deps: ScheduleRoutesDeps,
  ctx: SpecContext<typeof patchScheduleSpec>,
): Promise<Response> {
  const id = ctx.params.scheduleId;
  const schedules = serviceOr503(deps.schedules);
  const text = await readBody(ctx.req);
  const body = ctx.body(
    parseJson(text),
    (raw) => objectBody(raw, "of schedule fields"),
    explainFields(deps.now()),
  );
  return await onOwner(deps, ctx, id, text, async () => {
    const current = await schedules.get(id);
    if (!current.ok) throw scheduleError(current.error);
    const { schedule } = current.value;
    if (schedule.source === "metadata") throw fromMetadata(schedule.workflowId);
    const { id: _id, workflowId, ...fields } = body;
    if (workflowId !== undefined && workflowId !== schedule.workflowId) {
      throw validationFailed([{
        path: "$.workflowId",
        code: "schedule_invalid",
        message: "a schedule's workflow cannot change",
      }]);
    }
    const r = parseScheduleSpec(mergePatch(schedule.spec, fields), "$", deps.now(), cronCheck);
    if (!r.ok) throw validationFailed(r.problems);
    let updated = await schedules.update(id, r.spec);
    if (!updated.ok) throw scheduleError(updated.error);
    const wanted: ScheduleStatus = r.enabled ? "active" : "paused";
    if (typeof fields.enabled === "boolean" && updated.value.status !== wanted) {
      updated = await schedules.setStatus(id, wanted as Exclude<ScheduleStatus, "completed">);
      if (!updated.ok) throw scheduleError(updated.error);
    }
    return json({ message: "schedule updated", scheduleId: id, schedule: scheduleBody(updated.value) });
  });
}

/** `DELETE /api/v1/schedules/:scheduleId` (its fires go with it). */
async function remove(deps: ScheduleRoutesDeps, ctx: RouteContext): Promise<Response> {
  const id = ctx.params.scheduleId;
  const schedules = serviceOr503(deps.schedules);
  const text = await readBody(ctx.req);
  return await onOwner(deps, ctx, id, text, async () => {
    const current = await schedules.get(id);
    if (!current.ok) throw scheduleError(current.error);
    if (current.value.schedule.source === "metadata") throw fromMetadata(current.value.schedule.workflowId);
    const r = await schedules.delete(id);
    if (!r.ok) throw scheduleError(r.error);
    return json({ message: "schedule deleted", scheduleId: id });
  });
}

const STATUS_WORDS: Record<string, string> = { paused: "paused", active: "resumed", stopped: "stopped" };

/** `POST /api/v1/schedules/:scheduleId/pause|resume|stop`. */
async function setStatus(
  deps: ScheduleRoutesDeps,
  ctx: RouteContext,
  status: Exclude<ScheduleStatus, "completed">,
): Promise<Response> {
  const id = ctx.params.scheduleId;
  const schedules = serviceOr503(deps.schedules);
  const text = await readBody(ctx.req);
  return await onOwner(deps, ctx, id, text, async () => {
    const r = await schedules.setStatus(id, status);
    if (!r.ok) throw scheduleError(r.error);
    return json({
      message: `schedule ${STATUS_WORDS[status]}`,
      scheduleId: id,
      status: r.value.status,
      schedule: scheduleBody(r.value),
    });
  });
}

/** `POST /api/v1/schedules/:scheduleId/trigger` (`{input?}`): a run now, reason `manual` (202). */
async function trigger(
  deps: ScheduleRoutesDeps,
  ctx: SpecContext<typeof triggerScheduleSpec>,
): Promise<Response> {
  const id = ctx.params.scheduleId;
  const schedules = serviceOr503(deps.schedules);
  const text = await readBody(ctx.req);
  const body = ctx.body(parseJson(text, {}), (raw) => objectBody(raw, "{input?}"));
  const input = "input" in body ? (body.input as Json) ?? null : undefined;
  if (
    input !== undefined &&
    utf8Length(JSON.stringify(input), MAX_SCHEDULE_INPUT_BYTES) > MAX_SCHEDULE_INPUT_BYTES
  ) {
    throw validationFailed([{
      path: "$.input",
      code: "input_too_large",
      message: `input must be at most ${MAX_SCHEDULE_INPUT_BYTES} bytes of JSON`,
    }]);
  }
  return await onOwner(deps, ctx, id, text, async () => {
    const r = await schedules.trigger(id, input);
    if (!r.ok) throw scheduleError(r.error);
    const { executionId, tickAt } = r.value;
    return json(
      { message: "schedule triggered", scheduleId: id, executionId, tickAt },
      202,
      { location: `/api/v1/executions/${encodeURIComponent(executionId)}` },
    );
  });
}
