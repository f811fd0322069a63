/**
 * The schedule operations the API asks for (`ScheduleService`), made on the node that owns the schedule's
 * shard: writes of a schedule's definition (compare-and-set on its version, retried a few times when the
 * owner's own fires moved it meanwhile), a manual trigger (a run now, through the same fenced fire as a tick),
 * and reads. Each write re-arms the schedule's timer here.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";
import {
  sameScheduleSpec,
  type Schedule,
  type ScheduleSpec,
  type ScheduleStatus,
} from "../../core/schedule.ts";
import { initialState, manualTrigger, nextFireTimes, respecState } from "../../core/schedule_decide.ts";
import type { Fence, Page, ScheduleWriteResult } from "../../storage/storage.ts";
import type { FiringDeps, ScheduleFiring } from "./schedule_firing.ts";
import type {
  NewSchedule,
  ScheduleDetail,
  ScheduleError,
  ScheduleResult,
  ScheduleService,
} from "./schedule_service.ts";

/** How often a write is tried again when the schedule's version moved under it. */
const WRITE_TRIES = 5;

/** The API's next fire times. */
const NEXT_FIRES = 5;

/** What the operations need from the scheduler. */
export interface OpsDeps extends FiringDeps {
  firing: ScheduleFiring;
  limits: { recentFires: number; changedRetries: number };
  /** The shard and epoch of `id` when this node fires it; undefined when another node owns it. */
  fenceOf(id: string): Fence | undefined;
  /** Runs `fn` after every earlier piece of work on `id` here. */
  serial<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Re-arms `id` as it now is (or disarms it: undefined, not active). */
  settle(id: string, schedule: Schedule | undefined): void;
  /** This node was fenced off `fence.shard` (a write refused for a stale epoch): it gives the shard up. */
  lost(fence: Fence): void;
}

/** A failed result. */
function fail<T>(code: ScheduleError["code"], message: string): ScheduleResult<T> {
  return { ok: false, error: { code, message } as ScheduleError };
}

/** The error of a write refused by storage (a stale epoch: this node lost the shard, `lost` is told). */
function refused<T>(r: Extract<ScheduleWriteResult, { ok: false }>, lost: () => void): ScheduleResult<T> {
  const e = r.error;
  if (e.code === "stale_epoch") {
    lost();
    return fail("not_owner", `this node no longer owns the schedule's shard (${e.message}); retry`);
  }
  if (e.code === "tick_recorded") return fail("schedule_changed", e.message);
  return fail(e.code, e.message);
}

/** `Schedule`'s status after a spec change: completed when no tick is ahead, active again when one is. */
function statusAfterRespec(schedule: Schedule, next: Schedule["state"], live: boolean): ScheduleStatus {
  const waiting = next.nextTickAt !== null || next.bufferedTickAt !== null ||
    (schedule.spec.kind === "fixed_delay" && live);
  if (schedule.status === "completed") return waiting ? "active" : "completed";
  if (schedule.status === "active" && !waiting) return "completed";
  return schedule.status;
}

/** The schedule operations of one node. */
export class ScheduleOps implements ScheduleService {
  constructor(private readonly deps: OpsDeps) {}

