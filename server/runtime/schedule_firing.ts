/**
 * Carrying out a schedule decision (`core/schedule_decide.ts`) on the owner: the live run cancelled
 * (`cancel_other`), then, in tick order (`schedule_steps.ts`), each tick to start submitted to the engine with
 * its fire riding on the execution's creating append (one fenced write: a tick recorded before is refused,
 * never a second run), and the skipped and buffered ticks between recorded (fenced by the shard's epoch); each
 * write leaves the state as if the evaluation stopped after it. Every refusal comes back
 * as a value the scheduler acts on: the schedule changed (decide again), the shard is lost (stop firing it),
 * storage failed (retry later).
 *
 * @module
 */
import type { Json } from "../../core/json.ts";
import {
  manualIdempotencyKey,
  type NextTick,
  type Schedule,
  type ScheduleFire,
  scheduleIdempotencyKey,
  type ScheduleSpec,
  type ScheduleState,
  type ScheduleStatus,
} from "../../core/schedule.ts";
import type { TickDecision, TickStart } from "../../core/schedule_decide.ts";
import { fireTimeOf } from "../../core/schedule_ticks.ts";
import type { Fence, ScheduleStore, StoredWorkflow } from "../../storage/storage.ts";
import { MAX_FIRES_PER_WRITE } from "../../storage/schedule_rules.ts";
import type { Clock } from "./clock.ts";
import { concurrencyKeyOf } from "./concurrency.ts";
import type { Engine } from "./engine.ts";
import type { Logger } from "./logger.ts";
import type { SchedulerObserver } from "./schedule_observer.ts";
import { stepsOf } from "./schedule_steps.ts";

/** The engine as the scheduler uses it. */
export type SchedulerEngine = Pick<
  Engine,
  "submit" | "cancel" | "runState" | "onShards" | "releaseShard" | "shardCount" | "ready"
>;

/** The latest version of a workflow to start runs of (the node's `WorkflowService` caches it). */
export interface LatestWorkflows {
  latestForExecute(id: string): Promise<StoredWorkflow | undefined>;
  /** Drops a cached version that turned out stale (`workflow_changed`). */
  forgetLatest(id: string): void;
}

/** What carrying out a decision needs. */
export interface FiringDeps {
  engine: SchedulerEngine;
  store: ScheduleStore;
  workflows: LatestWorkflows;
  clock: Clock;
  log: Logger;
  observer?: SchedulerObserver;
  /** The cron times of a spec (croner, in its zone). */
  cronNext: (spec: ScheduleSpec) => NextTick;
}

/** How carrying out a decision ended. */
export type Applied =
  /**
   * Every write made: the schedule as it is now, and the executions started; `skipped` says why the ticks to
   * start were recorded skipped instead (the workflow is gone, or its concurrency key does not evaluate).
   */
  | {
    kind: "done";
    schedule: Schedule;
    started: TickStart[];
    skipped?: "workflow_missing" | "concurrency_key_invalid";
  }
  /** The schedule moved under the decision (changed, deleted, a tick recorded by another try): decide again. */
  | { kind: "changed"; why: string }
  /**
   * Storage refused tick `tickAt` as recorded already (its run exists, or its record): decide again passing it
   * over (`decideTicks`' `taken`), so that the state moves past it instead of trying it again for ever.
   */
  | { kind: "recorded"; tickAt: number; why: string }
  /** The shard's epoch moved on: this node no longer owns it. */
  | { kind: "lost" }
  /** Storage failed, or the engine could not take the run now: try again later. */
  | { kind: "retry"; why: string };

/**
 * Carries out decisions of the schedules this node owns.
 */
export class ScheduleFiring {
  constructor(private readonly deps: FiringDeps) {}

  /** The cron times of `schedule`'s spec. */
  cronNext(schedule: Schedule): NextTick {
    return this.deps.cronNext(schedule.spec);
  }

  /**
   * Whether the schedule's last started run is still running, when its decision depends on it (an overlap
   * policy other than `allow`, a fixed delay, a buffered tick); false when it does not (no read).
   */
  async liveRun(schedule: Schedule): Promise<boolean> {
    const { spec, state } = schedule;
    const matters = spec.overlap !== "allow" || spec.kind === "fixed_delay" || state.bufferedTickAt !== null;
    const id = state.lastExecutionId;
    if (id === null || !matters) return false;
    return (await this.deps.engine.runState(id))?.running === true;
  }

  /**
   * Carries out `d`, decided on `schedule` as read, under `fence` (the shard's epoch this node holds).
   * `input` overrides the spec's input (a manual trigger). Never throws: storage errors are `retry`.
   */
  async apply(schedule: Schedule, d: TickDecision, fence: Fence, input?: Json): Promise<Applied> {
    try {
      return await this.#apply(schedule, d, fence, input);
    } catch (err) {
      return { kind: "retry", why: String(err) };
    }
  }

