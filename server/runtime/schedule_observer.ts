/**
 * What the scheduler tells the world (metrics and cluster events, plugged in by `server/start.ts` so the
 * runtime imports no ops), and the engine hook that tells the scheduler when a scheduled run ends.
 *
 * @module
 */
import type { ScheduleFire } from "../../core/schedule.ts";
import type { ExecutionStatus } from "../../core/state.ts";
import type { EngineObserver, ObservedExecution } from "./observer.ts";

/** The cluster events of schedules. */
export type ScheduleEventType = "schedule_fired" | "schedule_skipped" | "schedule_catch_up";

/**
 * Hooks the scheduler calls; each optional, synchronous, cheap, and must not throw.
 */
export interface SchedulerObserver {
  /**
   * A tick was recorded: started (with `lagMs`, its fire time to its execution's creation), skipped or
   * buffered.
   */
  fire?(fire: ScheduleFire, lagMs: number | null): void;
  /** A cluster event: a tick started, ticks skipped, a catch-up after downtime or a pause. */
  event?(type: ScheduleEventType, details: Record<string, unknown>): void;
}

/** A scheduled run that ended: its schedule, its execution and when it ended (epoch ms). */
export interface ScheduledRunEnd {
  scheduleId: string;
  executionId: string;
  endedAt: number;
  status: ExecutionStatus;
}

/** The handle the hook keeps of a scheduled execution. */
interface RunHandle {
  scheduleId: string;
  executionId: string;
  startedAt: number;
}

/**
 * An engine observer that hears scheduled executions end (`executionEnded`) and hands them to its listener
 * (the scheduler, set once it exists: the engine is built first). Combine it with the node's other observers.
 *
 * @example
 * ```ts
 * import { ScheduledRunEnds } from "./schedule_observer.ts";
 * const ends = new ScheduledRunEnds();
 * const seen: string[] = [];
 * ends.listener = (end) => seen.push(`${end.executionId} ${end.endedAt}`);
 * const handle = ends.executionStarted({
 *   executionId: "s@1", workflowId: "w", version: 1, shard: 0, submittedAt: 10, recovered: false,
 *   trigger: { kind: "schedule", scheduleId: "s", tickAt: 1 },
 * });
 * ends.executionEnded("completed", 5, handle);
 * if (seen.join() !== "s@1 15") throw new Error(seen.join());
 * ```
 */
export class ScheduledRunEnds implements EngineObserver {
  /** Told of each scheduled run's end (never throws: errors are the listener's to catch). */
  listener: ((end: ScheduledRunEnd) => void) | undefined = undefined;

  /** A scheduled execution is live here: its handle; undefined for any other. */
  executionStarted(e: ObservedExecution): RunHandle | undefined {
    const t = e.trigger;
    if (t?.kind !== "schedule") return undefined;
    return { scheduleId: t.scheduleId, executionId: e.executionId, startedAt: e.submittedAt };
  }

  /** A scheduled execution ended here: its end is `startedAt + durationMs` (both from its events). */
  executionEnded(status: ExecutionStatus, durationMs: number, handle: unknown): void {
    const h = handle as RunHandle | undefined;
    if (!h || !this.listener) return;
    this.listener({
      scheduleId: h.scheduleId,
      executionId: h.executionId,
      endedAt: h.startedAt + durationMs,
      status,
    });
  }
}
