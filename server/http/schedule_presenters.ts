/**
 * The API's schedule bodies: pure projections of stored schedules and their fires into the shapes docs/API.md
 * describes (times in epoch ms; `scheduleType` beside `kind` and `enabled` beside `status`, as the old engine's
 * clients read them), the `scheduleStatus` line of a workflow create, and the templates.
 *
 * @module
 */
import type { Schedule, ScheduleFire } from "../../core/schedule.ts";
import type { ScheduleDetail } from "../runtime/schedule_service.ts";

const UNITS: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]];

/**
 * A duration in the largest unit that divides it: `3600000` → `1h`, `90000` → `90s`, `1500` → `1500ms`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./schedule_presenters.ts";
 * if (formatDuration(3_600_000) !== "1h" || formatDuration(90_000) !== "90s") throw new Error();
 * ```
 */
export function formatDuration(ms: number): string {
  for (const [unit, size] of UNITS) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** A schedule as lists and writes show it: its spec, status and state, flat. */
export function scheduleBody(s: Schedule) {
  const { spec, state } = s;
  return {
    scheduleId: s.id,
    workflowId: s.workflowId,
    kind: spec.kind,
    scheduleType: spec.kind,
    enabled: s.status === "active",
    status: s.status,
    source: s.source,
    cronExpression: spec.cronExpression,
    timezone: spec.timezone,
    interval: spec.intervalMs === null ? null : formatDuration(spec.intervalMs),
    intervalMs: spec.intervalMs,
    startAt: spec.startAt,
    endAt: spec.endAt,
    jitterMs: spec.jitterMs,
    overlap: spec.overlap,
    catchUp: spec.catchUp,
    maxCatchUp: spec.maxCatchUp,
    input: spec.input,
    nextTickAt: state.nextTickAt,
    lastTickAt: state.lastTickAt,
    lastExecutionId: state.lastExecutionId,
    bufferedTickAt: state.bufferedTickAt,
    runs: state.runs,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    version: s.version,
  };
}

/** One fire: the tick, when it was recorded, what became of it and why, and the execution it started. */
export function fireBody(f: ScheduleFire) {
  return {
    tickAt: f.tickAt,
    firedAt: f.firedAt,
    outcome: f.outcome,
    reason: f.reason,
    executionId: f.executionId,
  };
}

/** `GET /api/v1/schedules/{id}`: the schedule, its next fire times and its latest fires (newest first). */
export function scheduleDetailBody(d: ScheduleDetail) {
  return {
    ...scheduleBody(d.schedule),
    nextFireTimes: d.nextFireTimes,
    recentFires: d.recentFires.map(fireBody),
  };
}

/** What a schedule's spec says, in words: `cron 0 * * * * (UTC)`, `fixed_rate every 1h`, ... */
export function describeSpec(s: Schedule): string {
  const { spec } = s;
  if (spec.kind === "cron") return `cron ${spec.cronExpression} (${spec.timezone})`;
  if (spec.kind === "fixed_rate") return `fixed_rate every ${formatDuration(spec.intervalMs!)}`;
  if (spec.kind === "fixed_delay") return `fixed_delay ${formatDuration(spec.intervalMs!)} after each run`;
  return "immediate";
}

/**
 * The `scheduleStatus` of a workflow create or update: `none` without `metadata.schedule`, `disabled` for
 * `enabled: false`, else `scheduled: <what>, next <ISO time>` (or why no tick is ahead).
 */
export function scheduleStatusText(s: Schedule | null): string {
  if (s === null) return "none";
  if (s.status === "paused") return "disabled";
  if (s.status === "stopped") return `stopped: ${describeSpec(s)}`;
  const next = s.state.nextTickAt;
  if (next !== null) return `scheduled: ${describeSpec(s)}, next ${new Date(next).toISOString()}`;
  if (s.status === "completed") return `scheduled: ${describeSpec(s)}, no tick ahead (completed)`;
  return `scheduled: ${describeSpec(s)}, next after the running execution ends`;
}

/** Example schedules (`GET /api/v1/schedules/templates`): each, with a `workflowId`, a `POST /api/v1/schedules/add` body. */
export const SCHEDULE_TEMPLATES: readonly {
  name: string;
  description: string;
  schedule: Record<string, unknown>;
}[] = [
  {
    name: "hourly",
    description: "At minute 0 of every hour (UTC)",
    schedule: { scheduleType: "cron", cronExpression: "0 * * * *", timezone: "UTC" },
  },
  {
    name: "nightly-berlin",
    description:
      "Every night at 02:00 in Berlin; on the spring-forward night at 03:00, never twice in autumn",
    schedule: { kind: "cron", cronExpression: "0 2 * * *", timezone: "Europe/Berlin", catchUp: "run_once" },
  },
  {
    name: "weekdays-9am-new-york",
    description: "Mondays to Fridays at 09:00 New York time, spread over 30 s",
    schedule: { kind: "cron", cronExpression: "0 9 * * 1-5", timezone: "America/New_York", jitter: "30s" },
  },
  {
    name: "every-10-seconds",
    description: "Every 10 s (6 fields: seconds first); a tick due while the last run is live is skipped",
    schedule: { kind: "cron", cronExpression: "*/10 * * * * *", overlap: "skip", catchUp: "skip" },
  },
  {
    name: "every-5-minutes",
    description: "Every 5 minutes from its creation; after downtime the missed ticks each run, at most 12",
    schedule: { scheduleType: "fixed_rate", interval: "5m", catchUp: "run_all", maxCatchUp: 12 },
  },
  {
    name: "30s-after-each-run",
    description: "Runs, waits 30 s after the run ends, runs again",
    schedule: { kind: "fixed_delay", interval: "30s" },
  },
  {
    name: "once-now",
    description: "Once, right away",
    schedule: { scheduleType: "immediate" },
  },
  {
    name: "old-engine-metadata",
    description: "The old engine's metadata.schedule, accepted as it is",
    schedule: { enabled: true, scheduleType: "fixed_rate", interval: "1h" },
  },
];