  async #apply(schedule: Schedule, d: TickDecision, fence: Fence, input?: Json): Promise<Applied> {
    let workflow: StoredWorkflow | undefined;
    let skipped: "workflow_missing" | "concurrency_key_invalid" | undefined;
    if (d.start.length > 0) {
      workflow = await this.deps.workflows.latestForExecute(schedule.workflowId);
      if (!workflow) skipped = "workflow_missing";
      else if (!(await this.#keyEvaluates(schedule, workflow, input ?? schedule.spec.input))) {
        skipped = "concurrency_key_invalid";
      }
      if (skipped !== undefined) d = withoutWorkflow(schedule, d, this.deps.clock.now(), skipped);
    }
    if (d.cancelLive && schedule.state.lastExecutionId !== null && d.start.length > 0) {
      await this.#cancelLive(schedule.state.lastExecutionId, d.start[d.start.length - 1].tickAt);
    }
    const steps = stepsOf(schedule, d);
    if (steps.length === 0) {
      if (sameState(schedule, d)) {
        this.#catchUp(schedule, d);
        const after = { ...schedule, state: d.state, status: d.status };
        return { kind: "done", schedule: after, started: [], ...(skipped && { skipped }) };
      }
      steps.push({ kind: "record", fires: [], state: d.state, status: d.status });
    }
    // In tick order, each write leaving the state as if the evaluation stopped after it (schedule_steps.ts).
    const started: TickStart[] = [];
    let current: Schedule = schedule;
    for (const step of steps) {
      if (step.kind === "start") {
        const r = await this.#start(schedule, step.start, step, workflow!, input);
        if (r !== undefined) return r;
        started.push(step.start);
        current = { ...current, state: step.state, status: step.status };
        continue;
      }
      const r = await this.deps.store.recordScheduleState({
        scheduleId: schedule.id,
        fence,
        expectedVersion: schedule.version,
        fires: step.fires,
        state: step.state,
        status: step.status,
      });
      if (!r.ok) {
        if (r.error.code === "stale_epoch") return { kind: "lost" };
        if (r.error.code === "tick_recorded") {
          return { kind: "recorded", tickAt: r.error.tickAt, why: r.error.message };
        }
        return { kind: "changed", why: r.error.message };
      }
      this.#recorded(schedule, step.fires);
      current = r.schedule;
    }
    this.#catchUp(schedule, d);
    return { kind: "done", schedule: current, started, ...(skipped && { skipped }) };
  }

  /**
   * Whether the workflow's concurrency key (if it has one) evaluates over the runs' input. A run of a keyed
   * workflow starts queued or admitted on this node, the owner of the schedule's shard (its id is the
   * schedule's, not the key's); a key that does not evaluate records the ticks skipped, since the same input
   * would fail every time.
   */
  async #keyEvaluates(schedule: Schedule, workflow: StoredWorkflow, input: Json): Promise<boolean> {
    const concurrency = workflow.definition.concurrency;
    if (concurrency === undefined) return true;
    const k = await concurrencyKeyOf(concurrency.key, input);
    if (!k.ok) {
      this.deps.log.warn("schedule tick skipped: the concurrency key does not evaluate", {
        scheduleId: schedule.id,
        error: k.message,
      });
    }
    return k.ok;
  }

  /** One `schedule_catch_up` event for a decision that caught up on missed ticks. */
  #catchUp(schedule: Schedule, d: TickDecision): void {
    const { started, skipped } = catchUpOf(d);
    if (started + skipped === 0) return;
    this.deps.observer?.event?.("schedule_catch_up", {
      scheduleId: schedule.id,
      policy: schedule.spec.catchUp,
      started,
      skipped,
    });
  }

  /** Starts one tick's run; undefined when it started, else why not. */
  async #start(
    schedule: Schedule,
    s: TickStart,
    after: { state: ScheduleState; status: ScheduleStatus },
    workflow: StoredWorkflow,
    input: Json | undefined,
  ): Promise<Applied | undefined> {
    const { engine, clock } = this.deps;
    const fire: ScheduleFire = { ...s.fire, firedAt: clock.now() };
    const r = await engine.submit(workflow, {
      executionId: s.executionId,
      idempotencyKey: s.reason === "manual"
        ? manualIdempotencyKey(schedule.id, s.tickAt)
        : scheduleIdempotencyKey(schedule.id, s.tickAt),
      input: input ?? schedule.spec.input,
      trigger: { kind: "schedule", scheduleId: schedule.id, tickAt: s.tickAt },
      requireLatestVersion: true,
      scheduleFire: { fire, state: after.state, status: after.status, expectedVersion: schedule.version },
    });
    if (r.ok && r.value.created) {
      const lagMs = s.reason === "buffered_run" || s.reason === "manual"
        ? null
        : clock.now() - fireTimeOf(schedule.id, schedule.spec, s.tickAt);
      this.deps.observer?.fire?.(fire, lagMs);
      this.deps.observer?.event?.("schedule_fired", {
        scheduleId: schedule.id,
        tickAt: s.tickAt,
        executionId: s.executionId,
        reason: s.reason,
      });
      return undefined;
    }
    if (r.ok) {
      return {
        kind: "recorded",
        tickAt: s.tickAt,
        why: `tick ${s.tickAt} started before (${s.executionId})`,
      };
    }
    const code = r.error.code;
    if (code === "tick_recorded") return { kind: "recorded", tickAt: s.tickAt, why: r.error.message };
    if (code === "schedule_changed") return { kind: "changed", why: r.error.message };
    if (code === "workflow_changed") {
      this.deps.workflows.forgetLatest(schedule.workflowId);
      return { kind: "changed", why: r.error.message };
    }
    if (code === "not_owner") return { kind: "lost" };
    return { kind: "retry", why: `${code}: ${r.error.message}` };
  }

  /** `cancel_other`: the live run is cancelled before the tick starts (a run already ended is fine). */
  async #cancelLive(executionId: string, tickAt: number): Promise<void> {
    const r = await this.deps.engine.cancel(
      executionId,
      `superseded by schedule tick ${new Date(tickAt).toISOString()}`,
    );
    if (!r.ok && r.error.code !== "execution_terminal") {
      this.deps.log.warn("could not cancel the live run of a schedule", { executionId, error: r.error.code });
    }
  }

  /** Tells the observer of ticks recorded without a run: each fire, one skip event, one catch-up event. */
  #recorded(schedule: Schedule, fires: ScheduleFire[]): void {
    const obs = this.deps.observer;
    if (!obs || fires.length === 0) return;
    for (const f of fires) obs.fire?.(f, null);
    const skipped = fires.filter((f) => f.outcome === "skipped");
    if (skipped.length > 0) {
      obs.event?.("schedule_skipped", {
        scheduleId: schedule.id,
        count: skipped.length,
        firstTickAt: skipped[0].tickAt,
        lastTickAt: skipped[skipped.length - 1].tickAt,
        reasons: [...new Set(skipped.map((f) => f.reason))],
      });
    }
  }
}

