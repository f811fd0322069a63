/**
 * The scheduler's cluster events (`schedule_fired`, `schedule_skipped`, `schedule_catch_up`): logged, counted
 * and kept in the cluster event log behind `GET /api/v1/events`. Skips and catch-ups are one event per
 * evaluation and all kept; fires come one per run, so storage keeps at most `firedPerSecond` of them a second
 * (a token bucket; the rest are logged and counted only). The log is trimmed to its newest `keep` events after
 * every `trimEvery` stored here, and at most `maxInFlight` appends are pending (more are dropped, counted).
 *
 * @module
 */
import type { ClusterEventLog } from "../../storage/storage.ts";
import type { Logger } from "../runtime/logger.ts";
import type { ScheduleEventType } from "../runtime/schedule_observer.ts";

/** Bounds of {@link ScheduleEvents}. */
export interface ScheduleEventOptions {
  /** `schedule_fired` events stored per second (the rest are logged and counted). */
  firedPerSecond: number;
  /** The burst of `schedule_fired` events stored at once. */
  firedBurst: number;
  /** Appends pending at once; more are dropped. */
  maxInFlight: number;
  /** Events stored between two trims of the log. */
  trimEvery: number;
  /** Events the log keeps when trimmed. */
  keep: number;
}

/** The defaults of {@link ScheduleEventOptions}. */
export const DEFAULT_SCHEDULE_EVENT_OPTIONS: Readonly<ScheduleEventOptions> = Object.freeze({
  firedPerSecond: 10,
  firedBurst: 100,
  maxInFlight: 256,
  trimEvery: 1_000,
  keep: 10_000,
});

/**
 * Records the scheduler's cluster events.
 *
 * @example
 * ```ts
 * import { ScheduleEvents } from "./schedule_events.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { silentLogger } from "../runtime/logger.ts";
 * const storage = new MemoryStorage();
 * const counted: string[] = [];
 * const events = new ScheduleEvents(storage, {
 *   node: "n1", now: () => 0, log: silentLogger, count: (t) => counted.push(t),
 * });
 * events.record("schedule_skipped", { scheduleId: "s", count: 3 });
 * await events.flush();
 * const stored = await storage.listClusterEvents(10, "schedule_skipped");
 * if (stored.length !== 1 || counted.join() !== "schedule_skipped") throw new Error();
 * ```
 */
export class ScheduleEvents {
  readonly #opts: ScheduleEventOptions;
  #tokens: number;
  #refilledAt: number;
  #inFlight = new Set<Promise<void>>();
  #sinceTrim = 0;

  constructor(
    private readonly storage: Pick<ClusterEventLog, "appendClusterEvent" | "trimClusterEvents">,
    private readonly deps: {
      node: string;
      now: () => number;
      log: Logger;
      /** Counts an event (`workflow_cluster_events_total`). */
      count: (type: string) => void;
    },
    options: Partial<ScheduleEventOptions> = {},
  ) {
    this.#opts = { ...DEFAULT_SCHEDULE_EVENT_OPTIONS, ...options };
    this.#tokens = this.#opts.firedBurst;
    this.#refilledAt = deps.now();
  }

  /** Logs, counts and (within the bounds) stores one event. Never throws. */
  record(type: ScheduleEventType, details: Record<string, unknown>): void {
    const { log, count, now, node } = this.deps;
    count(type);
    if (type === "schedule_fired") log.debug(type, { event: type, ...details });
    else log.info(type, { event: type, ...details });
    if (type === "schedule_fired" && !this.#take()) return;
    if (this.#inFlight.size >= this.#opts.maxInFlight) return;
    const append: Promise<void> = this.storage.appendClusterEvent({ at: now(), type, node, details })
      .then(() => this.#stored())
      .catch((err) => log.warn("could not store a schedule event", { type, error: String(err) }))
      .finally(() => this.#inFlight.delete(append));
    this.#inFlight.add(append);
  }

  /** Waits for the appends pending now. */
  async flush(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  /** A token of the `schedule_fired` bucket, if one is left. */
  #take(): boolean {
    const now = this.deps.now();
    const refill = ((now - this.#refilledAt) / 1000) * this.#opts.firedPerSecond;
    if (refill > 0) {
      this.#tokens = Math.min(this.#opts.firedBurst, this.#tokens + refill);
      this.#refilledAt = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  async #stored(): Promise<void> {
    if (++this.#sinceTrim < this.#opts.trimEvery) return;
    this.#sinceTrim = 0;
    await this.storage.trimClusterEvents(this.#opts.keep);
  }
}
