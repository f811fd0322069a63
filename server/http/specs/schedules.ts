/**
 * The specs of the schedule routes (`routes/schedules.ts`): list, add, read, patch, delete, pause, resume,
 * stop and trigger a schedule, and the templates. The schedule body's schema holds each field's JSON type and
 * words; its semantics (cron syntax, zones, bounds, a field another kind does not use being ignored) are the
 * schedule parser's (`core/schedule_spec.ts`), which words every problem with its code.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import {
  CATCH_UP_POLICIES,
  MAX_CATCH_UP,
  OVERLAP_POLICIES,
  SCHEDULE_ID_PATTERN,
  SCHEDULE_KINDS,
} from "../../../core/schedule.ts";
import { routeSpec } from "../route_spec.ts";
import { cursorQuery, Json, limitQuery, PAGE_HEADERS } from "../schemas.ts";

/** A workflow id, as `POST /add` and `?workflowId=` take it. */
export const WORKFLOW_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const duration = z.union([z.string(), z.int().min(0)]).nullish();
const time = z.union([z.string(), z.number()]).nullish();

/** A schedule's fields (each optional: `add` needs a kind, and `workflowId`). */
const scheduleFields = {
  scheduleType: z.enum(SCHEDULE_KINDS).nullish().describe("The kind (the old engine's name of `kind`)."),
  kind: z.enum(SCHEDULE_KINDS).nullish().describe("The kind; with `scheduleType` too, they must agree."),
  cronExpression: Json.optional().describe("`cron`: a string of 5 or 6 fields, or `@hourly`, `@daily`, …"),
  timezone: z.string().nullish().describe("An IANA zone (default `UTC`)."),
  interval: duration.describe("`fixed_rate`, `fixed_delay`: `30s`, `5m`, `1h`, `1d`, `250ms`, or ms."),
  intervalMs: duration.describe("The interval in ms."),
  startAt: time.describe("No tick before: ISO 8601 or epoch ms."),
  endAt: time.describe("No tick after: ISO 8601 or epoch ms."),
  jitter: duration.describe("Each fire waits a further 0 to this (up to `1d`)."),
  jitterMs: duration.describe("The jitter in ms."),
  overlap: z.enum(OVERLAP_POLICIES).nullish().describe("A tick due while a run is live (default `allow`)."),
  catchUp: z.enum(CATCH_UP_POLICIES).nullish().describe("Ticks missed while down (default `run_once`)."),
  maxCatchUp: z.int().min(1).max(MAX_CATCH_UP).nullish().describe("Default 100."),
  input: Json.optional().describe("Each run's input (at most 64 KiB of JSON)."),
  enabled: z.boolean().nullish().describe("Default true; false: `paused`."),
};

/** A schedule as lists and writes show it. */
export const ScheduleSchema = z.object({
  scheduleId: z.string(),
  workflowId: z.string(),
  kind: z.enum(SCHEDULE_KINDS),
  scheduleType: z.enum(SCHEDULE_KINDS),
  enabled: z.boolean(),
  status: z.enum(["active", "paused", "stopped", "completed"]),
  source: z.enum(["api", "metadata"]),
  cronExpression: z.string().nullable(),
  timezone: z.string(),
  interval: z.string().nullable(),
  intervalMs: z.int().nullable(),
  startAt: z.number().nullable(),
  endAt: z.number().nullable(),
  jitterMs: z.int(),
  overlap: z.enum(OVERLAP_POLICIES),
  catchUp: z.enum(CATCH_UP_POLICIES),
  maxCatchUp: z.int(),
  input: Json,
  nextTickAt: z.number().nullable(),
  lastTickAt: z.number().nullable(),
  lastExecutionId: z.string().nullable(),
  bufferedTickAt: z.number().nullable(),
  runs: z.int(),
  createdAt: z.number(),
  updatedAt: z.number(),
  version: z.int(),
}).meta({ id: "Schedule" });

const params = z.object({
  scheduleId: z.string().regex(SCHEDULE_ID_PATTERN, { error: "is 1 to 140 of A-Z a-z 0-9 . _ : -" })
    .describe("The schedule's id."),
});
const written = (message: string) =>
  z.object({ message: z.literal(message), scheduleId: z.string(), schedule: ScheduleSchema });
const notFound = { description: "No such schedule." };

/** `GET /api/v1/schedules`. */
export const listSchedulesSpec = routeSpec({
  operationId: "listSchedules",
  summary: "The schedules by id",
  tags: ["schedules"],
  query: z.object({
    workflowId: z.string().regex(WORKFLOW_ID, { error: "is 1 to 128 of A-Z a-z 0-9 . _ : -" }).optional()
      .describe("Only this workflow's schedules."),
    limit: limitQuery(),
    cursor: cursorQuery,
  }),
  responses: { 200: { description: "A page.", schema: z.array(ScheduleSchema), headers: PAGE_HEADERS } },
});

