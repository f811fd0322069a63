/**
 * The schedules of the simulated workload: a few short-interval schedules (1–3 s virtual) over the quick
 * `linear` workflow and the 2 s `delayed` one, covering every overlap and catch-up policy, jitter, a cron
 * expression with seconds and a fixed delay. The clients create them through the API
 * (`POST /api/v1/schedules/add` on a random node, routed to the owner of the schedule's shard), retrying like
 * every other client call; a 409 `schedule_exists` after a retry means an earlier try made it.
 *
 * @module
 */

/** One schedule of the workload: the `add` body (its id chosen here, so a retry makes the same one). */
export interface SimSchedule {
  id: string;
  workflowId: string;
  body: Record<string, unknown>;
}

/**
 * The workload's schedules.
 *
 * @example
 * ```ts
 * import { simSchedules } from "./schedule_workload.ts";
 * const ids = simSchedules().map((s) => s.id);
 * if (new Set(ids).size !== ids.length) throw new Error("ids are unique");
 * ```
 */
export function simSchedules(): SimSchedule[] {
  const s = (id: string, workflowId: string, fields: Record<string, unknown>): SimSchedule => ({
    id,
    workflowId,
    body: { id, workflowId, enabled: true, ...fields },
  });
  return [
    // Quick runs, every tick runs; an outage of 3 ticks or more catches up the newest, limits the oldest
    // (catch_up_limit) and passes over those between.
    s("sim-rate-1s", "linear", {
      scheduleType: "fixed_rate",
      interval: "1s",
      overlap: "allow",
      catchUp: "run_all",
      maxCatchUp: 1,
    }),
    // 2 s runs every 2 s: the live run makes each tick a skip; missed ticks are skipped.
    s("sim-rate-2s-skip", "delayed", {
      scheduleType: "fixed_rate",
      interval: "2s",
      overlap: "skip",
      catchUp: "skip",
      maxCatchUp: 4,
    }),
    // 2 s runs every second: one tick buffered behind the live run, the next one skipped as full.
    s("sim-rate-1s-buffer", "delayed", {
      scheduleType: "fixed_rate",
      interval: "1s",
      overlap: "buffer_one",
      catchUp: "run_once",
      maxCatchUp: 2,
    }),
    // 2 s runs every 2 s: each tick cancels the run before it.
    s("sim-rate-2s-cancel", "delayed", {
      scheduleType: "fixed_rate",
      interval: "2s",
      overlap: "cancel_other",
      catchUp: "run_all",
      maxCatchUp: 3,
    }),
    // Every 3 s with up to 1 s of jitter.
    s("sim-rate-3s-jitter", "linear", {
      scheduleType: "fixed_rate",
      interval: "3s",
      jitter: 1_000,
      overlap: "skip",
      catchUp: "run_once",
    }),
    // Every even second (6 fields, seconds first), 300 ms of jitter.
    s("sim-cron-2s", "linear", {
      scheduleType: "cron",
      cronExpression: "*/2 * * * * *",
      timezone: "UTC",
      jitter: 300,
      catchUp: "run_once",
    }),
    // 2 s after each run ends.
    s("sim-delay-2s", "linear", { scheduleType: "fixed_delay", interval: "2s", catchUp: "run_once" }),
  ];
}
