/**
 * The owner-side scheduler: it fires the schedules of the shards this node's engine owns. It follows the
 * engine's shards (`Engine.onShards`): a shard taken up has its active schedules loaded into one timer heap
 * (`schedule_timers.ts`, one clock timer in all: no loop over schedules between ticks); a shard given up has
 * them dropped. When a schedule's fire time comes it is read again from storage, decided
 * (`core/schedule_decide.ts` `decideTicks`) and carried out (`schedule_firing.ts`): runs started through the
 * engine with the fire on their creating append, skips recorded fenced by the shard's epoch; then it is
 * re-armed. A scheduled run's end (`ScheduledRunEnds`, an engine observer) starts a buffered tick or counts a
 * fixed delay from it. Work on one schedule is serial on this node; fires run at most `maxConcurrentFires`
 * at a time. The API's operations (`ScheduleService`) are made here too (`schedule_ops.ts`).
 *
 * @module
 */
import { BoundedCache } from "../../core/cache.ts";
import { shardOf } from "../../core/ids.ts";
import type { Json } from "../../core/json.ts";
import type { NextTick, Schedule, ScheduleSpec, ScheduleStatus } from "../../core/schedule.ts";
import { afterRunEnded, decideTicks, type TickDecision } from "../../core/schedule_decide.ts";
import { fireTimeOf } from "../../core/schedule_ticks.ts";
import type { Fence, Page } from "../../storage/storage.ts";
import { cronNextTick } from "./cron.ts";
import { type FiringDeps, ScheduleFiring } from "./schedule_firing.ts";
import type { ScheduledRunEnd, ScheduledRunEnds } from "./schedule_observer.ts";
import { ScheduleOps } from "./schedule_ops.ts";
import type { NewSchedule, ScheduleDetail, ScheduleResult, ScheduleService } from "./schedule_service.ts";
import { ScheduleTimers } from "./schedule_timers.ts";

/** Bounds of the scheduler. */
export interface SchedulerLimits {
  /** Schedule evaluations running at once (reads, decisions, appends); more wait their turn. */
  maxConcurrentFires: number;
  /** Decisions made again in a row when the schedule moved under them, before a retry later. */
  changedRetries: number;
  /** The back-off after a failure (storage, an overloaded engine), by failures in a row; the last repeats. */
  retryMs: readonly number[];
  /** Schedules read per page when a shard is taken up. */
  loadPage: number;
  /** Fires `get` shows. */
  recentFires: number;
}

/** The defaults of `SchedulerLimits`. */
export const DEFAULT_SCHEDULER_LIMITS: Readonly<SchedulerLimits> = Object.freeze({
  maxConcurrentFires: 64,
  changedRetries: 5,
  retryMs: Object.freeze([100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000]),
  loadPage: 500,
  recentFires: 20,
});

/** What a scheduler is made of. */
export interface SchedulerOptions extends Omit<FiringDeps, "cronNext"> {
  /** The engine hook that hears scheduled runs end (an observer of the same engine). */
  runEnds: ScheduledRunEnds;
  /** The cron times of a spec (default: croner's, `cronNextTick`, cached per expression and zone). */
  cronNext?: (spec: ScheduleSpec) => NextTick;
  limits?: Partial<SchedulerLimits>;
}

/** Cron expressions kept parsed. */
const CRON_CACHE = 1_000;

/** The cron times of a spec through croner, parsed once per expression and zone (bounded). */
export function cachedCronNext(): (spec: ScheduleSpec) => NextTick {
  const cache = new BoundedCache<string, NextTick>(CRON_CACHE);
  const none: NextTick = () => undefined;
  return (spec) => {
    if (spec.kind !== "cron" || spec.cronExpression === null) return none;
    const key = `${spec.timezone} ${spec.cronExpression}`;
    let next = cache.get(key);
    if (next === undefined) {
      next = cronNextTick(spec.cronExpression, spec.timezone);
      cache.set(key, next);
    }
    return next;
  };
}

