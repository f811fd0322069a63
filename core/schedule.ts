/**
 * Schedules: the model. A schedule belongs to a workflow and starts executions of its latest version at
 * ticks — cron times, a fixed rate, a fixed delay after the previous run, or once at creation. It lives in the
 * shard of its id (`shardOf(scheduleId)`), and so do the executions it starts: their ids are
 * `<scheduleId>@<tickAt>` ({@link scheduledExecutionId}), which `shardOf` routes by the part before the `@`.
 * A fire and the execution it starts are one fenced append, and a tick is recorded once
 * ({@link ScheduleFire}, keyed by schedule id and tick time), so no tick fires twice across a cluster.
 *
 * Pure data and pure functions only: cron times are computed outside the core (croner) and passed in as a
 * {@link NextTick} function, like every other time.
 *
 * @example
 * ```ts
 * import { scheduledExecutionId, scheduleIdempotencyKey } from "./schedule.ts";
 * import { shardOf } from "./ids.ts";
 *
 * const id = scheduledExecutionId("sch-nightly", 1_700_000_000_000);
 * if (id !== "sch-nightly@1700000000000") throw new Error(id);
 * if (shardOf(id) !== shardOf("sch-nightly")) throw new Error("a run lives in its schedule's shard");
 * if (scheduleIdempotencyKey("sch-nightly", 1_700_000_000_000) !== "schedule:sch-nightly:1700000000000") throw new Error();
 * ```
 *
 * @module
 */
import type { Json } from "./json.ts";

/** The kinds of schedule. */
export const SCHEDULE_KINDS = ["cron", "fixed_rate", "fixed_delay", "immediate"] as const;
/** A kind of schedule: cron times, a fixed rate, a fixed delay after each run ends, or once at creation. */
export type ScheduleKind = typeof SCHEDULE_KINDS[number];

/** What a due tick does while the schedule's previous run is live. */
export const OVERLAP_POLICIES = ["allow", "skip", "buffer_one", "cancel_other"] as const;
/** `allow` starts anyway; `skip` records a skip; `buffer_one` keeps one tick to start when the run ends; `cancel_other` cancels the live run first. */
export type OverlapPolicy = typeof OVERLAP_POLICIES[number];

/** What happens to ticks missed while the schedule could not fire (its owner down, the schedule paused). */
export const CATCH_UP_POLICIES = ["skip", "run_once", "run_all"] as const;
/** `skip` runs none of the missed ticks; `run_once` runs the latest; `run_all` runs each (at most `maxCatchUp`). */
export type CatchUpPolicy = typeof CATCH_UP_POLICIES[number];

/** The life of a schedule: only an `active` one fires; `completed` is past its `endAt` or an `immediate` that ran. */
export const SCHEDULE_STATUSES = ["active", "paused", "stopped", "completed"] as const;
/** See {@link SCHEDULE_STATUSES}. */
export type ScheduleStatus = typeof SCHEDULE_STATUSES[number];

/** Defaults of the optional fields. */
export const SCHEDULE_DEFAULTS = Object.freeze({
  timezone: "UTC",
  overlap: "allow" as OverlapPolicy,
  catchUp: "run_once" as CatchUpPolicy,
  maxCatchUp: 100,
  jitterMs: 0,
});

/** The shortest interval of `fixed_rate` and `fixed_delay`, ms. */
export const MIN_INTERVAL_MS = 1_000;
/** The most `maxCatchUp` may be. */
export const MAX_CATCH_UP = 10_000;
/** How many fires of a schedule storage keeps (the newest). */
export const FIRES_KEPT = 1_000;

/** When a schedule fires, and what its runs get: validated and normalised (times in epoch ms). */
export interface ScheduleSpec {
  kind: ScheduleKind;
  /** `cron` only: 5 fields (minute precision) or 6 (seconds first). */
  cronExpression: string | null;
  /** `cron` only: an IANA time zone; DST is honoured. */
  timezone: string;
  /** `fixed_rate` and `fixed_delay`: the interval, ms (≥ {@link MIN_INTERVAL_MS}). */
  intervalMs: number | null;
  /** No tick before this time (a fixed rate counts from it). */
  startAt: number | null;
  /** No tick after this time; then the schedule is `completed`. */
  endAt: number | null;
  /** The input of each run. */
  input: Json;
  /** Each fire waits a further 0 to `jitterMs` ms, fixed per tick (a hash of the schedule id and the tick). */
  jitterMs: number;
  overlap: OverlapPolicy;
  catchUp: CatchUpPolicy;
  maxCatchUp: number;
}

/** What the owner keeps of a schedule between fires. */
export interface ScheduleState {
  /** The next tick, or null when none is due (stopped, completed, or a fixed delay waiting for its run). */
  nextTickAt: number | null;
  /** The latest tick recorded (fired or skipped). */
  lastTickAt: number | null;
  /** The execution of the latest started tick. */
  lastExecutionId: string | null;
  /** `buffer_one`: the tick waiting for the live run to end. */
  bufferedTickAt: number | null;
  /** Ticks started so far. */
  runs: number;
}

