/**
 * What a schedule does when its owner looks at it: the pure decision over its state, the time and whether its
 * last run is live — which ticks start (and why), which are recorded skipped or buffered, the state after, and
 * when to look again. The semantics are docs/SCHEDULES.md's:
 *
 * - Due ticks are the ticks from `state.nextTickAt` whose fire time (tick + jitter) is at most `now`,
 *   enumerated at most `maxCatchUp + 1` at a time. A single due tick late by at most
 *   {@link LATE_GRACE_BASE_MS} + jitter is `on_time`; otherwise the due ticks are a catch-up: `skip` records
 *   each skipped (`catch_up_skip`); `run_once` runs the latest (`catch_up`) and records the earlier skipped;
 *   `run_all` runs the newest `maxCatchUp` in order (`catch_up`) and records older ones skipped
 *   (`catch_up_limit`). At most `maxCatchUp + 1` fire rows come from one evaluation (plus a buffered run); ticks
 *   beyond that are passed over unrecorded and the state moves on past them.
 * - Overlap, for a tick to start while the last run is live (a run started earlier in the same evaluation
 *   counts): `allow` starts it; `skip` records it skipped (`overlap_skip`); `buffer_one` records it `buffered`
 *   and keeps it in `state.bufferedTickAt` (a second one is skipped, `overlap_buffer_full`) to start when the
 *   run ends (`buffered_run`); `cancel_other` asks to cancel the live run and starts the tick
 *   (`overlap_cancelled_other`) — when several of its ticks are due at once only the newest starts, the older
 *   ones recorded skipped (`overlap_skip`), as each would cancel the one before.
 * - A schedule with no tick left (past `endAt`, an `immediate` that fired) and nothing buffered is `completed`.
 *
 * @example
 * ```ts
 * import { decideTicks } from "./schedule_decide.ts";
 * import { initialState } from "./schedule_decide.ts";
 * import type { Schedule } from "./schedule.ts";
 *
 * const spec = {
 *   kind: "fixed_rate" as const, cronExpression: null, timezone: "UTC", intervalMs: 60_000, startAt: null,
 *   endAt: null, input: null, jitterMs: 0, overlap: "allow" as const, catchUp: "run_once" as const, maxCatchUp: 100,
 * };
 * const noCron = () => undefined;
 * const s: Schedule = {
 *   id: "sch-1", workflowId: "wf", spec, status: "active", source: "api", createdAt: 0, updatedAt: 0, version: 1,
 *   state: initialState(spec, 0, noCron),
 * };
 * const d = decideTicks(s, 10, noCron, false);
 * if (d.start.length !== 1 || d.start[0].reason !== "on_time" || d.state.nextTickAt !== 60_000) throw new Error();
 * const late = decideTicks({ ...s, state: d.state }, 600_000, noCron, false); // 10 ticks due
 * if (late.start.length !== 1 || late.start[0].tickAt !== 600_000 || late.record.length !== 9) throw new Error();
 * ```
 *
 * @module
 */
import {
  type FireReason,
  manualExecutionId,
  type NextTick,
  type Schedule,
  scheduledExecutionId,
  type ScheduleFire,
  type ScheduleSpec,
  type ScheduleState,
  type ScheduleStatus,
} from "./schedule.ts";
import { anchorOf, fireTimeOf, lateGraceMs, newestDueTicks, nextTickAfter } from "./schedule_ticks.ts";

export { LATE_GRACE_BASE_MS } from "./schedule_ticks.ts";

/** A tick to start: its execution and the fire its creating append carries. */
export interface TickStart {
  tickAt: number;
  reason: FireReason;
  /** `scheduledExecutionId(scheduleId, tickAt)`. */
  executionId: string;
  /** The `started` fire to record with the execution's creating append. */
  fire: ScheduleFire;
}

/** What an evaluation of a schedule decided. */
export interface TickDecision {
  /** Ticks to start, in order. */
  start: TickStart[];
  /** Ticks recorded without a run (`skipped`, `buffered`), oldest first. */
  record: ScheduleFire[];
  /** The state after every start and record. */
  state: ScheduleState;
  status: ScheduleStatus;
  /** Cancel the live run (the `lastExecutionId` before this decision) before starting (`cancel_other`). */
  cancelLive: boolean;
  /** When to evaluate again: the fire time of `state.nextTickAt`; null when no tick is ahead. */
  wakeAt: number | null;
}

