/**
 * The invariants of schedules (numbered on from `invariants.ts`):
 *
 * 6. **A tick fires at most once**: at most one execution per (schedule, tick) — checked on every accepted
 *    creating append, whatever its id — and at most one record per tick (a `buffered` one may become
 *    `started` or `skipped` once); a tick is never both started and recorded skipped.
 * 7. **No tick lost beyond the policy**: every nominal tick of a `fixed_rate` or `cron` schedule from its
 *    creation to the end of the run is started, or recorded skipped with a reason its policy allows
 *    (`catch_up_skip` under `skip`/`run_once`, `catch_up_limit` under `run_all`, `overlap_skip` under
 *    `skip`/`cancel_other`, `overlap_buffer_full` under `buffer_one`), or buffered behind the live run at the
 *    end, or passed over by a catch-up whose window held more than `maxCatchUp + 1` due ticks (docs/SCHEDULES.md,
 *    "Bounds"). Every started fire has its execution, and every run's tick is a nominal tick or a manual one.
 * 8. **Fire lag bounded after heal**: once the healed cluster settled, each tick starts within
 *    {@link FIRE_LAG_BOUND_MS} of its fire time (tick + jitter), unless its overlap policy held it back; no
 *    tick is a catch-up; a fixed delay keeps firing.
 *
 * Also part of invariant 2: storage accepts no owner's schedule write whose epoch is stale; and of invariant 1:
 * every acknowledged schedule is stored, every accepted run is stored, and every run but the youngest ended.
 *
 * @module
 */
