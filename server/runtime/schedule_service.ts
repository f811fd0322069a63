/**
 * What the API asks of schedules, implemented by the owner-side scheduler (`scheduler.ts`). Every write is
 * made on the member that owns the schedule's shard (`shardOf(scheduleId)`): the API routes it there first,
 * as it does execution commands. Errors are values with stable codes the API maps to statuses.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";
import type { Schedule, ScheduleFire, ScheduleSpec, ScheduleStatus } from "../../core/schedule.ts";
import type { Page } from "../../storage/records.ts";

/** Why a schedule call failed. */
export type ScheduleError =
  | { code: "schedule_not_found"; message: string }
  | { code: "schedule_exists"; message: string }
  | { code: "workflow_not_found"; message: string }
  /** A manual run's input gives no usable concurrency key for the workflow (`$.input`). */
  | { code: "concurrency_key_invalid"; message: string }
  | { code: "schedule_changed"; message: string }
  | { code: "schedule_terminal"; message: string }
  | { code: "not_owner"; message: string }
  | { code: "storage_unavailable"; message: string };

/** A value or an error. */
export type ScheduleResult<T> = { ok: true; value: T } | { ok: false; error: ScheduleError };

/** A new schedule: its id (made by the caller when absent), workflow, validated spec and whether it runs. */
export interface NewSchedule {
  id: string;
  workflowId: string;
  spec: ScheduleSpec;
  source: "metadata" | "api";
  /** `paused` makes it without firing (`enabled: false`). */
  status: "active" | "paused";
}

/** A schedule with what `GET /api/v1/schedules/{id}` shows besides it. */
export interface ScheduleDetail {
  schedule: Schedule;
  /** The next fire times (at most 5), epoch ms. */
  nextFireTimes: number[];
  /** The latest fires, newest first. */
  recentFires: ScheduleFire[];
}

/** The schedule operations, each made by the owner of the schedule's shard. */
export interface ScheduleService {
  create(schedule: NewSchedule): Promise<ScheduleResult<Schedule>>;
  /** Creates or replaces (spec and status) the schedule with this id: a workflow's `metadata.schedule`. */
  put(schedule: NewSchedule): Promise<ScheduleResult<Schedule>>;
  /** Replaces the spec (validated by the caller) keeping the state; the next tick is recomputed. */
  update(id: string, spec: ScheduleSpec): Promise<ScheduleResult<Schedule>>;
  /** pause (`paused`), resume (`active`), stop (`stopped`, for good). */
  setStatus(id: string, status: Exclude<ScheduleStatus, "completed">): Promise<ScheduleResult<Schedule>>;
  delete(id: string): Promise<ScheduleResult<true>>;
  /** Starts a run now (reason `manual`); answers its execution id. */
  trigger(id: string, input?: Json): Promise<ScheduleResult<{ executionId: string; tickAt: number }>>;
  get(id: string): Promise<ScheduleResult<ScheduleDetail>>;
  list(query: { workflowId?: string; limit: number; cursor?: string | null }): Promise<Page<Schedule>>;
}