/**
 * The scheduler of one node, and the `ScheduleService` the API calls.
 *
 * @example
 * ```ts ignore
 * const runEnds = new ScheduledRunEnds();
 * const engine = new Engine({ ...options, observer: runEnds });
 * const scheduler = new Scheduler({ engine, store: storage, workflows, clock, log, runEnds, cronNext });
 * scheduler.start();
 * await engine.start();
 * ```
 */
export class Scheduler implements ScheduleService {
  /** The bounds in force (the defaults, overridden by `SchedulerOptions.limits`). */
  readonly limits: SchedulerLimits;
  readonly #firing: ScheduleFiring;
  readonly #ops: ScheduleOps;
  readonly #timers: ScheduleTimers;
  /** The shards this scheduler fires, with the epoch the engine holds each at. */
  readonly #shards = new Map<number, number>();
  /** Active schedules with no timer: a run must end first (a fixed delay, a buffered tick). */
  readonly #waiting = new Map<string, number>();
  /** Failures in a row, by schedule. */
  readonly #failures = new Map<string, number>();
  /** The tail of each schedule's work on this node (work on one schedule is serial). */
  readonly #tails = new Map<string, Promise<void>>();
  /** Schedules due, waiting for an evaluation slot. */
  readonly #queue = new Map<string, number>();
  #running = 0;
  /** Shards taken up and not loaded yet. */
  readonly #toLoad = new Set<number>();
  #loading: Promise<void> | null = null;
  #stopped = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.limits = { ...DEFAULT_SCHEDULER_LIMITS, ...(opts.limits ?? {}) };
    const deps: FiringDeps = { ...opts, cronNext: opts.cronNext ?? cachedCronNext() };
    this.#firing = new ScheduleFiring(deps);
    this.#timers = new ScheduleTimers(opts.clock, (id, shard) => this.#enqueue(id, shard));
    this.#ops = new ScheduleOps({
      ...deps,
      firing: this.#firing,
      limits: this.limits,
      fenceOf: (id) => this.#fenceOf(id),
      serial: (id, fn) => this.#serial(id, fn),
      settle: (id, schedule) => this.#settle(id, schedule),
    });
  }

  /** Active schedules of this node's shards: armed, or waiting for a run to end. */
  get live(): number {
    return this.#timers.size + this.#waiting.size;
  }

  /** Whether nothing is in flight here: no evaluation, operation or load running or queued (tests, benches). */
  get idle(): boolean {
    return this.#running === 0 && this.#queue.size === 0 && this.#tails.size === 0 &&
      this.#loading === null &&
      this.#toLoad.size === 0;
  }

  /** When schedule `id` fires next on this node, if it is armed here. */
  armedAt(id: string): number | undefined {
    return this.#timers.fireAt(id);
  }

  /** Starts following the engine's shards (call before the engine takes any, or at any time after). */
  start(): void {
    this.opts.runEnds.listener = (end) => this.#runEnded(end);
    this.opts.engine.onShards({
      acquired: (shard, epoch) => this.#acquired(shard, epoch),
      released: (shard) => this.#released(shard),
    });
  }

  /** Stops firing: timers disarmed, nothing new starts (work in flight finishes). */
  stop(): Promise<void> {
    this.#stopped = true;
    this.opts.runEnds.listener = undefined;
    this.#timers.stop();
    this.#queue.clear();
    this.#waiting.clear();
    this.#shards.clear();
    return Promise.resolve();
  }

  // ---- the ScheduleService

  create(schedule: NewSchedule): Promise<ScheduleResult<Schedule>> {
    return this.#ops.create(schedule);
  }

  put(schedule: NewSchedule): Promise<ScheduleResult<Schedule>> {
    return this.#ops.put(schedule);
  }

  update(id: string, spec: ScheduleSpec): Promise<ScheduleResult<Schedule>> {
    return this.#ops.update(id, spec);
  }

  setStatus(id: string, status: Exclude<ScheduleStatus, "completed">): Promise<ScheduleResult<Schedule>> {
    return this.#ops.setStatus(id, status);
  }

  delete(id: string): Promise<ScheduleResult<true>> {
    return this.#ops.delete(id);
  }

  trigger(id: string, input?: Json): Promise<ScheduleResult<{ executionId: string; tickAt: number }>> {
    return this.#ops.trigger(id, input);
  }

  get(id: string): Promise<ScheduleResult<ScheduleDetail>> {
    return this.#ops.get(id);
  }

  list(query: { workflowId?: string; limit: number; cursor?: string | null }): Promise<Page<Schedule>> {
    return this.#ops.list(query);
  }

  // ---- shards

  #fenceOf(id: string): Fence | undefined {
    if (this.#stopped || !this.opts.engine.ready) return undefined;
    const shard = shardOf(id, this.opts.engine.shardCount);
    const epoch = this.#shards.get(shard);
    return epoch === undefined ? undefined : { shard, epoch };
  }

  #acquired(shard: number, epoch: number): void {
    if (this.#stopped) return;
    this.#shards.set(shard, epoch);
    this.#toLoad.add(shard);
    this.#loading ??= this.#loadAll().finally(() => this.#loading = null);
  }

  #released(shard: number): void {
    this.#shards.delete(shard);
    this.#toLoad.delete(shard);
    this.#timers.dropShard(shard);
    for (const [id, s] of this.#waiting) if (s === shard) this.#waiting.delete(id);
    for (const [id, s] of this.#queue) if (s === shard) this.#queue.delete(id);
  }

  /** This node was fenced off `shard` (a write refused for a stale epoch): it gives the shard up. */
  #lost(shard: number, epoch: number): void {
    if (this.#shards.get(shard) !== epoch) return;
    this.opts.log.warn("schedule shard lost: write fenced off", { shard, epoch });
    this.opts.engine.releaseShard(shard);
    if (this.#shards.get(shard) === epoch) this.#released(shard); // the engine had let it go already
  }

  /**
   * Loads the active schedules of the shards taken up, in one pass over the active schedules per batch of
   * shards taken up meanwhile (a node starting takes many at once). A fixed delay waiting for its run is
   * looked at now (its run may have ended while no one owned the shard).
   */
  async #loadAll(): Promise<void> {
    let failures = 0;
    while (this.#toLoad.size > 0 && !this.#stopped) {
      const batch = new Set(this.#toLoad);
      this.#toLoad.clear();
      try {
        await this.#load(batch);
        failures = 0;
      } catch (err) {
        for (const shard of batch) if (this.#shards.has(shard)) this.#toLoad.add(shard);
        const delay = this.#backoff(failures++);
        this.opts.log.warn("loading schedules failed; will retry", { error: String(err), retryInMs: delay });
        await new Promise<void>((resolve) => this.opts.clock.setTimer(delay, resolve));
      }
    }
  }

  async #load(shards: Set<number>): Promise<void> {
    const { store, engine } = this.opts;
    let cursor: string | null = null;
    let loaded = 0;
    do {
      const page: Page<Schedule> = await store.listSchedules({
        status: "active",
        limit: this.limits.loadPage,
        cursor,
      });
      for (const s of page.items) {
        const shard = shardOf(s.id, engine.shardCount);
        if (!shards.has(shard) || !this.#shards.has(shard)) continue;
        loaded++;
        if (s.state.nextTickAt === null || s.state.bufferedTickAt !== null) this.#enqueue(s.id, shard);
        else this.#settle(s.id, s);
      }
      cursor = page.next;
    } while (cursor !== null && !this.#stopped);
    this.opts.log.info("schedules loaded", { shards: shards.size, schedules: loaded });
  }

  // ---- arming and evaluating

  /** Arms a schedule as it now is: its next fire time, or waiting for its run, or nothing. */
  #settle(id: string, schedule: Schedule | undefined): void {
    const shard = shardOf(id, this.opts.engine.shardCount);
    if (this.#stopped || !this.#shards.has(shard) || !schedule || schedule.status !== "active") {
      this.#timers.delete(id);
      this.#waiting.delete(id);
      this.#failures.delete(id);
      return;
    }
    const next = schedule.state.nextTickAt;
    if (next !== null) {
      this.#waiting.delete(id);
      this.#timers.set(id, shard, fireTimeOf(id, schedule.spec, next));
    } else {
      this.#timers.delete(id);
      this.#waiting.set(id, shard);
    }
  }

  /** Runs `fn` after every earlier piece of work on schedule `id` here. */
  #serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(id) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(() => {}, () => {});
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return run;
  }

  /** A schedule is due: it is evaluated when a slot is free. */
  #enqueue(id: string, shard: number): void {
    if (this.#stopped) return;
    this.#queue.set(id, shard);
    this.#drain();
  }

  #drain(): void {
    while (this.#running < this.limits.maxConcurrentFires && this.#queue.size > 0 && !this.#stopped) {
      const [id, shard] = this.#queue.entries().next().value!;
      this.#queue.delete(id);
      this.#running++;
      void this.#serial(
        id,
        () =>
          this.#evaluate(id, shard, (s, now, live) => decideTicks(s, now, this.#firing.cronNext(s), live)),
      )
        .catch((err) =>
          this.opts.log.error("schedule evaluation failed", { scheduleId: id, error: String(err) })
        )
        .finally(() => {
          this.#running--;
          this.#drain();
        });
    }
  }

  /**
   * Reads schedule `id`, decides with `decide` and carries the decision out; decides again (bounded) when the
   * schedule moved meanwhile; re-arms it. Storage failures re-arm it after a back-off.
   */
  async #evaluate(
    id: string,
    shard: number,
    decide: (schedule: Schedule, now: number, liveRun: boolean) => TickDecision | undefined,
  ): Promise<void> {
    for (let round = 0; round <= this.limits.changedRetries; round++) {
      const epoch = this.#shards.get(shard);
      if (epoch === undefined || this.#stopped) return;
      let schedule: Schedule | undefined;
      let live = false;
      try {
        schedule = await this.opts.store.getSchedule(id);
        if (schedule?.status === "active") live = await this.#firing.liveRun(schedule);
      } catch (err) {
        return this.#retryLater(id, shard, String(err));
      }
      if (!schedule || schedule.status !== "active") return this.#settle(id, schedule);
      const d = decide(schedule, this.opts.clock.now(), live);
      if (d === undefined) return this.#settle(id, schedule);
      const r = await this.#firing.apply(schedule, d, { shard, epoch });
      if (r.kind === "done") {
        this.#failures.delete(id);
        return this.#settle(id, r.schedule);
      }
      if (r.kind === "lost") return this.#lost(shard, epoch);
      if (r.kind === "retry") return this.#retryLater(id, shard, r.why);
      decide = (s, now, liveRun) => decideTicks(s, now, this.#firing.cronNext(s), liveRun);
    }
    this.#retryLater(id, shard, "the schedule kept changing");
  }

  #backoff(failures: number): number {
    const steps = this.limits.retryMs;
    return steps[Math.min(failures, steps.length - 1)];
  }

  #retryLater(id: string, shard: number, why: string): void {
    if (!this.#shards.has(shard) || this.#stopped) return;
    const failures = this.#failures.get(id) ?? 0;
    this.#failures.set(id, failures + 1);
    const delay = this.#backoff(failures);
    this.opts.log.warn("schedule fire failed; will retry", { scheduleId: id, why, retryInMs: delay });
    this.#waiting.delete(id);
    this.#timers.set(id, shard, this.opts.clock.now() + delay);
  }

  /** A scheduled run ended here: its schedule starts a buffered tick, or counts a fixed delay from its end. */
  #runEnded(end: ScheduledRunEnd): void {
    const shard = shardOf(end.scheduleId, this.opts.engine.shardCount);
    if (this.#stopped || !this.#shards.has(shard)) return;
    void this.#serial(
      end.scheduleId,
      () =>
        this.#evaluate(
          end.scheduleId,
          shard,
          (s, now) =>
            s.state.lastExecutionId === end.executionId
              ? afterRunEnded(s, end.endedAt, end.executionId, now)
              : undefined,
        ),
    ).catch((err) =>
      this.opts.log.error("schedule run end failed", { scheduleId: end.scheduleId, error: String(err) })
    );
  }
}
