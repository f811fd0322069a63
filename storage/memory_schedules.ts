/**
 * Schedules in memory (`ScheduleStore`), as `MemoryStorage` holds them: each schedule with its shard and its
 * fires (the newest `FIRES_KEPT`, by tick). `MemoryStorage` asks it about the fire riding on a creating append
 * (`fireRefusal`) and applies it in the same synchronous step (`applyFire`), so the two are one write.
 *
 * @module
 */
import { FIRES_KEPT, type Schedule, type ScheduleFire } from "../core/schedule.ts";
import type { AppendRequest, Fence, Page } from "./records.ts";
import { type Refusal, scheduleChanged, tickRecorded } from "./refusals.ts";
import type { ScheduleStore } from "./roles.ts";
import type {
  ScheduleDeleteResult,
  ScheduleFireWrite,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "./schedule_records.ts";
import {
  assertFenceShard,
  assertStateWrite,
  repeatsTick,
  scheduleExists,
  scheduleMoved,
  scheduleNotFound,
  scheduleStaleEpoch,
  ticksRecorded,
  tickTaken,
} from "./schedule_rules.ts";

/** A schedule's fires: ticks ascending, each tick's record. */
class FireLog {
  readonly ticks: number[] = [];
  readonly byTick = new Map<number, ScheduleFire>();

  /** Records a fire (replacing a buffered one of its tick), then forgets the oldest beyond `FIRES_KEPT`. */
  put(fire: ScheduleFire): void {
    if (!this.byTick.has(fire.tickAt)) {
      let lo = 0, hi = this.ticks.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.ticks[mid] < fire.tickAt) lo = mid + 1;
        else hi = mid;
      }
      this.ticks.splice(lo, 0, fire.tickAt);
    }
    this.byTick.set(fire.tickAt, { ...fire });
    while (this.ticks.length > FIRES_KEPT) this.byTick.delete(this.ticks.shift()!);
  }

  newest(limit: number): ScheduleFire[] {
    const out: ScheduleFire[] = [];
    for (let i = this.ticks.length - 1; i >= 0 && out.length < limit; i--) {
      out.push({ ...this.byTick.get(this.ticks[i])! });
    }
    return out;
  }
}

interface Entry {
  schedule: Schedule;
  shard: number;
  fires: FireLog;
}

