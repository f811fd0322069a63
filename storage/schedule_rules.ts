/**
 * The rules every backend applies to schedule writes alike: when a tick counts as recorded, the bounds and
 * assertions on the owner's writes, and the refusals of a schedule write as values.
 *
 * @module
 */
import { type FireOutcome, MAX_CATCH_UP, type Schedule } from "../core/schedule.ts";
import type { AppendRequest, Fence } from "./records.ts";
import type { ScheduleStateWrite, ScheduleWriteResult } from "./schedule_records.ts";

/** The most fires one `recordScheduleState` may carry (a catch-up records at most `maxCatchUp + 1`). */
export const MAX_FIRES_PER_WRITE = MAX_CATCH_UP + 1;

/** A refused schedule write. */
export type ScheduleRefusal = Extract<ScheduleWriteResult, { ok: false }>;

/**
 * Whether a tick already recorded as `existing` refuses a new record `next` of it. A tick is recorded once;
 * the one exception is a `buffered` tick, recorded once more with what became of it (started or skipped).
 *
 * @example
 * ```ts
 * import { tickTaken } from "./schedule_rules.ts";
 * if (tickTaken(undefined, "started")) throw new Error("a new tick is free");
 * if (!tickTaken("started", "started")) throw new Error("a tick starts once");
 * if (tickTaken("buffered", "started")) throw new Error("a buffered tick starts later");
 * if (!tickTaken("buffered", "buffered")) throw new Error("but is buffered once");
 * ```
 */
export function tickTaken(existing: FireOutcome | undefined, next: FireOutcome): boolean {
  return existing !== undefined && !(existing === "buffered" && next !== "buffered");
}

/** Throws on a fire that cannot ride on this append: a caller's bug, never a refusal. */
export function assertFireAppend(req: AppendRequest): void {
  const write = req.scheduleFire;
  if (write === undefined) return;
  if (req.expectedSeq !== 0) {
    throw new Error(`assertion: a schedule fire rides on a creating append only (${req.executionId})`);
  }
  if (write.fire.executionId !== req.executionId) {
    throw new Error(
      `assertion: the fire names execution ${write.fire.executionId}, the append ${req.executionId}`,
    );
  }
}

/** Throws on a state write out of bounds or naming another schedule: a caller's bug, never a refusal. */
export function assertStateWrite(write: ScheduleStateWrite): void {
  if (write.fires.length > MAX_FIRES_PER_WRITE) {
    throw new RangeError(`a schedule state write carries at most ${MAX_FIRES_PER_WRITE} fires`);
  }
  for (const f of write.fires) {
    if (f.scheduleId !== write.scheduleId) {
      throw new Error(`assertion: a fire of ${f.scheduleId} in a write of ${write.scheduleId}`);
    }
  }
}

/** Throws when the owner fences a schedule with another shard than the one it lives in. */
export function assertFenceShard(write: { scheduleId: string; fence: Fence }, shard: number): void {
  if (write.fence.shard !== shard) {
    throw new Error(
      `assertion: schedule ${write.scheduleId} lives in shard ${shard}, fenced by ${write.fence.shard}`,
    );
  }
}

/** Whether a write's fires name one tick twice. */
export function repeatsTick(write: ScheduleStateWrite): boolean {
  return new Set(write.fires.map((f) => f.tickAt)).size !== write.fires.length;
}

/** The shard's epoch is not the one the owner's write carried (`fence`). */
export function scheduleStaleEpoch(
  fence: Fence,
  epoch: number,
): { ok: false; error: Extract<ScheduleRefusal["error"], { code: "stale_epoch" }> } {
  return {
    ok: false,
    error: {
      code: "stale_epoch",
      message: `shard ${fence.shard} is at epoch ${epoch}, the write carried ${fence.epoch}`,
      currentEpoch: epoch,
    },
  };
}

/** No schedule with this id. */
export function scheduleNotFound(id: string): ScheduleRefusal {
  return { ok: false, error: { code: "schedule_not_found", message: `schedule ${id} not found` } };
}

/** The schedule's version moved past the one the write expected. */
export function scheduleMoved(id: string, expected: number, found: number): ScheduleRefusal {
  return {
    ok: false,
    error: {
      code: "schedule_changed",
      message: `schedule ${id} is at version ${found}, expected ${expected}`,
    },
  };
}

/** A create of an id taken. */
export function scheduleExists(existing: Schedule): ScheduleRefusal {
  return {
    ok: false,
    error: { code: "schedule_exists", message: `schedule ${existing.id} exists`, existing },
  };
}

/** One of the write's ticks is recorded already (or named twice). */
export function ticksRecorded(id: string, tickAt: number): ScheduleRefusal {
  return {
    ok: false,
    error: { code: "tick_recorded", message: `tick ${tickAt} of schedule ${id} is recorded`, tickAt },
  };
}