/** No tick. */
const NO_TICKS: ReadonlySet<number> = new Set();

/** A tick chosen to run, before overlap applies. */
interface Candidate {
  tickAt: number;
  reason: FireReason;
}

/** One evaluation's running tally. */
class Tally {
  readonly start: TickStart[] = [];
  readonly record: ScheduleFire[] = [];
  live: boolean;
  buffered: number | null;
  cancelLive = false;
  lastTickAt: number | null;

  /** `taken`: ticks found recorded already; each is passed over (the state moves past it, nothing written). */
  constructor(
    readonly schedule: Schedule,
    readonly now: number,
    readonly liveRun: boolean,
    readonly taken: ReadonlySet<number> = NO_TICKS,
  ) {
    this.live = liveRun;
    this.buffered = schedule.state.bufferedTickAt;
    this.lastTickAt = schedule.state.lastTickAt;
  }

  #saw(tickAt: number): void {
    if (this.lastTickAt === null || tickAt > this.lastTickAt) this.lastTickAt = tickAt;
  }

  run(tickAt: number, reason: FireReason): void {
    if (this.taken.has(tickAt)) return this.#saw(tickAt);
    const executionId = reason === "manual"
      ? manualExecutionId(this.schedule.id, tickAt)
      : scheduledExecutionId(this.schedule.id, tickAt);
    const fire: ScheduleFire = {
      scheduleId: this.schedule.id,
      tickAt,
      firedAt: this.now,
      outcome: "started",
      reason,
      executionId,
    };
    this.start.push({ tickAt, reason, executionId, fire });
    this.live = true;
    this.#saw(tickAt);
  }

  skip(tickAt: number, reason: FireReason, outcome: "skipped" | "buffered" = "skipped"): void {
    if (this.taken.has(tickAt)) return this.#saw(tickAt);
    this.record.push({
      scheduleId: this.schedule.id,
      tickAt,
      firedAt: this.now,
      outcome,
      reason,
      executionId: null,
    });
    this.#saw(tickAt);
  }

  /** Starts or holds back each candidate by the overlap policy. */
  overlap(candidates: Candidate[]): void {
    const policy = this.schedule.spec.overlap;
    for (const c of candidates) if (this.taken.has(c.tickAt)) this.#saw(c.tickAt);
    candidates = candidates.filter((c) => !this.taken.has(c.tickAt));
    if (policy === "cancel_other" && candidates.length > 1) {
      for (const c of candidates.slice(0, -1)) this.skip(c.tickAt, "overlap_skip");
      candidates = candidates.slice(-1);
    }
    for (const c of candidates) {
      if (!this.live || policy === "allow") this.run(c.tickAt, c.reason);
      else if (policy === "skip") this.skip(c.tickAt, "overlap_skip");
      else if (policy === "buffer_one") {
        if (this.buffered === null) {
          this.buffered = c.tickAt;
          this.skip(c.tickAt, c.reason, "buffered");
        } else this.skip(c.tickAt, "overlap_buffer_full");
      } else {
        this.cancelLive = this.liveRun;
        this.run(c.tickAt, "overlap_cancelled_other");
      }
    }
  }

  /** The decision, with the next tick and the status it leads to. */
  decision(nextTickAt: number | null): TickDecision {
    const { schedule } = this;
    const last = this.start.length > 0 ? this.start[this.start.length - 1].executionId : null;
    const state: ScheduleState = {
      nextTickAt,
      lastTickAt: this.lastTickAt,
      lastExecutionId: last ?? schedule.state.lastExecutionId,
      bufferedTickAt: this.buffered,
      runs: schedule.state.runs + this.start.length,
    };
    return {
      start: this.start,
      record: this.record,
      state,
      status: statusAfter(schedule, state, this.live),
      cancelLive: this.cancelLive,
      wakeAt: nextTickAt === null ? null : fireTimeOf(schedule.id, schedule.spec, nextTickAt),
    };
  }
}

