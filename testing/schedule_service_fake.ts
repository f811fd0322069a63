/**
 * A TEST DOUBLE of the {@link ScheduleService}: schedules in a map, the core's decisions for their state (first
 * tick, changes, manual triggers, next fire times), no timers, no storage, no runs — a trigger only records its
 * fire. The HTTP route tests use it to check the API's side of the contract; the real scheduler
 * (`server/runtime/scheduler.ts`) is tested on its own and end to end.
 *
 * @module
 */
import { canonicalJson, type Json } from "../core/json.ts";
import type { NextTick, Schedule, ScheduleFire, ScheduleSpec, ScheduleStatus } from "../core/schedule.ts";
import { initialState, manualTrigger, nextFireTimes, respecState } from "../core/schedule_decide.ts";
import type { Page } from "../storage/records.ts";
import { cronNextTick } from "../server/runtime/cron.ts";
import type {
  NewSchedule,
  ScheduleDetail,
  ScheduleError,
  ScheduleResult,
  ScheduleService,
} from "../server/runtime/schedule_service.ts";

/** The cron times of a spec (none for the other kinds). */
function cronOf(spec: ScheduleSpec): NextTick {
  return spec.kind === "cron" && spec.cronExpression !== null
    ? cronNextTick(spec.cronExpression, spec.timezone)
    : () => undefined;
}

const fail = <T>(code: ScheduleError["code"], message: string): ScheduleResult<T> => ({
  ok: false,
  error: { code, message } as ScheduleError,
});

/** A {@link ScheduleService} in memory, for tests only. */
export class FakeScheduleService implements ScheduleService {
  readonly schedules = new Map<string, Schedule>();
  readonly fires = new Map<string, ScheduleFire[]>();
  /** Every call, as `<method> <id>`, in order. */
  readonly calls: string[] = [];
  /** The error every call answers while set (a storage outage, say). */
  failWith: ScheduleError | undefined;

  constructor(
    private readonly now: () => number,
    private readonly workflowExists: (workflowId: string) => Promise<boolean>,
  ) {}

  #new(s: NewSchedule): Schedule {
    const now = this.now();
    return {
      ...s,
      createdAt: now,
      updatedAt: now,
      version: 1,
      state: initialState(s.spec, now, cronOf(s.spec)),
    };
  }

  async create(s: NewSchedule): Promise<ScheduleResult<Schedule>> {
    this.calls.push(`create ${s.id}`);
    if (this.failWith) return { ok: false, error: this.failWith };
    if (this.schedules.has(s.id)) return fail("schedule_exists", `schedule ${s.id} exists`);
    if (!(await this.workflowExists(s.workflowId))) {
      return fail("workflow_not_found", `no workflow ${s.workflowId}`);
    }
    const made = this.#new(s);
    this.schedules.set(s.id, made);
    return { ok: true, value: made };
  }

  async put(s: NewSchedule): Promise<ScheduleResult<Schedule>> {
    this.calls.push(`put ${s.id}`);
    if (this.failWith) return { ok: false, error: this.failWith };
    if (!(await this.workflowExists(s.workflowId))) {
      return fail("workflow_not_found", `no workflow ${s.workflowId}`);
    }
    const current = this.schedules.get(s.id);
    if (current === undefined) {
      const made = this.#new(s);
      this.schedules.set(s.id, made);
      return { ok: true, value: made };
    }
    if (canonicalJson(current.spec) === canonicalJson(s.spec) && current.status === s.status) {
      return { ok: true, value: current }; // the same again: nothing changes
    }
    return this.#replace(current, s.spec, s.status);
  }

  #replace(current: Schedule, spec: ScheduleSpec, status: ScheduleStatus): ScheduleResult<Schedule> {
    const now = this.now();
    const state = respecState(current, spec, now, cronOf(spec), false);
    const next: Schedule = { ...current, spec, status, state, updatedAt: now, version: current.version + 1 };
    this.schedules.set(current.id, next);
    return { ok: true, value: next };
  }

  #live(id: string): ScheduleResult<Schedule> {
    if (this.failWith) return { ok: false, error: this.failWith };
    const s = this.schedules.get(id);
    return s === undefined ? fail("schedule_not_found", `no schedule ${id}`) : { ok: true, value: s };
  }

  update(id: string, spec: ScheduleSpec): Promise<ScheduleResult<Schedule>> {
    this.calls.push(`update ${id}`);
    const r = this.#live(id);
    if (!r.ok) return Promise.resolve(r);
    if (r.value.status === "stopped" || r.value.status === "completed") {
      return Promise.resolve(fail("schedule_terminal", `schedule ${id} is ${r.value.status}`));
    }
    return Promise.resolve(this.#replace(r.value, spec, r.value.status));
  }

  setStatus(id: string, status: Exclude<ScheduleStatus, "completed">): Promise<ScheduleResult<Schedule>> {
    this.calls.push(`setStatus ${id} ${status}`);
    const r = this.#live(id);
    if (!r.ok) return Promise.resolve(r);
    const terminal = r.value.status === "stopped" || r.value.status === "completed";
    if (terminal && status !== r.value.status) {
      return Promise.resolve(fail("schedule_terminal", `schedule ${id} is ${r.value.status}`));
    }
    const next = { ...r.value, status, updatedAt: this.now(), version: r.value.version + 1 };
    this.schedules.set(id, next);
    return Promise.resolve({ ok: true, value: next });
  }

  delete(id: string): Promise<ScheduleResult<true>> {
    this.calls.push(`delete ${id}`);
    const r = this.#live(id);
    if (!r.ok) return Promise.resolve(r);
    this.schedules.delete(id);
    this.fires.delete(id);
    return Promise.resolve({ ok: true, value: true });
  }

  trigger(id: string, input?: Json): Promise<ScheduleResult<{ executionId: string; tickAt: number }>> {
    this.calls.push(`trigger ${id}${input === undefined ? "" : ` ${JSON.stringify(input)}`}`);
    const r = this.#live(id);
    if (!r.ok) return Promise.resolve(r);
    if (r.value.status === "stopped") {
      return Promise.resolve(fail("schedule_terminal", `schedule ${id} is stopped`));
    }
    const d = manualTrigger(r.value, this.now(), cronOf(r.value.spec));
    this.schedules.set(id, { ...r.value, state: d.state });
    this.fires.set(id, [d.start[0].fire, ...(this.fires.get(id) ?? [])]);
    return Promise.resolve({
      ok: true,
      value: { executionId: d.start[0].executionId, tickAt: d.start[0].tickAt },
    });
  }

  get(id: string): Promise<ScheduleResult<ScheduleDetail>> {
    const r = this.#live(id);
    if (!r.ok) return Promise.resolve(r);
    const schedule = r.value;
    return Promise.resolve({
      ok: true,
      value: {
        schedule,
        nextFireTimes: nextFireTimes(schedule, 5, cronOf(schedule.spec)),
        recentFires: (this.fires.get(id) ?? []).slice(0, 20),
      },
    });
  }

  list(query: { workflowId?: string; limit: number; cursor?: string | null }): Promise<Page<Schedule>> {
    const all = [...this.schedules.values()]
      .filter((s) => query.workflowId === undefined || s.workflowId === query.workflowId)
      .filter((s) => !query.cursor || s.id > query.cursor)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const items = all.slice(0, query.limit);
    const next = all.length > query.limit ? items[items.length - 1].id : null;
    return Promise.resolve({ items, next });
  }
}
