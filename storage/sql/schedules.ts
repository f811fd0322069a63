/**
 * Schedules over SQL: `schedules` (one row per schedule, its state as columns, `next_tick_at` indexed by shard
 * for the active ones) and `schedule_fires` (one row per recorded tick, primary key (schedule id, tick time)).
 * Every write of a schedule's fires takes its row `FOR UPDATE` first (here, and in the fire statement of an
 * append, `append_fire_statement.ts`), so writes of one schedule's ticks are serialised and each sees the
 * others' fires; the shard's row is read `FOR SHARE` after it, as the append statement does, so a claim of the
 * shard waits for the write or fences it off. The writes of a schedule's definition (create, update, delete)
 * are fenced the same way, by the epoch the owner holds. `fire_count` keeps the number of fire rows, so a write past
 * `FIRES_KEPT` deletes the oldest at once, through the primary key.
 *
 * @module
 */
import { type Kysely, sql, type Transaction } from "npm:kysely@0.29.9";
import {
  type FireOutcome,
  type FireReason,
  FIRES_KEPT,
  type Schedule,
  type ScheduleFire,
  type ScheduleSpec,
  type ScheduleStatus,
} from "../../core/schedule.ts";
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
import type { SqlContext } from "./context.ts";
import { num, numOrNull } from "./rows.ts";
import type { Database, SchedulesTable } from "./schema.ts";

type Db = Kysely<Database> | Transaction<Database>;
type Row<T> = { [K in keyof T]: T[K] extends { __select__: infer S } ? S : T[K] };

/** A `schedules` row as selected. */
export type ScheduleRow = Row<SchedulesTable>;

/** A `schedules` row as a schedule. */
export function toSchedule(r: ScheduleRow): Schedule {
  return {
    id: r.id,
    workflowId: r.workflow_id,
    spec: r.spec as ScheduleSpec,
    status: r.status as ScheduleStatus,
    source: r.source as Schedule["source"],
    createdAt: num(r.created_at as string | number),
    updatedAt: num(r.updated_at as string | number),
    version: r.version,
    state: {
      nextTickAt: numOrNull(r.next_tick_at as string | number | null),
      lastTickAt: numOrNull(r.last_tick_at as string | number | null),
      lastExecutionId: r.last_execution_id,
      bufferedTickAt: numOrNull(r.buffered_tick_at as string | number | null),
      runs: num(r.runs as string | number),
    },
  };
}

/** The columns a schedule's state and status set. */
function stateColumns(s: Pick<Schedule, "state" | "status">) {
  return {
    status: s.status,
    next_tick_at: s.state.nextTickAt,
    last_tick_at: s.state.lastTickAt,
    last_execution_id: s.state.lastExecutionId,
    buffered_tick_at: s.state.bufferedTickAt,
    runs: s.state.runs,
  };
}

/** The columns a definition write sets (besides the state). */
function definitionColumns(s: Schedule) {
  return {
    workflow_id: s.workflowId,
    spec: s.spec,
    source: s.source,
    updated_at: s.updatedAt,
    ...stateColumns(s),
  };
}

/** A `schedule_fires` row as a fire. */
function toFire(r: {
  schedule_id: string;
  tick_at: string | number;
  fired_at: string | number;
  outcome: string;
  reason: string;
  execution_id: string | null;
}): ScheduleFire {
  return {
    scheduleId: r.schedule_id,
    tickAt: num(r.tick_at),
    firedAt: num(r.fired_at),
    outcome: r.outcome as FireOutcome,
    reason: r.reason as FireReason,
    executionId: r.execution_id,
  };
}

/** The `ScheduleStore` role over SQL. */
export class SqlSchedules implements ScheduleStore {
  constructor(private readonly ctx: SqlContext) {}