/** Whether a decision leaves the state and status as they are. */
function sameState(
  written: { state: ScheduleState; status: ScheduleStatus },
  d: { state: ScheduleState; status: ScheduleStatus },
): boolean {
  const a = written.state, b = d.state;
  return written.status === d.status && a.nextTickAt === b.nextTickAt && a.lastTickAt === b.lastTickAt &&
    a.lastExecutionId === b.lastExecutionId && a.bufferedTickAt === b.bufferedTickAt && a.runs === b.runs;
}

/**
 * The decision when the schedule's workflow is gone: its ticks to start are recorded skipped
 * (`workflow_missing`, or `reason`: `concurrency_key_invalid` when the workflow's concurrency key does not
 * evaluate over the input) and the schedule ticks on (a fixed delay waits its interval from now).
 */
export function withoutWorkflow(
  schedule: Schedule,
  d: TickDecision,
  now: number,
  reason: "workflow_missing" | "concurrency_key_invalid" = "workflow_missing",
): TickDecision {
  const missing: ScheduleFire[] = d.start.map((s) => ({
    ...s.fire,
    firedAt: now,
    outcome: "skipped",
    reason,
    executionId: null,
  }));
  const record = [...d.record, ...missing].sort((a, b) => a.tickAt - b.tickAt);
  const { spec } = schedule;
  let nextTickAt = d.state.nextTickAt;
  if (nextTickAt === null && spec.kind === "fixed_delay") {
    nextTickAt = spec.endAt !== null && now + spec.intervalMs! > spec.endAt ? null : now + spec.intervalMs!;
  }
  const state: ScheduleState = {
    ...d.state,
    nextTickAt,
    lastExecutionId: schedule.state.lastExecutionId,
    runs: schedule.state.runs,
  };
  const status: ScheduleStatus = schedule.status === "active" && nextTickAt === null &&
      state.bufferedTickAt === null
    ? "completed"
    : d.status;
  const wakeAt = nextTickAt === null ? null : fireTimeOf(schedule.id, spec, nextTickAt);
  return { start: [], record: record.slice(-MAX_FIRES_PER_WRITE), state, status, cancelLive: false, wakeAt };
}

/** How many of a decision's ticks were a catch-up (started or skipped), for the `schedule_catch_up` event. */
export function catchUpOf(d: TickDecision): { started: number; skipped: number } {
  const started = d.start.filter((s) => s.reason === "catch_up").length;
  const skipped =
    d.record.filter((f) => f.reason === "catch_up_skip" || f.reason === "catch_up_limit").length;
  return { started, skipped };
}
