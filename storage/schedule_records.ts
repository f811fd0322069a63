/**
 * The records of the schedule store: writes of a schedule's definition (from the API, compare-and-set on its
 * version), the owner's fenced writes of its state and fires, and their answers.
 *
 * @module
 */
import type { Schedule, ScheduleFire, ScheduleState, ScheduleStatus } from "../core/schedule.ts";
import type { Fence } from "./records.ts";

/**
 * The fire that rides on an execution's creating append (`AppendRequest.scheduleFire`): recorded in the same
 * transaction, fenced by the same shard epoch. The append is refused with `tick_recorded` when the tick was
 * recorded before, and `schedule_changed` when the schedule's version moved or it was deleted.
 */
export interface ScheduleFireWrite {
  fire: ScheduleFire;
  /** The schedule's state after this fire. */
  state: ScheduleState;
  /** The schedule's status after it (`completed` after its last tick). */
  status: ScheduleStatus;
  /** The version the owner decided on. */
  expectedVersion: number;
}

/** Ticks recorded without an execution (skipped, buffered) and the state after them, written by the owner. */
export interface ScheduleStateWrite {
  scheduleId: string;
  /** The shard of the schedule and the epoch its owner holds. */
  fence: Fence;
  expectedVersion: number;
  fires: ScheduleFire[];
  state: ScheduleState;
  status: ScheduleStatus;
}

/** Why a schedule write was refused. */
export type ScheduleWriteError =
  | { code: "stale_epoch"; message: string; currentEpoch: number }
  | { code: "schedule_changed"; message: string }
  | { code: "schedule_not_found"; message: string }
  | { code: "schedule_exists"; message: string; existing: Schedule }
  /** `tickAt`: a tick of the write recorded already (or named twice in it). */
  | { code: "tick_recorded"; message: string; tickAt: number };

/** The answer of a schedule write. */
export type ScheduleWriteResult = { ok: true; schedule: Schedule } | { ok: false; error: ScheduleWriteError };

/** The answer of a schedule delete: whether there was one, or the fence was stale (nothing deleted). */
export type ScheduleDeleteResult =
  | { ok: true; deleted: boolean }
  | { ok: false; error: Extract<ScheduleWriteError, { code: "stale_epoch" }> };

/** A listing's filter. */
export interface ScheduleQuery {
  workflowId?: string;
  status?: ScheduleStatus;
  /** Only schedules of these shards (the owner's load of the shards it took up); absent: every shard. */
  shards?: readonly number[];
  limit: number;
  cursor?: string | null;
}