  /** Runs a write of `id` on its owner, serial with its fires; storage failures are `storage_unavailable`. */
  async #owned<T>(id: string, fn: (fence: Fence) => Promise<ScheduleResult<T>>): Promise<ScheduleResult<T>> {
    const fence = this.deps.fenceOf(id);
    if (!fence) return fail("not_owner", `schedule ${id} is fired by another node`);
    try {
      return await this.deps.serial(id, () => fn(fence));
    } catch (err) {
      return fail("storage_unavailable", `storage failed: ${String(err)}`);
    }
  }

  async #workflowExists(id: string): Promise<boolean> {
    this.deps.workflows.forgetLatest(id);
    return (await this.deps.workflows.latestForExecute(id)) !== undefined;
  }

  /** A new schedule's record: its first tick from now; `completed` at once when none is ahead. */
  #fresh(n: NewSchedule, now: number): Schedule {
    const state = initialState(n.spec, now, this.deps.cronNext(n.spec));
    const status = n.status === "active" && state.nextTickAt === null ? "completed" : n.status;
    return { ...n, status, createdAt: now, updatedAt: now, version: 1, state };
  }

  create(n: NewSchedule): Promise<ScheduleResult<Schedule>> {
    return this.#owned(n.id, async (fence) => {
      if (!(await this.#workflowExists(n.workflowId))) {
        return fail("workflow_not_found", `no workflow ${n.workflowId}`);
      }
      const r = await this.deps.store.createSchedule(this.#fresh(n, this.deps.clock.now()), fence);
      if (!r.ok) return refused(r, () => this.deps.lost(fence));
      this.deps.settle(n.id, r.schedule);
      return { ok: true, value: r.schedule };
    });
  }

  put(n: NewSchedule): Promise<ScheduleResult<Schedule>> {
    return this.#owned(n.id, async (fence) => {
      if (!(await this.#workflowExists(n.workflowId))) {
        return fail("workflow_not_found", `no workflow ${n.workflowId}`);
      }
      for (let tries = 0; tries < WRITE_TRIES; tries++) {
        const now = this.deps.clock.now();
        const existing = await this.deps.store.getSchedule(n.id);
        const replaced = existing && await this.#replaced(existing, n, now);
        if (existing && replaced === existing) {
          this.deps.settle(n.id, existing);
          return { ok: true, value: existing };
        }
        const r = existing
          ? await this.deps.store.updateSchedule(replaced!, existing.version, fence)
          : await this.deps.store.createSchedule(this.#fresh(n, now), fence);
        if (r.ok) {
          this.deps.settle(n.id, r.schedule);
          return { ok: true, value: r.schedule };
        }
        if (
          r.error.code !== "schedule_changed" && r.error.code !== "schedule_exists" &&
          r.error.code !== "schedule_not_found"
        ) return refused(r, () => this.deps.lost(fence));
      }
      return fail("schedule_changed", `schedule ${n.id} kept changing; retry`);
    });
  }

  /**
   * An existing schedule replaced by `n` (a workflow's `metadata.schedule` again); `existing` itself when
   * nothing changes. The same spec keeps the schedule's state, and a stopped or completed schedule stays so (an
   * `immediate` one does not run again); only `n`'s status moves an active or paused one. A changed spec
   * starts afresh from now (a stopped or completed schedule too: it is a new schedule).
   */
  async #replaced(existing: Schedule, n: NewSchedule, now: number): Promise<Schedule> {
    const base = { ...existing, workflowId: n.workflowId, source: n.source, spec: n.spec, updatedAt: now };
    if (sameScheduleSpec(existing.spec, n.spec)) {
      const ended = existing.status === "stopped" || existing.status === "completed";
      const status = ended ? existing.status : n.status;
      const same = existing.workflowId === n.workflowId && existing.source === n.source &&
        existing.status === status;
      return same ? existing : { ...base, spec: existing.spec, status };
    }
    const live = await this.deps.firing.liveRun(existing);
    const state = existing.status === "active" || existing.status === "paused"
      ? respecState(existing, n.spec, now, this.deps.cronNext(n.spec), live)
      : initialState(n.spec, now, this.deps.cronNext(n.spec));
    const kept = { ...state, lastExecutionId: existing.state.lastExecutionId, runs: existing.state.runs };
    const status = n.status === "active"
      ? statusAfterRespec({ ...base, status: "active" }, kept, live)
      : "paused";
    return { ...base, status, state: kept };
  }

  update(id: string, spec: ScheduleSpec): Promise<ScheduleResult<Schedule>> {
    return this.#rewrite(id, async (existing, now) => {
      if (existing.status === "stopped") return `schedule ${id} is stopped`;
      const live = await this.deps.firing.liveRun(existing);
      const state = respecState(existing, spec, now, this.deps.cronNext(spec), live);
      const status = statusAfterRespec({ ...existing, spec }, state, live);
      return { ...existing, spec, state, status, updatedAt: now };
    });
  }

  setStatus(id: string, status: Exclude<ScheduleStatus, "completed">): Promise<ScheduleResult<Schedule>> {
    return this.#rewrite(id, (existing, now) => {
      if (existing.status === status) return Promise.resolve(existing);
      const terminal = existing.status === "stopped" ||
        (existing.status === "completed" && status !== "stopped");
      if (terminal) return Promise.resolve(`schedule ${id} is ${existing.status}`);
      const { state, spec } = existing;
      if (status === "active" && state.lastTickAt === null && state.runs === 0 && spec.kind !== "immediate") {
        // Made paused and never fired: it missed nothing, its first tick is the next one from now.
        const fresh = respecState(existing, spec, now, this.deps.cronNext(spec), false);
        const next = { ...existing, state: fresh, updatedAt: now };
        return Promise.resolve({ ...next, status: statusAfterRespec({ ...next, status }, fresh, false) });
      }
      // A resumed schedule keeps its state: the ticks missed while paused are caught up by its policy.
      return Promise.resolve({ ...existing, status, updatedAt: now });
    });
  }

  /**
   * Reads `id`, makes its new record with `change` (a string: refused as terminal), writes it with a
   * compare-and-set on its version (again when the owner's fires moved it), and re-arms it.
   */
  #rewrite(
    id: string,
    change: (existing: Schedule, now: number) => Promise<Schedule | string>,
  ): Promise<ScheduleResult<Schedule>> {
    return this.#owned(id, async (fence) => {
      for (let tries = 0; tries < WRITE_TRIES; tries++) {
        const existing = await this.deps.store.getSchedule(id);
        if (!existing) return fail("schedule_not_found", `no schedule ${id}`);
        const next = await change(existing, this.deps.clock.now());
        if (typeof next === "string") return fail("schedule_terminal", next);
        if (next === existing) return { ok: true, value: existing };
        const r = await this.deps.store.updateSchedule(next, existing.version, fence);
        if (r.ok) {
          this.deps.settle(id, r.schedule);
          return { ok: true, value: r.schedule };
        }
        if (r.error.code !== "schedule_changed") return refused(r, () => this.deps.lost(fence));
      }
      return fail("schedule_changed", `schedule ${id} kept changing; retry`);
    });
  }

  delete(id: string): Promise<ScheduleResult<true>> {
    return this.#owned(id, async (fence) => {
      const r = await this.deps.store.deleteSchedule(id, fence);
      if (!r.ok) return refused(r, () => this.deps.lost(fence));
      this.deps.settle(id, undefined);
      return r.deleted ? { ok: true, value: true } : fail("schedule_not_found", `no schedule ${id}`);
    });
  }

  trigger(id: string, input?: Json): Promise<ScheduleResult<{ executionId: string; tickAt: number }>> {
    return this.#owned(id, async (fence) => {
      for (let tries = 0; tries <= this.deps.limits.changedRetries; tries++) {
        const schedule = await this.deps.store.getSchedule(id);
        if (!schedule) return fail("schedule_not_found", `no schedule ${id}`);
        if (schedule.status === "stopped" || schedule.status === "completed") {
          return fail("schedule_terminal", `schedule ${id} is ${schedule.status}`);
        }
        // Another manual run in the same millisecond took its record: the next millisecond is tried.
        const d = manualTrigger(schedule, this.deps.clock.now() + tries, this.deps.cronNext(schedule.spec));
        const r = await this.deps.firing.apply(schedule, d, fence, input);
        if (r.kind === "done") {
          this.deps.settle(id, r.schedule);
          const started = r.started[0];
          if (r.skipped === "concurrency_key_invalid") {
            return fail(
              "concurrency_key_invalid",
              `the input gives no concurrency key of ${schedule.workflowId}`,
            );
          }
          if (!started) return fail("workflow_not_found", `no workflow ${schedule.workflowId}`);
          return { ok: true, value: { executionId: started.executionId, tickAt: started.tickAt } };
        }
        if (r.kind === "lost") {
          this.deps.lost(fence);
          return fail("not_owner", `schedule ${id} moved to another node; retry`);
        }
        if (r.kind === "retry") return fail("storage_unavailable", r.why);
      }
      return fail("schedule_changed", `schedule ${id} kept changing; retry`);
    });
  }

  async get(id: string): Promise<ScheduleResult<ScheduleDetail>> {
    try {
      const schedule = await this.deps.store.getSchedule(id);
      if (!schedule) return fail("schedule_not_found", `no schedule ${id}`);
      const nextFires = nextFireTimes(schedule, NEXT_FIRES, this.deps.cronNext(schedule.spec));
      const recentFires = await this.deps.store.listScheduleFires(id, this.deps.limits.recentFires);
      return { ok: true, value: { schedule, nextFireTimes: nextFires, recentFires } };
    } catch (err) {
      return fail("storage_unavailable", `storage failed: ${String(err)}`);
    }
  }

  list(query: { workflowId?: string; limit: number; cursor?: string | null }): Promise<Page<Schedule>> {
    return this.deps.store.listSchedules(query);
  }
}
