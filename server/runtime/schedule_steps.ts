/**
 * The writes that carry out a schedule decision, in tick order: each tick to start is its own creating append
 * (the fire rides on it), and each run of ticks recorded without a run (skipped, buffered) between two starts
 * is one fenced state write. Every write stores the state as if the evaluation had stopped right after it
 * (the next tick is the next write's first one), so when an evaluation dies half-way — a crash, a lost shard,
 * a storage failure between two writes — the ticks not written yet are still due and the next evaluation
 * decides them again: no tick is left neither started nor recorded. (Writing the starts first with the final
 * state, then the skips, lost the skips' records when the second write failed: the state had moved past them.)
 *
 * @module
 */
import type { ScheduleFire, ScheduleState, ScheduleStatus } from "../../core/schedule.ts";
import type { TickDecision, TickStart } from "../../core/schedule_decide.ts";
import type { Schedule } from "../../core/schedule.ts";

/** One write of a decision, with the schedule's state and status after it. */
export type ScheduleStep =
  | { kind: "start"; start: TickStart; state: ScheduleState; status: ScheduleStatus }
  | { kind: "record"; fires: ScheduleFire[]; state: ScheduleState; status: ScheduleStatus };

/** A tick of the decision: a start or a record. */
type Item = { tickAt: number; start: TickStart } | { tickAt: number; fire: ScheduleFire };

/**
 * The writes of decision `d`, taken on `schedule`, in tick order (no write when the decision starts and
 * records nothing). The last write stores `d.state` and `d.status`.
 *
 * @example
 * ```ts
 * import { decideTicks, initialState } from "../../core/schedule_decide.ts";
 * import { SCHEDULE_DEFAULTS, type Schedule } from "../../core/schedule.ts";
 * import { stepsOf } from "./schedule_steps.ts";
 *
 * const spec = { ...SCHEDULE_DEFAULTS, kind: "fixed_rate" as const, cronExpression: null, intervalMs: 1_000,
 *   startAt: null, endAt: null, input: null };
 * const none = () => undefined;
 * const s: Schedule = { id: "s", workflowId: "w", spec, status: "active", source: "api", createdAt: 0,
 *   updatedAt: 0, version: 1, state: initialState(spec, 0, none) };
 * const steps = stepsOf(s, decideTicks(s, 3_500, none, false)); // run_once: 0, 1, 2 skipped, 3 runs
 * if (steps.map((w) => w.kind).join() !== "record,start") throw new Error();
 * if (steps[0].state.nextTickAt !== 3_000 || steps[1].state.nextTickAt !== 4_000) throw new Error();
 * ```
 */
export function stepsOf(schedule: Schedule, d: TickDecision): ScheduleStep[] {
  const items: Item[] = [
    ...d.start.map((start) => ({ tickAt: start.tickAt, start })),
    ...d.record.map((fire) => ({ tickAt: fire.tickAt, fire })),
  ].sort((a, b) => a.tickAt - b.tickAt);
  let state: ScheduleState = { ...schedule.state, bufferedTickAt: initialBuffered(schedule, d) };
  const steps: ScheduleStep[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const last = i === items.length - 1;
    state = after(state, item);
    const next = last ? undefined : items[i + 1];
    const written = last ? d.state : { ...state, nextTickAt: next!.tickAt };
    const status = last ? d.status : schedule.status;
    const previous = steps[steps.length - 1];
    if ("start" in item) steps.push({ kind: "start", start: item.start, state: written, status });
    else if (previous?.kind === "record") {
      previous.fires.push(item.fire);
      previous.state = written;
      previous.status = status;
    } else steps.push({ kind: "record", fires: [item.fire], state: written, status });
  }
  return steps;
}

/** The buffered tick the decision starts from: dropped by the decision when the policy is no longer `buffer_one`. */
function initialBuffered(schedule: Schedule, d: TickDecision): number | null {
  const b = schedule.state.bufferedTickAt;
  if (b === null) return null;
  const handled = d.start.some((s) => s.tickAt === b) || d.record.some((f) => f.tickAt === b);
  return handled || d.state.bufferedTickAt === b ? b : null;
}

/** The state after one tick of the decision is written. */
function after(state: ScheduleState, item: Item): ScheduleState {
  const lastTickAt = state.lastTickAt === null || item.tickAt > state.lastTickAt
    ? item.tickAt
    : state.lastTickAt;
  if ("start" in item) {
    const { start } = item;
    return {
      ...state,
      lastTickAt: start.reason === "manual" ? state.lastTickAt : lastTickAt,
      lastExecutionId: start.executionId,
      bufferedTickAt: state.bufferedTickAt === start.tickAt ? null : state.bufferedTickAt,
      runs: state.runs + 1,
    };
  }
  const { fire } = item;
  const bufferedTickAt = fire.outcome === "buffered"
    ? fire.tickAt
    : state.bufferedTickAt === fire.tickAt
    ? null
    : state.bufferedTickAt;
  return { ...state, lastTickAt, bufferedTickAt };
}
