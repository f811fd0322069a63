/**
 * The scheduler's first read of schedules that fall due together, in one query: when a batch of evaluations
 * starts at once (a thousand cron schedules at the top of the hour), their schedules are read by one
 * `listDueSchedules` over their shards instead of one `getSchedule` each, which on PostgreSQL queued a
 * thousand round trips on the pool ahead of the fires' own appends. A schedule the listing does not return
 * (its tick moved, it waits for a run, it is paused or deleted, the listing's bound) is read alone, as before.
 *
 * @module
 */
import type { Schedule } from "../../core/schedule.ts";
import type { ScheduleStore } from "../../storage/storage.ts";

/** Evaluations starting together below this many read their schedules one by one. */
export const BATCH_READ_MIN = 8;

/** Rows the listing may return beyond the batch (other due schedules of the same shards come first by time). */
const LISTING_SLACK = 64;

/** A batch's schedules as read together: by id, those the listing returned. */
export type BatchRead = Promise<Map<string, Schedule>>;

/**
 * Reads the due schedules of `batch` (ids with their shards) in one listing at `now`; a failed listing reads
 * nothing (each schedule is then read alone, and its own read reports the failure).
 *
 * @example
 * ```ts
 * import { readDueBatch } from "./schedule_reads.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * const read = await readDueBatch(new MemoryStorage(), [{ id: "a", shard: 1 }], 0);
 * if (read.size !== 0) throw new Error("nothing stored");
 * ```
 */
export async function readDueBatch(
  store: Pick<ScheduleStore, "listDueSchedules">,
  batch: readonly { id: string; shard: number }[],
  now: number,
): Promise<Map<string, Schedule>> {
  const shards = [...new Set(batch.map((b) => b.shard))];
  const wanted = new Set(batch.map((b) => b.id));
  try {
    const due = await store.listDueSchedules(shards, now, batch.length * 2 + LISTING_SLACK);
    return new Map(due.filter((s) => wanted.has(s.id)).map((s) => [s.id, s]));
  } catch {
    return new Map();
  }
}

/** The schedule `id` from a batch read when it has it, else read alone. */
export async function readOne(
  store: Pick<ScheduleStore, "getSchedule">,
  id: string,
  batch: BatchRead | undefined,
): Promise<Schedule | undefined> {
  const read = batch && (await batch).get(id);
  return read ?? await store.getSchedule(id);
}
