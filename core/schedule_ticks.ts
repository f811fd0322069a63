/**
 * A schedule's ticks: the next one after a time for each kind, the jitter of a tick's fire, and the search for
 * the newest due ticks after a long outage (bounded work with only a forward `next`, as croner gives).
 *
 * @example
 * ```ts
 * import { nextTickAfter } from "./schedule_ticks.ts";
 * import type { ScheduleSpec } from "./schedule.ts";
 *
 * const spec: ScheduleSpec = {
 *   kind: "fixed_rate", cronExpression: null, timezone: "UTC", intervalMs: 1_000, startAt: null, endAt: null,
 *   input: null, jitterMs: 0, overlap: "allow", catchUp: "run_once", maxCatchUp: 100,
 * };
 * if (nextTickAfter(spec, 500, 2_600, () => undefined) !== 3_500) throw new Error("anchor + k·interval");
 * ```
 *
 * @module
 */
import { hash128 } from "./ids.ts";
import type { NextTick, ScheduleSpec } from "./schedule.ts";

/** A due tick late by at most this much plus the jitter is on time; later it is a catch-up. */
export const LATE_GRACE_BASE_MS = 1_000;

/** How late a due tick may be and still be `on_time`: {@link LATE_GRACE_BASE_MS} + the jitter. */
export function lateGraceMs(spec: ScheduleSpec): number {
  return LATE_GRACE_BASE_MS + spec.jitterMs;
}

/**
 * How long the fire of a tick waits after it: `hash(scheduleId, tickAt) mod (jitterMs + 1)` ms, the same on
 * every member and every try.
 *
 * @example
 * ```ts
 * import { jitterOf } from "./schedule_ticks.ts";
 * const j = jitterOf("sch-1", 60_000, 5_000);
 * if (j < 0 || j > 5_000 || j !== jitterOf("sch-1", 60_000, 5_000)) throw new Error();
 * if (jitterOf("sch-1", 60_000, 0) !== 0) throw new Error();
 * ```
 */
export function jitterOf(scheduleId: string, tickAt: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  return parseInt(hash128(`${scheduleId}\u0000${tickAt}`).slice(0, 12), 16) % (jitterMs + 1);
}

/** When a tick fires: the tick plus its jitter. */
export function fireTimeOf(scheduleId: string, spec: ScheduleSpec, tickAt: number): number {
  return tickAt + jitterOf(scheduleId, tickAt, spec.jitterMs);
}

/** The first tick of a fixed rate, a fixed delay and an immediate schedule: `startAt`, else the creation. */
export function anchorOf(spec: ScheduleSpec, createdAt: number): number {
  return spec.startAt ?? createdAt;
}

/**
 * The next tick strictly after `after`, within `startAt`..`endAt`; undefined when there is none. `cron`: the
 * next cron time (from `cronNext`, in the spec's zone); `fixed_rate`: anchor + k·interval; `fixed_delay` and
 * `immediate`: the anchor while it is ahead (a fixed delay's later ticks count from the end of each run:
 * `afterRunEnded` in schedule_decide.ts).
 */
export function nextTickAfter(
  spec: ScheduleSpec,
  createdAt: number,
  after: number,
  cronNext: NextTick,
): number | undefined {
  const anchor = anchorOf(spec, createdAt);
  let t: number | undefined;
  if (spec.kind === "cron") {
    t = cronNext(spec.startAt === null ? after : Math.max(after, spec.startAt - 1));
  } else if (spec.kind === "fixed_rate") {
    const interval = spec.intervalMs!;
    t = after < anchor ? anchor : anchor + (Math.floor((after - anchor) / interval) + 1) * interval;
  } else {
    t = after < anchor ? anchor : undefined;
  }
  if (t === undefined || !Number.isFinite(t) || t <= after) return undefined;
  return spec.endAt !== null && t > spec.endAt ? undefined : t;
}

/** The newest due ticks found by {@link newestDueTicks}, and the first tick after them (not due, or unknown). */
export interface NewestDue {
  ticks: number[];
  after: number | undefined;
}

/** How many ticks one probe of the window search may walk, for `n` wanted. */
const probeLimit = (n: number) => 4 * n + 16;

/**
 * The newest `n` ticks in (`from`, `until`] (fewer when there are fewer), with only a forward `next`: probes
 * windows (`until` − d, `until`], bisecting d between one with too few ticks and one too dense to walk, each
 * probe walking at most 4n + 16 ticks, at most 64 probes. `hint` is a first guess of d.
 */
export function newestTicksIn(
  next: (after: number) => number | undefined,
  from: number,
  until: number,
  n: number,
  hint: number,
): number[] {
  if (until <= from || n <= 0) return [];
  let d = Math.max(1, Math.ceil(hint));
  let few: { d: number; ticks: number[] } | undefined;
  let dense: number | undefined;
  for (let probe = 0; probe < 64; probe++) {
    const start = Math.max(from, until - d);
    const found: number[] = [];
    let t = next(start);
    while (t !== undefined && t <= until && found.length < probeLimit(n)) {
      found.push(t);
      t = next(t);
    }
    const complete = t === undefined || t > until;
    if (complete && (found.length >= n || start === from)) return found.slice(-n);
    if (complete) few = { d, ticks: found };
    else dense = d;
    const nextD = few === undefined
      ? Math.floor(d / 2)
      : dense === undefined
      ? d * 2
      : Math.floor((few.d + dense) / 2);
    if (nextD < 1 || nextD === few?.d || nextD === dense) break;
    d = nextD;
  }
  return few?.ticks ?? [];
}

/**
 * The newest `n` due ticks after `from` (a tick is due once its fire time is at most `now`, and only after
 * every earlier tick is), and the first tick after them. Ticks at or before `now − jitterMs` are due for sure
 * ({@link newestTicksIn}); from there the walk goes on while ticks are due, at most 4n + 16 of them.
 */
export function newestDueTicks(
  next: (after: number) => number | undefined,
  fireTime: (tickAt: number) => number,
  window: { from: number; now: number; jitterMs: number; n: number; hint: number },
): NewestDue {
  const { from, now, jitterMs, n, hint } = window;
  const safe = now - jitterMs;
  const ticks = newestTicksIn(next, from, safe, n, hint);
  let t = next(ticks.length > 0 ? ticks[ticks.length - 1] : Math.max(from, safe));
  for (let steps = 0; t !== undefined && fireTime(t) <= now && steps < probeLimit(n); steps++) {
    ticks.push(t);
    t = next(t);
  }
  return { ticks: ticks.slice(-n), after: t };
}