/** An active schedule is `completed` once no tick is ahead, none is buffered and no fixed delay waits for its run to end. */
function statusAfter(schedule: Schedule, state: ScheduleState, live: boolean): ScheduleStatus {
  if (schedule.status !== "active") return schedule.status;
  if (state.nextTickAt !== null || state.bufferedTickAt !== null) return schedule.status;
  if (schedule.spec.kind === "fixed_delay" && live) return schedule.status;
  return "completed";
}

/** A fixed delay's tick `interval` after `from`, unless past `endAt`. */
function delayTick(spec: ScheduleSpec, from: number): number | null {
  const t = from + spec.intervalMs!;
  return spec.endAt !== null && t > spec.endAt ? null : t;
}

/** A fixed delay's next tick after skipping the tick `skipped`: the first `skipped + k·interval` after `now`. */
function delayContinuation(spec: ScheduleSpec, skipped: number, now: number): number | null {
  const interval = spec.intervalMs!;
  const k = Math.max(1, Math.floor((now - skipped) / interval) + 1);
  const t = skipped + k * interval;
  return spec.endAt !== null && t > spec.endAt ? null : t;
}

/** The due ticks from `first`: at most `cap`, whether more are due, and the tick after the last one. */
function dueTicks(
  schedule: Schedule,
  first: number | null,
  now: number,
  next: (after: number) => number | undefined,
): { ticks: number[]; more: boolean; after: number | undefined } {
  const { id, spec } = schedule;
  const cap = spec.maxCatchUp + 1;
  const ticks: number[] = [];
  let t: number | undefined = first ?? undefined;
  while (t !== undefined && fireTimeOf(id, spec, t) <= now && ticks.length < cap) {
    ticks.push(t);
    t = spec.kind === "fixed_delay" ? undefined : next(t);
  }
  const more = ticks.length === cap && t !== undefined && fireTimeOf(id, spec, t) <= now;
  return { ticks, more, after: t };
}

/** The ticks to run and to record skipped by the catch-up policy, and the first tick after them. */
function catchUp(
  schedule: Schedule,
  due: { ticks: number[]; more: boolean; after: number | undefined },
  now: number,
  next: (after: number) => number | undefined,
): { run: Candidate[]; skipped: Candidate[]; after: number | undefined } {
  const { spec } = schedule;
  const { ticks, more } = due;
  const last = ticks[ticks.length - 1];
  const newest = (n: number) => {
    if (!more) return { ticks: ticks.slice(-n), after: due.after };
    const hint = (ticks.length > 1 ? (last - ticks[0]) / (ticks.length - 1) : 1_000) * n * 1.5;
    const found = newestDueTicks(next, (t) => fireTimeOf(schedule.id, spec, t), {
      from: last,
      now,
      jitterMs: spec.jitterMs,
      n,
      hint,
    });
    return { ticks: [...ticks, ...found.ticks].slice(-n), after: found.after };
  };
  const tag = (reason: FireReason) => (tickAt: number): Candidate => ({ tickAt, reason });
  if (!more && ticks.length === 1 && now - ticks[0] <= lateGraceMs(spec)) {
    return { run: [tag("on_time")(ticks[0])], skipped: [], after: due.after };
  }
  if (spec.catchUp === "skip") {
    return { run: [], skipped: ticks.map(tag("catch_up_skip")), after: more ? newest(1).after : due.after };
  }
  const chosen = newest(spec.catchUp === "run_once" ? 1 : spec.maxCatchUp);
  const older = ticks.filter((t) => t < chosen.ticks[0]);
  const budget = spec.maxCatchUp + 1 - chosen.ticks.length;
  const reason = spec.catchUp === "run_once" ? "catch_up_skip" : "catch_up_limit";
  return {
    run: chosen.ticks.map(tag("catch_up")),
    skipped: older.slice(0, budget).map(tag(reason)),
    after: chosen.after,
  };
}

/** A decision that changes nothing. */
function unchanged(schedule: Schedule): TickDecision {
  const next = schedule.status === "active" ? schedule.state.nextTickAt : null;
  return {
    start: [],
    record: [],
    state: schedule.state,
    status: schedule.status,
    cancelLive: false,
    wakeAt: next === null ? null : fireTimeOf(schedule.id, schedule.spec, next),
  };
}