/** By next tick, then id. */
function earliestFirst(a: Schedule, b: Schedule): number {
  return a.state.nextTickAt! - b.state.nextTickAt! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Schedules in memory.
 *
 * @example
 * ```ts
 * import { MemorySchedules } from "./memory_schedules.ts";
 * import { SCHEDULE_DEFAULTS, type Schedule } from "../core/schedule.ts";
 *
 * const schedules = new MemorySchedules(() => 1);
 * const schedule: Schedule = {
 *   id: "nightly", workflowId: "wf", status: "active", source: "api", createdAt: 0, updatedAt: 0, version: 1,
 *   spec: { ...SCHEDULE_DEFAULTS, kind: "fixed_rate", cronExpression: null, intervalMs: 60_000, startAt: null,
 *     endAt: null, input: null },
 *   state: { nextTickAt: 60_000, lastTickAt: null, lastExecutionId: null, bufferedTickAt: null, runs: 0 },
 * };
 * await schedules.createSchedule(schedule, { shard: 7, epoch: 1 });
 * const due = await schedules.listDueSchedules([7], 60_000, 10);
 * if (due[0]?.id !== "nightly") throw new Error("due at its next tick");
 * ```
 */
export class MemorySchedules implements ScheduleStore {
  readonly #byId = new Map<string, Entry>();
  /** The same entries by shard, so that a due listing reads only the shards it asks about. */
  readonly #byShard = new Map<number, Map<string, Entry>>();

  /**
   * @param epochOf The epoch storage holds for a shard (0 when never claimed).
   * @param fencing false only under `MemoryStorage`'s test-only `unsafeDisableFencing`.
   */
  constructor(private readonly epochOf: (shard: number) => number, private readonly fencing = true) {}

  /** Whether `fence` is stale (never under the test-only `unsafeDisableFencing`). */
  #stale(fence: Fence): boolean {
    return this.fencing && this.epochOf(fence.shard) !== fence.epoch;
  }

  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult> {
    if (this.#stale(fence)) return Promise.resolve(scheduleStaleEpoch(fence, this.epochOf(fence.shard)));
    const shard = fence.shard;
    const found = this.#byId.get(schedule.id);
    if (found) return Promise.resolve(scheduleExists(structuredClone(found.schedule)));
    const stored: Schedule = { ...structuredClone(schedule), version: 1 };
    const entry: Entry = { schedule: stored, shard, fires: new FireLog() };
    this.#byId.set(schedule.id, entry);
    let inShard = this.#byShard.get(shard);
    if (!inShard) this.#byShard.set(shard, inShard = new Map());
    inShard.set(schedule.id, entry);
    return Promise.resolve({ ok: true, schedule: structuredClone(stored) });
  }

  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult> {
    if (this.#stale(fence)) return Promise.resolve(scheduleStaleEpoch(fence, this.epochOf(fence.shard)));
    const entry = this.#byId.get(schedule.id);
    if (!entry) return Promise.resolve(scheduleNotFound(schedule.id));
    assertFenceShard({ scheduleId: schedule.id, fence }, entry.shard);
    const current = entry.schedule;
    if (current.version !== expectedVersion) {
      return Promise.resolve(scheduleMoved(schedule.id, expectedVersion, current.version));
    }
    entry.schedule = {
      ...structuredClone(schedule),
      createdAt: current.createdAt,
      version: expectedVersion + 1,
    };
    return Promise.resolve({ ok: true, schedule: structuredClone(entry.schedule) });
  }

  getSchedule(id: string): Promise<Schedule | undefined> {
    const entry = this.#byId.get(id);
    return Promise.resolve(entry && structuredClone(entry.schedule));
  }

  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>> {
    const entries = query.shards === undefined
      ? [...this.#byId.values()]
      : [...new Set(query.shards)].flatMap((shard) => [...(this.#byShard.get(shard)?.values() ?? [])]);
    const matching = entries.map((e) => e.schedule).filter((s) =>
      (query.workflowId === undefined || s.workflowId === query.workflowId) &&
      (query.status === undefined || s.status === query.status) &&
      (query.cursor == null || s.id > query.cursor)
    ).sort((a, b) => (a.id < b.id ? -1 : 1));
    const items = matching.slice(0, query.limit).map((s) => structuredClone(s));
    return Promise.resolve({ items, next: matching.length > query.limit ? items.at(-1)!.id : null });
  }

  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult> {
    if (this.#stale(fence)) return Promise.resolve(scheduleStaleEpoch(fence, this.epochOf(fence.shard)));
    const entry = this.#byId.get(id);
    if (!entry) return Promise.resolve({ ok: true, deleted: false });
    assertFenceShard({ scheduleId: id, fence }, entry.shard);
    this.#byId.delete(id);
    this.#byShard.get(entry.shard)?.delete(id);
    return Promise.resolve({ ok: true, deleted: true });
  }

  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult> {
    assertStateWrite(write);
    if (this.#stale(write.fence)) {
      return Promise.resolve(scheduleStaleEpoch(write.fence, this.epochOf(write.fence.shard)));
    }
    const entry = this.#byId.get(write.scheduleId);
    if (!entry) return Promise.resolve(scheduleNotFound(write.scheduleId));
    assertFenceShard(write, entry.shard);
    const version = entry.schedule.version;
    if (version !== write.expectedVersion) {
      return Promise.resolve(scheduleMoved(write.scheduleId, write.expectedVersion, version));
    }
    const taken = write.fires.find((f) => tickTaken(entry.fires.byTick.get(f.tickAt)?.outcome, f.outcome));
    if (taken) return Promise.resolve(ticksRecorded(write.scheduleId, taken.tickAt));
    if (repeatsTick(write)) return Promise.resolve(ticksRecorded(write.scheduleId, write.fires[0].tickAt));
    for (const f of write.fires) entry.fires.put(f);
    entry.schedule = { ...entry.schedule, state: { ...write.state }, status: write.status };
    return Promise.resolve({ ok: true, schedule: structuredClone(entry.schedule) });
  }

  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]> {
    const due: Schedule[] = [];
    for (const shard of new Set(shards)) {
      for (const { schedule: s } of this.#byShard.get(shard)?.values() ?? []) {
        const next = s.state.nextTickAt;
        if (s.status === "active" && next !== null && next <= before) due.push(s);
      }
    }
    return Promise.resolve(due.sort(earliestFirst).slice(0, limit).map((s) => structuredClone(s)));
  }

  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]> {
    return Promise.resolve(this.#byId.get(scheduleId)?.fires.newest(limit) ?? []);
  }

  countActiveSchedules(): Promise<number> {
    let n = 0;
    for (const { schedule } of this.#byId.values()) if (schedule.status === "active") n++;
    return Promise.resolve(n);
  }

  /**
   * Why the fire riding on a creating append (checked already for its fence and execution) is refused:
   * `tick_recorded`, then `schedule_changed` (its version moved, it is gone, or it lives in another shard).
   */
  fireRefusal(req: AppendRequest): Refusal | undefined {
    const write = req.scheduleFire!;
    const entry = this.#byId.get(write.fire.scheduleId);
    if (entry && tickTaken(entry.fires.byTick.get(write.fire.tickAt)?.outcome, write.fire.outcome)) {
      return tickRecorded(req);
    }
    if (!entry) return scheduleChanged(req, "it is deleted");
    if (entry.schedule.version !== write.expectedVersion) {
      return scheduleChanged(req, `it is at version ${entry.schedule.version}`);
    }
    if (entry.shard !== req.fence.shard) return scheduleChanged(req, `it lives in shard ${entry.shard}`);
    return undefined;
  }

  /** Applies a fire `fireRefusal` let through: the tick recorded, the state and status after it. */
  applyFire(write: ScheduleFireWrite): void {
    const entry = this.#byId.get(write.fire.scheduleId)!;
    entry.fires.put(write.fire);
    entry.schedule = { ...entry.schedule, state: { ...write.state }, status: write.status };
  }
}
