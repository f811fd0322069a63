/**
 * Schedules in the SQLite store: `schedules` (one row per schedule, its state as columns, `next_tick_at`
 * indexed by shard for the active ones) and `schedule_fires` (one row per recorded tick, keyed by schedule
 * id and tick time). Every write is one transaction that reads the shard's epoch first (the fence), then the
 * schedule; SQLite has one writer at a time, so nothing interleaves with it. The refusals come in the
 * order of the other backends: `stale_epoch`, `schedule_not_found`, `schedule_changed`, `tick_recorded`.
 *
 * @module
 */
import type { Schedule, ScheduleFire } from "../../core/schedule.ts";
import type { Fence, Page } from "../records.ts";
import type { ScheduleStore } from "../roles.ts";
import type {
  ScheduleDeleteResult,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "../schedule_records.ts";
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
} from "../schedule_rules.ts";
import type { SqliteContext } from "./context.ts";
import type { SqlValue } from "./database.ts";
import { type FireRow, jsonList, type ScheduleRow, toFire, toSchedule } from "./rows.ts";
import { recordedTicks, setScheduleState, trimFires, writeFires } from "./schedule_fires.ts";
import { shardEpoch } from "./shard_leases.ts";

/** The columns a definition write sets, in the order of {@link definitionValues}. */
const DEFINITION_COLUMNS = [
  "workflow_id",
  "spec",
  "source",
  "updated_at",
  "status",
  "next_tick_at",
  "last_tick_at",
  "last_execution_id",
  "buffered_tick_at",
  "runs",
] as const;

/** The values a definition write sets (besides the version), in the order of {@link DEFINITION_COLUMNS}. */
function definitionValues(s: Schedule): SqlValue[] {
  return [
    s.workflowId,
    JSON.stringify(s.spec),
    s.source,
    s.updatedAt,
    s.status,
    s.state.nextTickAt,
    s.state.lastTickAt,
    s.state.lastExecutionId,
    s.state.bufferedTickAt,
    s.state.runs,
  ];
}

const INSERT_SCHEDULE = `insert into schedules (id, shard, version, created_at, fire_count, ${
  DEFINITION_COLUMNS.join(", ")
}) values (?, ?, 1, ?, 0, ${DEFINITION_COLUMNS.map(() => "?").join(", ")}) returning *`;

const UPDATE_SCHEDULE = `update schedules set ${
  DEFINITION_COLUMNS.map((c) => `${c} = ?`).join(", ")
}, version = ? where id = ? returning *`;

/** The `ScheduleStore` role over SQLite. */
export class SqliteSchedules implements ScheduleStore {
  constructor(private readonly ctx: SqliteContext) {}