/**
 * Evaluates an `active` schedule at `now` (anything else: no change): starts a buffered tick whose blocker
 * ended, then decides every due tick by the catch-up and overlap policies (see the module's text). `liveRun`:
 * whether the execution `state.lastExecutionId` is still running. `cronNext`: the cron times of the spec
 * (unused by the other kinds). `taken`: ticks storage refused as recorded already (a write of this decision
 * made before, or a manual run's): they are passed over — neither started nor recorded again, but the state
 * moves past them, so a refused tick is never decided again.
 */
export function decideTicks(
  schedule: Schedule,
  now: number,
  cronNext: NextTick,
  liveRun: boolean,
  taken: ReadonlySet<number> = NO_TICKS,
): TickDecision {
  if (schedule.status !== "active") return unchanged(schedule);
  const { spec, state, createdAt } = schedule;
  const next = (after: number) => nextTickAfter(spec, createdAt, after, cronNext);
  const tally = new Tally(schedule, now, liveRun, taken);
  if (tally.buffered !== null && spec.overlap !== "buffer_one") tally.buffered = null; // the policy changed
  if (tally.buffered !== null && taken.has(tally.buffered)) tally.buffered = null; // it started before
  if (tally.buffered !== null && !liveRun) {
    tally.run(tally.buffered, "buffered_run");
    tally.buffered = null;
  }
  let first = state.nextTickAt;
  if (first === null && spec.kind === "fixed_delay" && !liveRun && state.lastTickAt !== null) {
    first = delayTick(spec, now); // its run ended unseen: the delay counts from now
  }
  if (first !== null && state.lastTickAt !== null && first <= state.lastTickAt) {
    first = spec.kind === "fixed_delay"
      ? delayContinuation(spec, state.lastTickAt, state.lastTickAt)
      : next(state.lastTickAt) ?? null;
  }
  const due = dueTicks(schedule, first, now, next);
  if (due.ticks.length === 0) return tally.decision(first);
  const chosen = catchUp(schedule, due, now, next);
  for (const c of chosen.skipped) tally.skip(c.tickAt, c.reason);
  tally.overlap(chosen.run);
  if (spec.kind !== "fixed_delay") return tally.decision(chosen.after ?? null);
  return tally.decision(tally.live ? null : delayContinuation(spec, tally.lastTickAt!, now));
}

/**
 * The schedule's last run (`executionId`) ended at `endedAt`: a buffered tick starts now (`buffered_run`), and a
 * fixed delay's next tick is `endedAt + interval`. A run other than `state.lastExecutionId` changes nothing.
 */
export function afterRunEnded(
  schedule: Schedule,
  endedAt: number,
  executionId: string,
  now = endedAt,
): TickDecision {
  const { spec, state, status } = schedule;
  if (executionId !== state.lastExecutionId || status === "stopped" || status === "completed") {
    return unchanged(schedule);
  }
  const tally = new Tally(schedule, now, false);
  if (tally.buffered !== null && spec.overlap === "buffer_one" && status === "active") {
    tally.run(tally.buffered, "buffered_run");
    tally.buffered = null;
  }
  let next = state.nextTickAt;
  if (spec.kind === "fixed_delay" && next === null && !tally.live) next = delayTick(spec, endedAt);
  return tally.decision(next);
}

/** Milliseconds a manual trigger's tick may move on past nominal ticks (each kind's ticks are ≥ 1 s apart). */
const MANUAL_TICK_TRIES = 8;

/**
 * The tick of a manual trigger asked at `now`: `now`, or the first millisecond after it that is no nominal
 * tick of the schedule (its next, last or buffered tick, or a tick of its spec), so that the manual run's fire
 * never takes the record of a tick (fires are recorded once per tick time) and no tick is refused for it.
 */
export function manualTickAt(schedule: Schedule, now: number, cronNext: NextTick): number {
  const { spec, state, createdAt } = schedule;
  const nominal = (t: number) =>
    t === state.nextTickAt || t === state.lastTickAt || t === state.bufferedTickAt ||
    (spec.kind !== "fixed_delay" && nextTickAfter(spec, createdAt, t - 1, cronNext) === t);
  let t = now;
  for (let i = 0; i < MANUAL_TICK_TRIES && nominal(t); i++) t++;
  return t;
}

