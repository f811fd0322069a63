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
import { MAX_FIRES_PER_WRITE } from "../../storage/schedule_rules.ts";
import type { Fence, Page } from "../../storage/storage.ts";
import type { TimerHandle } from "./clock.ts";
import { cronNextTick } from "./cron.ts";
import { type FiringDeps, ScheduleFiring } from "./schedule_firing.ts";
import type { ScheduledRunEnd, ScheduledRunEnds } from "./schedule_observer.ts";
import { ScheduleOps } from "./schedule_ops.ts";
import { BATCH_READ_MIN, type BatchRead, readDueBatch, readOne } from "./schedule_reads.ts";
import type { NewSchedule, ScheduleDetail, ScheduleResult, ScheduleService } from "./schedule_service.ts";
import { ScheduleTimers } from "./schedule_timers.ts";

/** Bounds of the scheduler. */
export interface SchedulerLimits {
  /**
   * Schedule evaluations running at once (reads, decisions, appends); more wait their turn. Fires due together
   * reach the commit group together only up to this bound: at 64, 1,000 schedules due in the same instant
   * went out in 16 rounds of small commits (p99 fire lag about a second on PostgreSQL, docs/BENCHMARKS.md).
   */
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
  maxConcurrentFires: 1_024,
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
  /** When an evaluation's success last re-armed the schedules in back-off (`#recovered`). */
  #recoveredAt = -Infinity;
  /** Active schedules with a tick buffered for their live run (its end starts it), with their shards. */
  readonly #buffered = new Map<string, number>();
  /** The tail of each schedule's work on this node (work on one schedule is serial). */
  readonly #tails = new Map<string, Promise<void>>();
  /** Schedules due, waiting for an evaluation slot. */
  readonly #queue = new Map<string, number>();
  #running = 0;
  /** A drain is queued (a microtask: what falls due or frees a slot in one turn starts together). */
  #drainQueued = false;
  /** Shards taken up and not loaded yet. */
  readonly #toLoad = new Set<number>();
  #loading: Promise<void> | null = null;
  /** The back-off timer of a failed load, and its waiter (`stop` clears it and lets the load end). */
  #loadRetry: { handle: TimerHandle; resolve: () => void } | null = null;
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
      settle: (id, schedule) => this.#settleAndLook(id, schedule),
      lost: (fence) => this.#lost(fence.shard, fence.epoch),
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
    if (this.#loadRetry) {
      this.opts.clock.clearTimer(this.#loadRetry.handle);
      this.#loadRetry.resolve();
      this.#loadRetry = null;
    }
    this.#queue.clear();
    this.#waiting.clear();
    this.#buffered.clear();
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
    for (const [id, s] of this.#buffered) if (s === shard) this.#buffered.delete(id);
    for (const [id, s] of this.#queue) if (s === shard) this.#queue.delete(id);
    for (const id of this.#failures.keys()) {
      if (shardOf(id, this.opts.engine.shardCount) === shard) this.#failures.delete(id);
    }
  }

  /** This node was fenced off `shard` (a write refused for a stale epoch): it gives the shard up. */
  #lost(shard: number, epoch: number): void {
    if (this.#shards.get(shard) !== epoch) return;
    this.opts.log.warn("schedule shard lost: write fenced off", { shard, epoch });
    this.opts.engine.releaseShard(shard);
    if (this.#shards.get(shard) === epoch) this.#released(shard); // the engine had let it go already
  }

  /**
   * Loads the active schedules of the shards taken up, one listing of those shards' schedules (paged) per
   * batch of shards taken up meanwhile (a node starting takes many at once). A failed load is tried again
   * after a back-off.
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
        await new Promise<void>((resolve) => {
          const handle = this.opts.clock.setTimer(delay, () => {
            this.#loadRetry = null;
            resolve();
          });
          this.#loadRetry = { handle, resolve };
        });
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
        shards: [...shards],
        limit: this.limits.loadPage,
        cursor,
      });
      for (const s of page.items) {
        const shard = shardOf(s.id, engine.shardCount);
        if (!shards.has(shard) || !this.#shards.has(shard)) continue;
        loaded++;
        this.#loaded(s, shard);
      }
      cursor = page.next;
    } while (cursor !== null && !this.#stopped);
    this.opts.log.info("schedules loaded", { shards: shards.size, schedules: loaded });
  }

  /**
   * Arms a schedule as a shard's load read it. The read may be older than what this node wrote since it took
   * the shard up (a PATCH or a fire while the load's pages come in): a timer armed meanwhile keeps the earlier
   * of the two times (evaluating early only reads it again and re-arms it), and a schedule waiting for a run
   * (or holding a buffered tick) is looked at now — its run may have ended while no one owned the shard.
   */
  #loaded(s: Schedule, shard: number): void {
    const { nextTickAt, bufferedTickAt } = s.state;
    if (nextTickAt === null || bufferedTickAt !== null || this.#waiting.has(s.id)) {
      return this.#enqueue(s.id, shard);
    }
    const at = fireTimeOf(s.id, s.spec, nextTickAt);
    const armed = this.#timers.fireAt(s.id);
    this.#timers.set(s.id, shard, armed === undefined ? at : Math.min(armed, at));
  }

  // ---- arming and evaluating

  /**
   * Arms a schedule an operation wrote (`#settle`), and looks at it now when it waits for a run to end or holds
   * a buffered tick: that run may have ended unheard (while it was paused, across a restart or a hand-over),
   * and then nothing else would ever wake it (a resumed fixed delay would wait for good).
   */
  #settleAndLook(id: string, schedule: Schedule | undefined): void {
    this.#settle(id, schedule);
    const shard = shardOf(id, this.opts.engine.shardCount);
    if (schedule?.status !== "active" || this.#stopped || !this.#shards.has(shard)) return;
    if (schedule.state.nextTickAt === null || schedule.state.bufferedTickAt !== null) {
      this.#enqueue(id, shard);
    }
  }

  /** Arms a schedule as it now is: its next fire time, or waiting for its run, or nothing. */
  #settle(id: string, schedule: Schedule | undefined): void {
    const shard = shardOf(id, this.opts.engine.shardCount);
    if (this.#stopped || !this.#shards.has(shard) || !schedule || schedule.status !== "active") {
      this.#timers.delete(id);
      this.#waiting.delete(id);
      this.#failures.delete(id);
      this.#buffered.delete(id);
      return;
    }
    if (schedule.state.bufferedTickAt !== null) this.#buffered.set(id, shard);
    else this.#buffered.delete(id);
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
    this.#drainSoon();
  }

  /** Drains once the current turn's work is queued: schedules due together start (and are read) together. */
  #drainSoon(): void {
    if (this.#drainQueued) return;
    this.#drainQueued = true;
    queueMicrotask(() => {
      this.#drainQueued = false;
      this.#drain();
    });
  }

  /**
   * Starts queued evaluations while slots are free. Those starting together with no work of their schedule
   * ahead of them here (so nothing of this node writes it before they read it) read their schedules in one
   * listing when they are at least `BATCH_READ_MIN` (`schedule_reads.ts`).
   */
  #drain(): void {
    const starting: { id: string; shard: number }[] = [];
    while (this.#running < this.limits.maxConcurrentFires && this.#queue.size > 0 && !this.#stopped) {
      const [id, shard] = this.#queue.entries().next().value!;
      this.#queue.delete(id);
      this.#running++;
      starting.push({ id, shard });
    }
    const free = starting.filter((s) => !this.#tails.has(s.id));
    const batch = free.length >= BATCH_READ_MIN
      ? readDueBatch(this.opts.store, free, this.opts.clock.now())
      : undefined;
    const inBatch = new Set(batch ? free.map((s) => s.id) : []);
    for (const { id, shard } of starting) {
      const read = inBatch.has(id) ? batch : undefined;
      void this.#serial(
        id,
        () =>
          this.#evaluate(
            id,
            shard,
            (s, now, live) => decideTicks(s, now, this.#firing.cronNext(s), live),
            read,
          ),
      )
        .catch((err) =>
          this.opts.log.error("schedule evaluation failed", { scheduleId: id, error: String(err) })
        )
        .finally(() => {
          this.#running--;
          this.#drainSoon();
        });
    }
  }

