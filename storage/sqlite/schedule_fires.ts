/**
 * The writes of a schedule's fires in the SQLite store, shared by the schedule store (the owner's state
 * writes) and the execution log (a fire riding on a creating append): which of a write's ticks are
 * recorded, why a fire is refused, recording fires and trimming them to the newest `FIRES_KEPT`, and
 * setting a schedule's state. Each runs inside the caller's write transaction.
 *
 * @module
 */
import { type FireOutcome, FIRES_KEPT, type Schedule, type ScheduleFire } from "../../core/schedule.ts";
import type { AppendRequest } from "../records.ts";
import { type Refusal, scheduleChanged, tickRecorded } from "../refusals.ts";
import type { ScheduleFireWrite } from "../schedule_records.ts";
import { tickTaken } from "../schedule_rules.ts";
import type { SqliteDatabase } from "./database.ts";
import { jsonList } from "./rows.ts";

/** The outcomes of the ticks among `ticks` that schedule `scheduleId` has recorded. */
export function recordedTicks(
  db: SqliteDatabase,
  scheduleId: string,
  ticks: readonly number[],
): Map<number, FireOutcome> {
  if (ticks.length === 0) return new Map();
  const rows = db.all<{ tick_at: number; outcome: string }>(
    `select tick_at, outcome from schedule_fires
      where schedule_id = ? and tick_at in (select value from json_each(?))`,
    scheduleId,
    jsonList(ticks),
  );
  return new Map(rows.map((r) => [r.tick_at, r.outcome as FireOutcome]));
}

/**
 * Why the fire riding on a creating append (its fence and execution checked already) is refused:
 * `tick_recorded`, then `schedule_changed` (its version moved, it is gone, or it lives in another shard).
 */
export function fireRefusal(db: SqliteDatabase, req: AppendRequest): Refusal | undefined {
  const write = req.scheduleFire!;
  const { scheduleId, tickAt, outcome } = write.fire;
  const prior = recordedTicks(db, scheduleId, [tickAt]).get(tickAt);
  if (tickTaken(prior, outcome)) return tickRecorded(req);
  const schedule = db.get<{ version: number; shard: number }>(
    "select version, shard from schedules where id = ?",
    scheduleId,
  );
  if (!schedule) return scheduleChanged(req, "it is deleted");
  if (schedule.version !== write.expectedVersion) {
    return scheduleChanged(req, `it is at version ${schedule.version}`);
  }
  if (schedule.shard !== req.fence.shard) return scheduleChanged(req, `it lives in shard ${schedule.shard}`);
  return undefined;
}

/** Records one fire: replaces the buffered record of its tick, or inserts it. Answers whether it added a row. */
function putFire(db: SqliteDatabase, f: ScheduleFire, recorded: boolean): boolean {
  if (recorded) {
    db.run(
      `update schedule_fires set fired_at = ?, outcome = ?, reason = ?, execution_id = ?
        where schedule_id = ? and tick_at = ?`,
      f.firedAt,
      f.outcome,
      f.reason,
      f.executionId,
      f.scheduleId,
      f.tickAt,
    );
    return false;
  }
  db.run(
    `insert into schedule_fires (schedule_id, tick_at, fired_at, outcome, reason, execution_id)
      values (?, ?, ?, ?, ?, ?)`,
    f.scheduleId,
    f.tickAt,
    f.firedAt,
    f.outcome,
    f.reason,
    f.executionId,
  );
  return true;
}

/**
 * Writes fires (none recorded, but `buffered` ones in `prior`, which they replace); of new ticks only the
 * newest `FIRES_KEPT` (the others would be trimmed at once). Answers how many rows it added.
 */
export function writeFires(
  db: SqliteDatabase,
  fires: readonly ScheduleFire[],
  prior: Map<number, FireOutcome>,
): number {
  for (const f of fires) if (prior.has(f.tickAt)) putFire(db, f, true);
  const fresh = fires.filter((f) => !prior.has(f.tickAt)).sort((a, b) => a.tickAt - b.tickAt)
    .slice(-FIRES_KEPT);
  for (const f of fresh) putFire(db, f, false);
  return fresh.length;
}

/** Deletes the oldest fires beyond `FIRES_KEPT` of the `count` the schedule has; answers how many remain. */
export function trimFires(db: SqliteDatabase, scheduleId: string, count: number): number {
  const excess = count - FIRES_KEPT;
  if (excess <= 0) return count;
  db.run(
    `delete from schedule_fires where schedule_id = ? and tick_at in (
      select tick_at from schedule_fires where schedule_id = ? order by tick_at limit ?)`,
    scheduleId,
    scheduleId,
    excess,
  );
  return FIRES_KEPT;
}

/** Sets a schedule's state, status and fire count (its version stays). */
export function setScheduleState(
  db: SqliteDatabase,
  id: string,
  s: Pick<Schedule, "state" | "status">,
  fireCount: number,
): void {
  db.run(
    `update schedules set status = ?, next_tick_at = ?, last_tick_at = ?, last_execution_id = ?,
      buffered_tick_at = ?, runs = ?, fire_count = ? where id = ?`,
    s.status,
    s.state.nextTickAt,
    s.state.lastTickAt,
    s.state.lastExecutionId,
    s.state.bufferedTickAt,
    s.state.runs,
    fireCount,
    id,
  );
}

/** Applies a fire `fireRefusal` let through: the tick recorded, the schedule's state and status after it. */
export function applyFire(db: SqliteDatabase, write: ScheduleFireWrite): void {
  const id = write.fire.scheduleId;
  const row = db.get<{ fire_count: number }>("select fire_count from schedules where id = ?", id);
  if (!row) throw new Error(`assertion: schedule ${id} vanished inside its fire's transaction`);
  const prior = recordedTicks(db, id, [write.fire.tickAt]);
  const added = writeFires(db, [write.fire], prior);
  setScheduleState(db, id, write, trimFires(db, id, row.fire_count + added));
}