/**
 * A manual trigger (`POST /api/v1/schedules/{id}/trigger`) at `now`: one run, reason `manual`, whatever the
 * overlap policy (a person asked for it), with its tick at {@link manualTickAt} and its own execution id
 * (`manualExecutionId`: `<scheduleId>@m<tick>`). The nominal ticks are untouched (`lastTickAt` and
 * `nextTickAt` stay).
 */
export function manualTrigger(schedule: Schedule, now: number, cronNext: NextTick): TickDecision {
  const tally = new Tally(schedule, now, false);
  tally.run(manualTickAt(schedule, now, cronNext), "manual");
  tally.lastTickAt = schedule.state.lastTickAt;
  const decision = tally.decision(schedule.state.nextTickAt);
  return { ...decision, status: schedule.status };
}

/** The state of a new schedule: its first tick at or after `createdAt` (a fixed rate's or delay's anchor). */
export function initialState(spec: ScheduleSpec, createdAt: number, cronNext: NextTick): ScheduleState {
  return {
    nextTickAt: firstTick(spec, createdAt, cronNext),
    lastTickAt: null,
    lastExecutionId: null,
    bufferedTickAt: null,
    runs: 0,
  };
}

/**
 * The first tick of a new schedule: the first at or after its creation. A fixed delay or an immediate
 * schedule whose `startAt` is already past ticks at the creation (within `endAt`), not never.
 */
function firstTick(spec: ScheduleSpec, createdAt: number, cronNext: NextTick): number | null {
  const next = nextTickAfter(spec, createdAt, createdAt - 1, cronNext);
  if (next !== undefined) return next;
  const pastStart = spec.startAt !== null && spec.startAt < createdAt;
  const oneShot = spec.kind === "fixed_delay" || spec.kind === "immediate";
  return oneShot && pastStart && (spec.endAt === null || createdAt <= spec.endAt) ? createdAt : null;
}

/**
 * The state after the spec changes to `spec` at `now`: the next tick is the new spec's first after both `now`
 * and the last recorded tick (no tick of the new spec before the change is made up). A fixed delay waits for a
 * live run; else its pending tick moves by the change of interval, or it ticks at its anchor (or now).
 */
export function respecState(
  schedule: Schedule,
  spec: ScheduleSpec,
  now: number,
  cronNext: NextTick,
  liveRun: boolean,
): ScheduleState {
  const { state } = schedule;
  const bufferedTickAt = spec.overlap === "buffer_one" ? state.bufferedTickAt : null;
  let nextTickAt: number | null;
  if (spec.kind !== "fixed_delay") {
    nextTickAt =
      nextTickAfter(spec, schedule.createdAt, Math.max(now - 1, state.lastTickAt ?? -Infinity), cronNext) ??
        null;
  } else if (liveRun) nextTickAt = null;
  else if (state.lastTickAt === null) {
    nextTickAt = Math.max(anchorOf(spec, schedule.createdAt), now);
  } else if (schedule.spec.kind === "fixed_delay" && state.nextTickAt !== null) {
    nextTickAt = Math.max(now, state.nextTickAt - schedule.spec.intervalMs! + spec.intervalMs!);
  } else nextTickAt = now + spec.intervalMs!;
  if (nextTickAt !== null && spec.endAt !== null && nextTickAt > spec.endAt) nextTickAt = null;
  if (nextTickAt !== null && state.lastTickAt !== null && nextTickAt <= state.lastTickAt) {
    nextTickAt = spec.kind === "fixed_delay"
      ? null
      : nextTickAfter(spec, schedule.createdAt, state.lastTickAt, cronNext) ?? null;
  }
  return { ...state, nextTickAt, bufferedTickAt };
}

/** The next `count` fire times (tick + jitter) of an active schedule; a fixed delay knows only its next one. */
export function nextFireTimes(schedule: Schedule, count: number, cronNext: NextTick): number[] {
  if (schedule.status !== "active") return [];
  const { id, spec, createdAt } = schedule;
  const out: number[] = [];
  let t: number | undefined = schedule.state.nextTickAt ?? undefined;
  while (t !== undefined && out.length < count) {
    out.push(fireTimeOf(id, spec, t));
    t = spec.kind === "fixed_delay" ? undefined : nextTickAfter(spec, createdAt, t, cronNext);
  }
  return out;
}