  /** The schedule's row, or undefined. */
  #row(id: string): ScheduleRow | undefined {
    return this.ctx.db.get<ScheduleRow>("select * from schedules where id = ?", id);
  }

  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult> {
    return this.ctx.write((): ScheduleWriteResult => {
      const epoch = shardEpoch(this.ctx.db, fence.shard);
      if (epoch !== fence.epoch) return scheduleStaleEpoch(fence, epoch);
      const existing = this.#row(schedule.id);
      if (existing) return scheduleExists(toSchedule(existing));
      const row = this.ctx.db.get<ScheduleRow>(
        INSERT_SCHEDULE,
        schedule.id,
        fence.shard,
        schedule.createdAt,
        ...definitionValues(schedule),
      )!;
      return { ok: true, schedule: toSchedule(row) };
    });
  }

  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult> {
    return this.ctx.write((): ScheduleWriteResult => {
      const epoch = shardEpoch(this.ctx.db, fence.shard);
      if (epoch !== fence.epoch) return scheduleStaleEpoch(fence, epoch);
      const row = this.#row(schedule.id);
      if (!row) return scheduleNotFound(schedule.id);
      assertFenceShard({ scheduleId: schedule.id, fence }, row.shard);
      if (row.version !== expectedVersion) return scheduleMoved(schedule.id, expectedVersion, row.version);
      const updated = this.ctx.db.get<ScheduleRow>(
        UPDATE_SCHEDULE,
        ...definitionValues(schedule),
        expectedVersion + 1,
        schedule.id,
      )!;
      return { ok: true, schedule: toSchedule(updated) };
    });
  }

  getSchedule(id: string): Promise<Schedule | undefined> {
    return this.ctx.run(() => {
      const row = this.#row(id);
      return row && toSchedule(row);
    });
  }

  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>> {
    return this.ctx.run(() => {
      if (query.shards !== undefined && query.shards.length === 0) return { items: [], next: null };
      const where: string[] = [];
      const params: SqlValue[] = [];
      const filter = (condition: string, value: SqlValue) => {
        where.push(condition);
        params.push(value);
      };
      if (query.workflowId !== undefined) filter("workflow_id = ?", query.workflowId);
      if (query.status !== undefined) filter("status = ?", query.status);
      if (query.shards !== undefined) {
        filter("shard in (select value from json_each(?))", jsonList(query.shards));
      }
      if (query.cursor != null) filter("id > ?", query.cursor);
      const clause = where.length > 0 ? `where ${where.join(" and ")}` : "";
      const rows = this.ctx.db.all<ScheduleRow>(
        `select * from schedules ${clause} order by id limit ?`,
        ...params,
        query.limit + 1,
      ).map(toSchedule);
      const items = rows.slice(0, query.limit);
      return { items, next: rows.length > query.limit ? items.at(-1)!.id : null };
    });
  }

  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult> {
    return this.ctx.write((): ScheduleDeleteResult => {
      const epoch = shardEpoch(this.ctx.db, fence.shard);
      if (epoch !== fence.epoch) return scheduleStaleEpoch(fence, epoch);
      const row = this.ctx.db.get<{ shard: number }>("select shard from schedules where id = ?", id);
      if (!row) return { ok: true, deleted: false };
      assertFenceShard({ scheduleId: id, fence }, row.shard);
      this.ctx.db.run("delete from schedules where id = ?", id);
      this.ctx.db.run("delete from schedule_fires where schedule_id = ?", id);
      return { ok: true, deleted: true };
    });
  }

  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult> {
    try {
      assertStateWrite(write);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.ctx.write((): ScheduleWriteResult => {
      const db = this.ctx.db;
      const epoch = shardEpoch(db, write.fence.shard);
      if (epoch !== write.fence.epoch) return scheduleStaleEpoch(write.fence, epoch);
      const row = this.#row(write.scheduleId);
      if (!row) return scheduleNotFound(write.scheduleId);
      assertFenceShard(write, row.shard);
      if (row.version !== write.expectedVersion) {
        return scheduleMoved(write.scheduleId, write.expectedVersion, row.version);
      }
      const prior = recordedTicks(db, write.scheduleId, write.fires.map((f) => f.tickAt));
      const taken = write.fires.find((f) => tickTaken(prior.get(f.tickAt), f.outcome));
      if (taken) return ticksRecorded(write.scheduleId, taken.tickAt);
      if (repeatsTick(write)) return ticksRecorded(write.scheduleId, write.fires[0].tickAt);
      const added = writeFires(db, write.fires, prior);
      setScheduleState(db, write.scheduleId, write, trimFires(db, write.scheduleId, row.fire_count + added));
      return { ok: true, schedule: toSchedule(this.#row(write.scheduleId)!) };
    });
  }

  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.ctx.run(() =>
      this.ctx.db.all<ScheduleRow>(
        `select * from schedules where status = 'active' and next_tick_at <= ?
          and shard in (select value from json_each(?)) order by next_tick_at, id limit ?`,
        before,
        jsonList(shards),
        limit,
      ).map(toSchedule)
    );
  }

  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]> {
    return this.ctx.run(() =>
      this.ctx.db.all<FireRow>(
        "select * from schedule_fires where schedule_id = ? order by tick_at desc limit ?",
        scheduleId,
        limit,
      ).map(toFire)
    );
  }

  countActiveSchedules(): Promise<number> {
    return this.ctx.run(() =>
      this.ctx.db.get<{ n: number }>("select count(*) as n from schedules where status = 'active'")!.n
    );
  }
}