/** A schedule as stored. */
export interface Schedule {
  /** {@link SCHEDULE_ID_PATTERN} (never `@`, which routes executions). */
  id: string;
  workflowId: string;
  spec: ScheduleSpec;
  status: ScheduleStatus;
  /** `metadata`: from the workflow's `metadata.schedule` (replaced with it); `api`: made through the API. */
  source: "metadata" | "api";
  createdAt: number;
  updatedAt: number;
  /** Bumped by every change of spec or status (compare-and-set). */
  version: number;
  state: ScheduleState;
}

/** What became of a tick. */
export type FireOutcome = "started" | "skipped" | "buffered";

/** Why a tick was started or skipped. */
export type FireReason =
  | "on_time"
  | "catch_up"
  | "manual"
  | "buffered_run"
  | "overlap_skip"
  | "overlap_buffer_full"
  | "overlap_cancelled_other"
  | "catch_up_skip"
  | "catch_up_limit"
  | "workflow_missing"
  /** The workflow's concurrency key does not evaluate over the schedule's input: no run. */
  | "concurrency_key_invalid";

/** One tick's record: stored once per (schedule id, tick time). */
export interface ScheduleFire {
  scheduleId: string;
  /**
   * The nominal tick time. A manual trigger's: the time it was asked, moved on by a millisecond or two when
   * that is a nominal tick's time (`manualTickAt`), so the two never share a record.
   */
  tickAt: number;
  /** When it was recorded. */
  firedAt: number;
  outcome: FireOutcome;
  reason: FireReason;
  /** The execution it started (`started` only). */
  executionId: string | null;
}

/** Why an execution started: a submission through the API, or a schedule's tick. */
export type ExecutionTrigger =
  | { kind: "api" }
  | { kind: "schedule"; scheduleId: string; tickAt: number };

/** The next tick strictly after `after` (epoch ms), or undefined when there is none. Cron comes from outside. */
export type NextTick = (after: number) => number | undefined;

/** The id of the execution a schedule's tick starts: in the schedule's shard (see `shardOf`). */
export function scheduledExecutionId(scheduleId: string, tickAt: number): string {
  return `${scheduleId}@${tickAt}`;
}

/** The Idempotency-Key of a tick's execution: a retried fire is a duplicate, never a second run. */
export function scheduleIdempotencyKey(scheduleId: string, tickAt: number): string {
  return `schedule:${scheduleId}:${tickAt}`;
}

/**
 * The id of the execution a manual trigger starts (`POST /api/v1/schedules/{id}/trigger`) at `tickAt`:
 * `<scheduleId>@m<tickAt>`, in the schedule's shard like its ticks' runs but never one of their ids, so a
 * manual run can never take a nominal tick's execution (or be taken for one).
 *
 * @example
 * ```ts
 * import { manualExecutionId, scheduledExecutionId } from "./schedule.ts";
 * import { shardOf } from "./ids.ts";
 * const id = manualExecutionId("sch-1", 1_700_000_000_000);
 * if (id !== "sch-1@m1700000000000" || id === scheduledExecutionId("sch-1", 1_700_000_000_000)) throw new Error();
 * if (shardOf(id) !== shardOf("sch-1")) throw new Error("routed by the schedule id");
 * ```
 */
export function manualExecutionId(scheduleId: string, tickAt: number): string {
  return `${scheduleId}@m${tickAt}`;
}

/** The Idempotency-Key of a manual trigger's execution: apart from every tick's ({@link scheduleIdempotencyKey}). */
export function manualIdempotencyKey(scheduleId: string, tickAt: number): string {
  return `schedule:${scheduleId}:m${tickAt}`;
}

/**
 * Whether two specs are the same (their input compared as JSON values, whatever the order of its keys): a
 * workflow's `metadata.schedule` sent again unchanged changes nothing.
 *
 * @example
 * ```ts
 * import { SCHEDULE_DEFAULTS, sameScheduleSpec, type ScheduleSpec } from "./schedule.ts";
 * const a: ScheduleSpec = { ...SCHEDULE_DEFAULTS, kind: "fixed_rate", cronExpression: null, intervalMs: 60_000,
 *   startAt: null, endAt: null, input: { x: 1, y: [2] } };
 * if (!sameScheduleSpec(a, { ...a, input: { y: [2], x: 1 } })) throw new Error("key order does not count");
 * if (sameScheduleSpec(a, { ...a, intervalMs: 120_000 })) throw new Error();
 * ```
 */
export function sameScheduleSpec(a: ScheduleSpec, b: ScheduleSpec): boolean {
  return canonical(a) === canonical(b);
}

/** JSON text with object keys sorted. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A schedule id: 1 to 140 of `A-Z a-z 0-9 . _ : -` (room for `wf:` and a workflow id). */
export const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,140}$/;

/** The id of the schedule a workflow's `metadata.schedule` makes. */
export function metadataScheduleId(workflowId: string): string {
  return `wf:${workflowId}`;
}