  /**
   * Reads schedule `id` (first from `batch` when it was read with others), decides with `decide` and carries
   * the decision out; decides again (bounded, reading it alone) when the schedule moved meanwhile; re-arms
   * it. Storage failures re-arm it after a back-off.
   */
  async #evaluate(
    id: string,
    shard: number,
    decide: (schedule: Schedule, now: number, liveRun: boolean) => TickDecision | undefined,
    batch?: BatchRead,
  ): Promise<void> {
    /** Ticks storage refused as recorded already in this evaluation: the decisions after pass them over. */
    const taken = new Set<number>();
    for (let round = 0, changed = 0; changed <= this.limits.changedRetries; round++) {
      const epoch = this.#shards.get(shard);
      if (epoch === undefined || this.#stopped) return;
      let schedule: Schedule | undefined;
      let live = false;
      try {
        schedule = await readOne(this.opts.store, id, round === 0 ? batch : undefined);
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
        this.#recovered();
        return this.#settle(id, r.schedule);
      }
      if (r.kind === "lost") return this.#lost(shard, epoch);
      if (r.kind === "retry") return this.#retryLater(id, shard, r.why);
      if (r.kind === "recorded") {
        if (taken.has(r.tickAt) || taken.size >= MAX_FIRES_PER_WRITE) {
          return this.#retryLater(id, shard, r.why);
        }
        taken.add(r.tickAt);
      } else changed++;
      decide = (s, now, liveRun) => decideTicks(s, now, this.#firing.cronNext(s), liveRun, taken);
    }
    this.#retryLater(id, shard, "the schedule kept changing");
  }

  #backoff(failures: number): number {
    const steps = this.limits.retryMs;
    return steps[Math.min(failures, steps.length - 1)];
  }

  /**
   * An evaluation went through, so storage answers again: the schedules waiting out a longer back-off (their
   * evaluations failed meanwhile, most likely in the same outage) are retried now, not up to the last step of
   * `retryMs` after storage came back (their ticks late all that time), and so is a failed load of shards;
   * one that fails again backs off further. At most once per first back-off step.
   */
  #recovered(): void {
    if (this.#failures.size === 0 && this.#loadRetry === null) return;
    const now = this.opts.clock.now();
    const step = this.limits.retryMs[0];
    if (now < this.#recoveredAt + step) return;
    this.#recoveredAt = now;
    const load = this.#loadRetry;
    if (load !== null) {
      this.opts.clock.clearTimer(load.handle);
      this.#loadRetry = null;
      load.resolve();
    }
    for (const id of this.#failures.keys()) {
      const at = this.#timers.fireAt(id);
      const shard = shardOf(id, this.opts.engine.shardCount);
      if (at !== undefined && at > now + step && this.#shards.has(shard)) this.#timers.set(id, shard, now);
    }
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

  /**
   * Whether a run's end cannot change schedule `id`: it is armed here for its next tick, with no tick buffered
   * and no failure pending, so `afterRunEnded` would leave it as it is and it is not read again. A schedule
   * waiting for its run (a fixed delay), one with a buffered tick, one not armed here (paused, due, being
   * loaded) or retrying is read and decided.
   */
  #endChangesNothing(id: string): boolean {
    return this.#timers.fireAt(id) !== undefined && !this.#buffered.has(id) && !this.#failures.has(id);
  }

  /**
   * A scheduled run ended here: its schedule starts a buffered tick, or counts a fixed delay from its end.
   * Looked at after the work ahead on the schedule (the evaluation that started the run has re-armed it).
   */
  #runEnded(end: ScheduledRunEnd): void {
    const shard = shardOf(end.scheduleId, this.opts.engine.shardCount);
    if (this.#stopped || !this.#shards.has(shard)) return;
    void this.#serial(
      end.scheduleId,
      () =>
        this.#endChangesNothing(end.scheduleId) ? Promise.resolve() : this.#evaluate(
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