/** `GET /api/v1/schedules/templates`. */
export const scheduleTemplatesSpec = routeSpec({
  operationId: "listScheduleTemplates",
  summary: "Example schedules: each, with a `workflowId`, an `add` body",
  tags: ["schedules"],
  responses: {
    200: {
      description: "The templates.",
      schema: z.array(
        z.object({ name: z.string(), description: z.string(), schedule: z.record(z.string(), Json) }),
      ),
    },
  },
});

/** `POST /api/v1/schedules/add`. */
export const addScheduleSpec = routeSpec({
  operationId: "addSchedule",
  summary: "Adds a schedule",
  tags: ["schedules"],
  body: z.looseObject({
    workflowId: z.string().regex(WORKFLOW_ID).describe("The workflow it runs."),
    id: z.string().nullish().describe("1 to 140 of A-Z a-z 0-9 . _ : - (not `wf:…`); default `sch-<uuid>`."),
    ...scheduleFields,
  }).meta({ id: "ScheduleAdd", description: "Other fields are ignored." }),
  responses: {
    201: {
      description: "Created.",
      schema: written("schedule created"),
      headers: { location: "The schedule's URL." },
    },
    400: { description: "Its problems (`validation_failed`, each with its code at its path)." },
    404: { description: "No such workflow." },
    409: { description: "A schedule has this id." },
  },
});

/** `GET /api/v1/schedules/:scheduleId`. */
export const getScheduleSpec = routeSpec({
  operationId: "getSchedule",
  summary: "A schedule, its next fire times and its latest fires",
  tags: ["schedules"],
  params,
  responses: {
    200: {
      description: "The schedule.",
      schema: ScheduleSchema.extend({
        nextFireTimes: z.array(z.number()),
        recentFires: z.array(z.object({
          tickAt: z.number(),
          firedAt: z.number(),
          outcome: z.string(),
          reason: z.string(),
          executionId: z.string().nullable(),
        })),
      }),
    },
    404: notFound,
  },
});

/** `PATCH /api/v1/schedules/:scheduleId`. */
export const patchScheduleSpec = routeSpec({
  operationId: "patchSchedule",
  summary: "Changes a schedule: the body's fields over the current ones",
  tags: ["schedules"],
  params,
  body: z.looseObject({
    workflowId: z.string().optional().describe("Cannot change."),
    ...scheduleFields,
  }).meta({ id: "SchedulePatch", description: "Other fields are ignored." }),
  responses: {
    200: { description: "Updated.", schema: written("schedule updated") },
    400: { description: "Its problems (`validation_failed`)." },
    404: notFound,
    409: { description: "A workflow's `metadata.schedule`: change the workflow instead." },
  },
});

/** `DELETE /api/v1/schedules/:scheduleId`. */
export const deleteScheduleSpec = routeSpec({
  operationId: "deleteSchedule",
  summary: "Deletes a schedule (its fires go with it)",
  tags: ["schedules"],
  params,
  responses: {
    200: {
      description: "Deleted.",
      schema: z.object({ message: z.literal("schedule deleted"), scheduleId: z.string() }),
    },
    404: notFound,
    409: { description: "A workflow's `metadata.schedule`: change the workflow instead." },
  },
});

/** The spec of `POST /api/v1/schedules/:scheduleId/<action>` (pause, resume, stop). */
function statusSpec<const Id extends string>(operationId: Id, summary: string, message: string) {
  return routeSpec({
    operationId,
    summary,
    tags: ["schedules"],
    params,
    responses: {
      200: {
        description: "Its new status.",
        schema: z.object({
          message: z.literal(message),
          scheduleId: z.string(),
          status: z.string(),
          schedule: ScheduleSchema,
        }),
      },
      404: notFound,
      409: { description: "Its status refuses it (`schedule_terminal`)." },
    },
  });
}

/** `POST /api/v1/schedules/:scheduleId/pause`. */
export const pauseScheduleSpec = statusSpec("pauseSchedule", "Pauses a schedule", "schedule paused");
/** `POST /api/v1/schedules/:scheduleId/resume`. */
export const resumeScheduleSpec = statusSpec("resumeSchedule", "Resumes a schedule", "schedule resumed");
/** `POST /api/v1/schedules/:scheduleId/stop`. */
export const stopScheduleSpec = statusSpec("stopSchedule", "Stops a schedule for good", "schedule stopped");

/** `POST /api/v1/schedules/:scheduleId/trigger`. */
export const triggerScheduleSpec = routeSpec({
  operationId: "triggerSchedule",
  summary: "Runs a schedule's workflow now (reason `manual`)",
  tags: ["schedules"],
  params,
  body: z.looseObject({ input: Json.optional().describe("The run's input (default: the schedule's).") }),
  bodyRequired: false,
  responses: {
    202: {
      description: "Started.",
      schema: z.object({
        message: z.literal("schedule triggered"),
        scheduleId: z.string(),
        executionId: z.string(),
        tickAt: z.number(),
      }),
      headers: { location: "The execution's URL." },
    },
    404: notFound,
    409: { description: "Its status refuses it (`schedule_terminal`)." },
  },
});
