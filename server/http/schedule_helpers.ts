/**
 * What the schedule routes and the workflow routes share: the statuses of schedule errors, the checks of
 * schedule ids and bodies (400 `validation_failed` with each problem's path), and a workflow's
 * `metadata.schedule` — checked before the workflow is stored, then put or dropped as the schedule
 * `wf:<workflowId>` once it is.
 *
 * @module
 */
import type { ScheduleSpec } from "../../core/schedule.ts";
import { metadataScheduleId, sameScheduleSpec, SCHEDULE_ID_PATTERN } from "../../core/schedule.ts";
import { parseScheduleSpec } from "../../core/schedule_spec.ts";
import type { Problem } from "../../core/schema.ts";
import { cronCheck } from "../runtime/cron.ts";
import type { ScheduleError, ScheduleService } from "../runtime/schedule_service.ts";
import { ApiError } from "./errors.ts";
import { scheduleStatusText } from "./schedule_presenters.ts";

/** The HTTP status of each schedule error. */
const SCHEDULE_STATUS: Record<ScheduleError["code"], number> = {
  schedule_not_found: 404,
  schedule_exists: 409,
  workflow_not_found: 404,
  concurrency_key_invalid: 400,
  schedule_changed: 409,
  schedule_terminal: 409,
  not_owner: 503,
  storage_unavailable: 503,
};

/** The ApiError of a schedule error (a 503 says to retry after 1 s). */
export function scheduleError(error: ScheduleError): ApiError {
  const status = SCHEDULE_STATUS[error.code] ?? 500;
  const details = error.code === "workflow_not_found"
    ? [{ path: "$.workflowId", message: error.message }]
    : error.code === "concurrency_key_invalid"
    ? [{ path: "$.input", message: error.message }]
    : [];
  return new ApiError(
    status,
    error.code,
    error.message,
    details,
    status === 503 ? { "retry-after": "1" } : {},
  );
}

/** 400 `validation_failed` with the problems, each at its path. */
export function validationFailed(problems: Problem[], what = "the schedule"): ApiError {
  return new ApiError(400, "validation_failed", `${what} has ${problems.length} problem(s)`, problems);
}

/** The schedule service, or 503 `schedules_unavailable` on a node built without a scheduler. */
export function serviceOr503(schedules: ScheduleService | undefined): ScheduleService {
  if (schedules === undefined) {
    throw new ApiError(503, "schedules_unavailable", "this node runs no scheduler", [], {
      "retry-after": "1",
    });
  }
  return schedules;
}

/** A JSON body that must be an object (400 `validation_failed` at `$` otherwise). */
export function objectBody(body: unknown, what: string): Record<string, unknown> {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    return body as Record<string, unknown>;
  }
  throw validationFailed([{
    path: "$",
    code: "schedule_invalid",
    message: `the body must be an object ${what}`,
  }]);
}

/** A checked `metadata.schedule`: its spec and whether it fires. */
export interface MetadataSchedule {
  spec: ScheduleSpec;
  enabled: boolean;
}

/**
 * Checks a workflow body's `metadata.schedule` (400 with `$.metadata.schedule.…` paths); undefined when the
 * body has none (or its metadata is not an object: the workflow's own validation reports that).
 */
export function checkMetadataSchedule(body: unknown, now: number): MetadataSchedule | undefined {
  const metadata = (body as { metadata?: unknown } | null)?.metadata;
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) return undefined;
  const schedule = (metadata as { schedule?: unknown }).schedule;
  if (schedule === undefined || schedule === null) return undefined;
  const r = parseScheduleSpec(schedule, "$.metadata.schedule", now, cronCheck);
  if (!r.ok) throw validationFailed(r.problems, "the workflow's metadata.schedule");
  return { spec: r.spec, enabled: r.enabled };
}

/** The metadata schedule id of a workflow id, or undefined when that id cannot carry one (it is malformed). */
export function metadataScheduleIdOf(workflowId: unknown): string | undefined {
  if (typeof workflowId !== "string") return undefined;
  const id = metadataScheduleId(workflowId);
  return SCHEDULE_ID_PATTERN.test(id) ? id : undefined;
}

/** Whether the workflow has a schedule from its metadata now. */
export async function hasMetadataSchedule(schedules: ScheduleService, scheduleId: string): Promise<boolean> {
  const r = await schedules.get(scheduleId);
  if (r.ok) return r.value.schedule.source === "metadata";
  if (r.error.code === "schedule_not_found") return false;
  throw scheduleError(r.error);
}

/** Creates or replaces the workflow's metadata schedule; answers its `scheduleStatus`. */
export async function putMetadataSchedule(
  schedules: ScheduleService,
  workflowId: string,
  checked: MetadataSchedule,
): Promise<string> {
  const r = await schedules.put({
    id: metadataScheduleId(workflowId),
    workflowId,
    spec: checked.spec,
    source: "metadata",
    status: checked.enabled ? "active" : "paused",
  });
  if (!r.ok) throw scheduleError(r.error);
  return scheduleStatusText(r.value);
}

/**
 * The metadata schedule of a workflow stored unchanged (the same definition sent again): left as it is when it
 * has this spec already — nothing written, so a completed `immediate` schedule does not run again and one
 * paused or stopped through the API stays so; else put as for a new version (the schedule is missing when an
 * earlier request stored the workflow and then failed). Answers its `scheduleStatus`.
 */
export async function keepMetadataSchedule(
  schedules: ScheduleService,
  workflowId: string,
  checked: MetadataSchedule,
): Promise<string> {
  const r = await schedules.get(metadataScheduleId(workflowId));
  if (!r.ok && r.error.code !== "schedule_not_found") throw scheduleError(r.error);
  const s = r.ok ? r.value.schedule : undefined;
  if (s?.source === "metadata" && s.workflowId === workflowId && sameScheduleSpec(s.spec, checked.spec)) {
    return scheduleStatusText(s);
  }
  return await putMetadataSchedule(schedules, workflowId, checked);
}

/** Deletes the workflow's metadata schedule if it has one. */
export async function dropMetadataSchedule(schedules: ScheduleService, workflowId: string): Promise<void> {
  const r = await schedules.delete(metadataScheduleId(workflowId));
  if (!r.ok && r.error.code !== "schedule_not_found") throw scheduleError(r.error);
}