import type { ExecutionStarted } from "../core/events.ts";
import {
  type FireOutcome,
  type FireReason,
  FIRES_KEPT,
  type Schedule,
  type ScheduleFire,
  type ScheduleSpec,
} from "../core/schedule.ts";
import { fireTimeOf, nextTickAfter } from "../core/schedule_ticks.ts";
import { cachedCronNext } from "../server/runtime/scheduler.ts";
import type { MemoryStorage } from "../storage/memory.ts";
import type {
  AppendRequest,
  AppendResult,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "../storage/storage.ts";
import { type Percentiles, percentiles } from "./percentiles.ts";
import type { SimSchedule } from "./schedule_workload.ts";

/** After heal, a tick's run starts at most this long after its fire time (virtual ms). */
export const FIRE_LAG_BOUND_MS = 2_000;

/** Reports a violation of invariant `invariant`. */
export type Fail = (invariant: string, message: string) => void;

/** What the schedules did in a run. */
export interface ScheduleStats {
  /** Schedules created. */
  schedules: number;
  started: number;
  skipped: number;
  buffered: number;
  /** Ticks passed over unrecorded by catch-ups past `maxCatchUp + 1`. */
  passedOver: number;
  /** Fire time to the run's creation, every started tick (the scheduler's own measure), virtual ms. */
  fireLagMs: Percentiles;
  /** The same, for ticks that fired after the healed cluster settled. */
  fireLagAfterHealMs: Percentiles;
}

/** The window the end-of-run checks look at, in epoch ms of the (healed, unskewed) clocks. */
export interface TickWindow {
  /** Ticks whose fire time is at most this must be accounted for. */
  until: number;
  /** From here on the cluster was healed and settled (invariant 8); null: it never settled. */
  settledFrom: number | null;
  /** A run that started before this has ended (invariant 1; younger ones may still run). */
  endedIfStartedBefore: number;
}

/** What the reasons each policy allows to skip a tick. */
function skipAllowed(spec: ScheduleSpec, reason: FireReason): boolean {
  switch (reason) {
    case "catch_up_skip":
      return spec.catchUp === "skip" || spec.catchUp === "run_once";
    case "catch_up_limit":
      return spec.catchUp === "run_all";
    case "overlap_skip":
      return spec.overlap === "skip" || spec.overlap === "cancel_other";
    case "overlap_buffer_full":
      return spec.overlap === "buffer_one";
    default:
      return false; // workflow_missing: the simulated workflows are never deleted
  }
}

const CATCH_UP_REASONS: ReadonlySet<FireReason> = new Set(["catch_up", "catch_up_skip", "catch_up_limit"]);

/** A time as ISO (with the sub-millisecond part the virtual clock gives). */
const iso = (t: number) => `${new Date(Math.floor(t)).toISOString()}+${(t % 1).toFixed(3).slice(1)}`;

/** One run of a schedule as storage has it. */
interface StoredRun {
  executionId: string;
  startTime: number;
  status: string;
}

/**
 * The witness of schedules: it sees every accepted creating append and every owner's schedule write as it
 * lands (invariants 2 and 6), and checks storage at the end (6, 7, 8).
 */
export class ScheduleChecker {
  /** Every accepted creation of a scheduled run: schedule → tick → execution ids. */
  readonly #runs = new Map<string, Map<number, string[]>>();
  /** Every accepted tick record: schedule → tick → outcome. */
  readonly #records = new Map<string, Map<number, FireOutcome>>();
  readonly #lags: number[] = [];
  readonly #lagsAfter: number[] = [];
  #settledFrom: number | null = null;

  constructor(private readonly fail: Fail) {}

  /** A scheduler reported a started tick's fire lag at epoch time `now`. */
  lag(lagMs: number, now: number): void {
    this.#lags.push(lagMs);
    if (this.#settledFrom !== null && now >= this.#settledFrom) this.#lagsAfter.push(lagMs);
  }

  /** From `at` (epoch ms) on, lags count as after heal. */
  settled(at: number): void {
    this.#settledFrom = at;
  }

  /** Invariant 6 on an accepted creating append: its tick has no other run, and is recorded once. */
  checkAppend(node: string, req: AppendRequest, result: AppendResult): void {
    if (!result.ok || req.expectedSeq !== 0) return;
    const started = req.events.find((e) => e.type === "ExecutionStarted") as ExecutionStarted | undefined;
    const trigger = started?.trigger;
    if (trigger?.kind !== "schedule") return;
    const ticks = mapOf(this.#runs, trigger.scheduleId);
    const ids = ticks.get(trigger.tickAt) ?? [];
    if (!ids.includes(req.executionId)) ids.push(req.executionId);
    ticks.set(trigger.tickAt, ids);
    if (ids.length > 1) {
      this.fail(
        "6 tick once",
        `tick ${iso(trigger.tickAt)} of ${trigger.scheduleId} started twice: ${ids.join(", ")} ` +
          `(the last by ${node})`,
      );
    }
    const fire = req.scheduleFire?.fire;
    if (fire) this.#record(node, fire);
  }

  /** Invariants 2 and 6 on an owner's schedule write that landed. */
  checkWrite(
    node: string,
    write: ScheduleStateWrite,
    result: ScheduleWriteResult,
    currentEpoch: number,
  ): void {
    if (!result.ok) return;
    if (write.fence.epoch !== currentEpoch) {
      this.fail(
        "2 fencing",
        `storage accepted ${node}'s write of schedule ${write.scheduleId} at epoch ${write.fence.epoch} of ` +
          `shard ${write.fence.shard}, whose epoch is ${currentEpoch}`,
      );
    }
    for (const f of write.fires) this.#record(node, f);
  }

  #record(node: string, f: ScheduleFire): void {
    const ticks = mapOf(this.#records, f.scheduleId);
    const before = ticks.get(f.tickAt);
    ticks.set(f.tickAt, f.outcome);
    const what = `tick ${iso(f.tickAt)} of ${f.scheduleId}`;
    if (before !== undefined && !(before === "buffered" && f.outcome !== "buffered")) {
      this.fail(
        "6 tick once",
        `${what} recorded twice: ${before}, then ${f.outcome} (${f.reason}) by ${node}`,
      );
    }
    const runs = this.#runs.get(f.scheduleId)?.get(f.tickAt);
    if (f.outcome !== "started" && runs !== undefined) {
      this.fail(
        "6 tick once",
        `${what} started (${runs.join(", ")}) and recorded ${f.outcome} (${f.reason})`,
      );
    }
  }

  /** The end-of-run checks over storage (6, 7, 8); returns what the schedules did. */
  async final(
    base: MemoryStorage,
    created: readonly SimSchedule[],
    window: TickWindow,
  ): Promise<ScheduleStats> {
    const stats: ScheduleStats = {
      schedules: created.length,
      started: 0,
      skipped: 0,
      buffered: 0,
      passedOver: 0,
      fireLagMs: percentiles(this.#lags),
      fireLagAfterHealMs: percentiles(this.#lagsAfter),
    };
    const runs = await storedRuns(base);
    const running = [...runs.values()].flatMap((ticks) => [...ticks.values()].flat())
      .filter((r) => r.status === "running" && r.startTime < window.endedIfStartedBefore);
    if (running.length > 0) {
      this.fail(
        "1 liveness",
        `${running.length} schedule run(s) still running at the end, e.g. ${
          running.slice(0, 3).map((r) => r.executionId).join(", ")
        }`,
      );
    }
    for (const [scheduleId, ticks] of this.#runs) {
      for (const [tickAt, ids] of ticks) {
        for (const id of ids) {
          if (!runs.get(scheduleId)?.get(tickAt)?.some((r) => r.executionId === id)) {
            this.fail("1 durability", `run ${id} of ${scheduleId} was accepted but is not in storage`);
          }
        }
      }
    }
    for (const c of created) {
      const schedule = await base.getSchedule(c.id);
      if (!schedule) {
        this.fail("1 durability", `schedule ${c.id} was acknowledged but is not in storage`);
        continue;
      }
      const fires = await base.listScheduleFires(c.id, FIRES_KEPT);
      const check = new TickCheck(schedule, fires, runs.get(c.id) ?? new Map(), window, this.fail);
      check.run();
      stats.started += fires.filter((f) => f.outcome === "started").length;
      stats.skipped += fires.filter((f) => f.outcome === "skipped").length;
      stats.buffered += fires.filter((f) => f.outcome === "buffered").length;
      stats.passedOver += check.passedOver;
    }
    return stats;
  }
}

/** The entry of `key` in a map of maps, made when missing. */
function mapOf<K, V>(outer: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let inner = outer.get(key);
  if (!inner) outer.set(key, inner = new Map());
  return inner;
}

/** Every scheduled run in storage (by the trigger of its first event): schedule → tick → runs. */
async function storedRuns(base: MemoryStorage): Promise<Map<string, Map<number, StoredRun[]>>> {
  const out = new Map<string, Map<number, StoredRun[]>>();
  for (const e of (await base.listExecutions({ limit: 1_000_000 })).items) {
    if (!e.executionId.includes("@")) continue; // only a schedule's runs are routed by `<id>@`
    const first = (await base.readEvents(e.executionId, 0))[0] as ExecutionStarted | undefined;
    const t = first?.trigger;
    if (t?.kind !== "schedule") continue;
    const ticks = mapOf(out, t.scheduleId);
    ticks.set(t.tickAt, [...(ticks.get(t.tickAt) ?? []), {
      executionId: e.executionId,
      startTime: e.startTime,
      status: e.status,
    }]);
  }
  return out;
}

/** The end-of-run checks of one schedule. */
class TickCheck {
  readonly #fires: Map<number, ScheduleFire>;
  /** Ticks older than this may have been forgotten (storage keeps the newest `FIRES_KEPT`). */
  readonly #keptFrom: number;
  readonly #next: (after: number) => number | undefined;
  passedOver = 0;

  constructor(
    readonly schedule: Schedule,
    readonly fires: readonly ScheduleFire[],
    readonly runs: Map<number, StoredRun[]>,
    readonly window: TickWindow,
    readonly fail: Fail,
  ) {
    this.#fires = new Map(fires.map((f) => [f.tickAt, f]));
    this.#keptFrom = fires.length >= FIRES_KEPT ? Math.min(...fires.map((f) => f.tickAt)) : -Infinity;
    const cron = cachedCronNext()(schedule.spec);
    this.#next = (after) => nextTickAfter(schedule.spec, schedule.createdAt, after, cron);
  }

  #fireTime(tickAt: number): number {
    return fireTimeOf(this.schedule.id, this.schedule.spec, tickAt);
  }

  run(): void {
    const { schedule: s, fail } = this;
    for (const [tickAt, rs] of this.runs) {
      if (rs.length > 1) {
        fail(
          "6 tick once",
          `tick ${iso(tickAt)} of ${s.id} has runs ${rs.map((r) => r.executionId).join(", ")}`,
        );
      }
    }
    for (const f of this.fires) {
      if (f.outcome === "started" && !this.runs.get(f.tickAt)?.some((r) => r.executionId === f.executionId)) {
        fail(
          "7 tick accounted",
          `tick ${iso(f.tickAt)} of ${s.id} is recorded started as ${f.executionId}, not in storage`,
        );
      }
    }
    if (s.spec.kind === "fixed_rate" || s.spec.kind === "cron") this.#nominal();
    else if (s.spec.kind === "fixed_delay") this.#delayKeepsFiring();
    this.#lag();
  }

  /** Invariant 7 over the nominal ticks; also: every run is of a nominal tick or manual. */
  #nominal(): void {
    const { schedule: s, window } = this;
    const nominal = new Set<number>();
    let t = this.#next(s.createdAt - 1);
    for (let i = 0; t !== undefined && this.#fireTime(t) <= window.until && i < 1_000_000; i++) {
      nominal.add(t);
      if (t >= this.#keptFrom) this.#account(t);
      t = this.#next(t);
    }
    for (const [tickAt, rs] of this.runs) {
      const reason = this.#fires.get(tickAt)?.reason;
      if (!nominal.has(tickAt) && reason !== "manual" && this.#fireTime(tickAt) <= window.until) {
        this.fail("7 tick accounted", `${rs[0].executionId} runs tick ${iso(tickAt)}, not one of ${s.id}'s`);
      }
    }
  }

  /** One nominal tick: started, skipped as the policy allows, buffered now, or passed over by a catch-up. */
  #account(t: number): void {
    const { schedule: s, fail } = this;
    const what = `tick ${
      iso(t)
    } of ${s.id} (${s.spec.kind}, overlap ${s.spec.overlap}, catchUp ${s.spec.catchUp})`;
    const f = this.#fires.get(t);
    const rs = this.runs.get(t);
    if (rs !== undefined) {
      if (f === undefined) {
        fail("7 tick accounted", `${what} started ${rs[0].executionId} but no fire is recorded`);
      } else if (f.outcome !== "started") {
        fail("6 tick once", `${what} started and recorded ${f.outcome} (${f.reason})`);
      }
      return;
    }
    if (f !== undefined) {
      if (f.outcome === "buffered" && s.state.bufferedTickAt !== t) {
        fail("7 tick accounted", `${what} was buffered and never started`);
      } else if (f.outcome === "skipped" && !skipAllowed(s.spec, f.reason)) {
        fail("7 tick accounted", `${what} was skipped (${f.reason}), which its policy does not allow`);
      }
      return;
    }
    if (this.#passedOver(t)) this.passedOver++;
    else fail("7 tick accounted", `${what} was neither started nor recorded (lost)`);
  }

  /**
   * Whether tick `t` was passed over by a catch-up past its bound: an evaluation (its catch-up skips share the
   * decision's time E, which `t`'s fire time is at most) recorded an older tick, and more than
   * `maxCatchUp + 1` ticks were due at E from the oldest tick it recorded.
   */
  #passedOver(t: number): boolean {
    const { spec } = this.schedule;
    const fireTime = this.#fireTime(t);
    for (const r of this.fires) {
      if (r.outcome !== "skipped" || (r.reason !== "catch_up_skip" && r.reason !== "catch_up_limit")) {
        continue;
      }
      if (r.tickAt >= t || fireTime > r.firedAt) continue;
      const batch = this.fires.filter((f) => f.firedAt === r.firedAt && f.outcome === "skipped");
      let due = 0;
      let u: number | undefined = Math.min(...batch.map((f) => f.tickAt));
      while (u !== undefined && this.#fireTime(u) <= r.firedAt && due <= spec.maxCatchUp + 1) {
        due++;
        u = this.#next(u);
      }
      if (due > spec.maxCatchUp + 1) return true;
    }
    return false;
  }

  /** A fixed delay ticks on after heal: some run's tick fires in the settled window. */
  #delayKeepsFiring(): void {
    const { settledFrom, until } = this.window;
    if (settledFrom === null || this.schedule.status !== "active") return;
    const ticks = [...this.runs.keys()].filter((t) => t >= settledFrom && this.#fireTime(t) <= until);
    if (ticks.length === 0 && until - settledFrom > 2 * this.schedule.spec.intervalMs! + FIRE_LAG_BOUND_MS) {
      this.fail(
        "8 fire lag",
        `${this.schedule.id} (fixed_delay) started no run in the settled window after heal`,
      );
    }
  }

  /** Invariant 8: ticks firing once the healed cluster settled start on time (unless overlap held them back). */
  #lag(): void {
    const { settledFrom, until } = this.window;
    if (settledFrom === null) return;
    const ticks = new Set([...this.#fires.keys(), ...this.runs.keys()]);
    for (const t of ticks) {
      const fireTime = this.#fireTime(t);
      if (fireTime < settledFrom || fireTime > until) continue;
      const f = this.#fires.get(t);
      const what = `tick ${iso(t)} of ${this.schedule.id}`;
      if (f !== undefined && CATCH_UP_REASONS.has(f.reason)) {
        this.fail("8 fire lag", `${what} was a catch-up (${f.reason}) after heal`);
        continue;
      }
      const run = this.runs.get(t)?.[0];
      if (run === undefined || f?.reason === "buffered_run" || f?.reason === "manual") continue;
      const lag = run.startTime - fireTime;
      if (lag > FIRE_LAG_BOUND_MS) {
        this.fail("8 fire lag", `${what} started ${Math.round(lag)} ms after its fire time, after heal`);
      }
    }
  }
}