  /** The epoch shard `shard` is at (0 when never claimed), read `FOR SHARE`: a claim waits for the write. */
  async #epoch(trx: Db, shard: number): Promise<number> {
    const row = await trx.selectFrom("shards").select("epoch").where("shard", "=", shard).forShare()
      .executeTakeFirst();
    return row ? num(row.epoch as string | number) : 0;
  }

  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx): Promise<ScheduleWriteResult> => {
        const epoch = await this.#epoch(trx, fence.shard);
        if (epoch !== fence.epoch) return scheduleStaleEpoch(fence, epoch);
        for (let attempt = 0;; attempt++) {
          const r = await trx.insertInto("schedules").values({
            id: schedule.id,
            shard: fence.shard,
            version: 1,
            created_at: schedule.createdAt,
            fire_count: 0,
            ...definitionColumns(schedule),
          }).onConflict((oc) => oc.column("id").doNothing()).returningAll().executeTakeFirst();
          if (r) return { ok: true, schedule: toSchedule(r) };
          const existing = await this.#get(trx, schedule.id);
          if (existing) return scheduleExists(existing);
          if (attempt >= 2) throw new Error(`schedule ${schedule.id} neither inserted nor found`);
        }
      })
    );
  }

  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx): Promise<ScheduleWriteResult> => {
        // The schedule's row first, then the shard's: the order of every writer of a schedule.
        const row = await trx.selectFrom("schedules").select(["version", "shard"]).where(
          "id",
          "=",
          schedule.id,
        )
          .forUpdate().executeTakeFirst();
        const epoch = await this.#epoch(trx, fence.shard);
        if (epoch !== fence.epoch) return scheduleStaleEpoch(fence, epoch);
        if (!row) return scheduleNotFound(schedule.id);
        assertFenceShard({ scheduleId: schedule.id, fence }, row.shard);
        if (row.version !== expectedVersion) return scheduleMoved(schedule.id, expectedVersion, row.version);
        const r = await trx.updateTable("schedules")
          .set({ ...definitionColumns(schedule), version: expectedVersion + 1 })
          .where("id", "=", schedule.id).returningAll().executeTakeFirstOrThrow();
        return { ok: true, schedule: toSchedule(r) };
      })
    );
  }

  async #get(db: Db, id: string): Promise<Schedule | undefined> {
    const r = await db.selectFrom("schedules").selectAll().where("id", "=", id).executeTakeFirst();
    return r && toSchedule(r);
  }

  getSchedule(id: string): Promise<Schedule | undefined> {
    return this.ctx.run(() => this.#get(this.ctx.db, id));
  }

  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>> {
    return this.ctx.run(async () => {
      let q = this.ctx.db.selectFrom("schedules").selectAll().orderBy("id").limit(query.limit + 1);
      if (query.workflowId !== undefined) q = q.where("workflow_id", "=", query.workflowId);
      if (query.status !== undefined) q = q.where("status", "=", query.status);
      if (query.shards !== undefined) {
        if (query.shards.length === 0) return { items: [], next: null };
        q = q.where("shard", "in", [...query.shards]);
      }
      if (query.cursor != null) q = q.where("id", ">", query.cursor);
      const rows = (await q.execute()).map(toSchedule);
      const items = rows.slice(0, query.limit);
      return { items, next: rows.length > query.limit ? items.at(-1)!.id : null };
    });
  }

  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx): Promise<ScheduleDeleteResult> => {
        const row = await trx.selectFrom("schedules").select("shard").where("id", "=", id).forUpdate()
          .executeTakeFirst();
        const epoch = await this.#epoch(trx, fence.shard);
        if (epoch !== fence.epoch) return scheduleStaleEpoch(fence, epoch);
        if (!row) return { ok: true, deleted: false };
        assertFenceShard({ scheduleId: id, fence }, row.shard);
        await trx.deleteFrom("schedules").where("id", "=", id).execute();
        await trx.deleteFrom("schedule_fires").where("schedule_id", "=", id).execute();
        return { ok: true, deleted: true };
      })
    );
  }

  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult> {
    assertStateWrite(write);
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx): Promise<ScheduleWriteResult> => {
        const row = await trx.selectFrom("schedules").selectAll().where("id", "=", write.scheduleId)
          .forUpdate()
          .executeTakeFirst();
        const epoch = await this.#epoch(trx, write.fence.shard);
        if (epoch !== write.fence.epoch) return scheduleStaleEpoch(write.fence, epoch);
        if (!row) return scheduleNotFound(write.scheduleId);
        assertFenceShard(write, row.shard);
        if (row.version !== write.expectedVersion) {
          return scheduleMoved(write.scheduleId, write.expectedVersion, row.version);
        }
        const prior = await this.#recordedTicks(trx, write);
        const taken = write.fires.find((f) => tickTaken(prior.get(f.tickAt), f.outcome));
        if (taken) return ticksRecorded(write.scheduleId, taken.tickAt);
        if (repeatsTick(write)) return ticksRecorded(write.scheduleId, write.fires[0].tickAt);
        const added = await this.#writeFires(trx, write, prior);
        const kept = await this.#trim(trx, write.scheduleId, row.fire_count + added);
        const r = await trx.updateTable("schedules").set({ ...stateColumns(write), fire_count: kept })
          .where("id", "=", write.scheduleId).returningAll().executeTakeFirstOrThrow();
        return { ok: true, schedule: toSchedule(r) };
      })
    );
  }

  /** The write's ticks recorded already, with their outcomes. */
  async #recordedTicks(trx: Db, write: ScheduleStateWrite): Promise<Map<number, FireOutcome>> {
    if (write.fires.length === 0) return new Map();
    const rows = await sql<{ tick_at: string | number; outcome: string }>`
      select tick_at, outcome from schedule_fires
      where schedule_id = ${write.scheduleId} and tick_at = any(${
      write.fires.map((f) => f.tickAt)
    }::bigint[])`
      .execute(trx);
    return new Map(rows.rows.map((r) => [num(r.tick_at), r.outcome as FireOutcome]));
  }

  /**
   * Writes the fires, replacing the buffered records of their ticks (of new ticks, only the newest
   * `FIRES_KEPT`: the others would be trimmed at once); returns how many rows it added.
   */
  async #writeFires(trx: Db, write: ScheduleStateWrite, prior: Map<number, FireOutcome>): Promise<number> {
    const fresh = write.fires.filter((f) => !prior.has(f.tickAt)).sort((a, b) => a.tickAt - b.tickAt)
      .slice(-FIRES_KEPT);
    for (const f of write.fires.filter((f) => prior.has(f.tickAt))) {
      await trx.updateTable("schedule_fires")
        .set({ fired_at: f.firedAt, outcome: f.outcome, reason: f.reason, execution_id: f.executionId })
        .where("schedule_id", "=", f.scheduleId).where("tick_at", "=", f.tickAt).execute();
    }
    if (fresh.length > 0) {
      await trx.insertInto("schedule_fires").values(fresh.map((f) => ({
        schedule_id: f.scheduleId,
        tick_at: f.tickAt,
        fired_at: f.firedAt,
        outcome: f.outcome,
        reason: f.reason,
        execution_id: f.executionId,
      }))).execute();
    }
    return fresh.length;
  }

  /** Deletes the oldest fires beyond `FIRES_KEPT` of the `count` the schedule has; returns how many remain. */
  async #trim(trx: Db, scheduleId: string, count: number): Promise<number> {
    const excess = count - FIRES_KEPT;
    if (excess <= 0) return count;
    await sql`delete from schedule_fires where schedule_id = ${scheduleId} and tick_at in (
      select tick_at from schedule_fires where schedule_id = ${scheduleId} order by tick_at limit ${excess})`
      .execute(trx);
    return FIRES_KEPT;
  }

  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("schedules").selectAll().where("status", "=", "active")
        .where("next_tick_at", "<=", before).where("shard", "in", [...shards])
        .orderBy("next_tick_at").orderBy("id").limit(limit).execute()).map(toSchedule)
    );
  }

  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]> {
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("schedule_fires").selectAll().where("schedule_id", "=", scheduleId)
        .orderBy("tick_at", "desc").limit(limit).execute()).map((r) =>
          toFire(r as Parameters<typeof toFire>[0])
        )
    );
  }

  countActiveSchedules(): Promise<number> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.selectFrom("schedules").select((eb) => eb.fn.countAll().as("n"))
        .where("status", "=", "active").executeTakeFirstOrThrow();
      return Number(r.n);
    });
  }
}
