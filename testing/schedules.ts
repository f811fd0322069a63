/**
 * Schedules for tests: a node made of an engine and its scheduler over a given storage and clock, the
 * workflows scheduled runs start (one that ends at once, one that waits on a durable delay), specs with the
 * defaults, and a manual clock for backends whose I/O the simulator's clock cannot wait for. Imported only by
 * tests and benches.
 *
 * @module
 */
import { MinHeap } from "../core/heap.ts";
import { SCHEDULE_DEFAULTS, type ScheduleFire, type ScheduleSpec } from "../core/schedule.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { Storage, StoredWorkflow } from "../storage/storage.ts";
import type { Clock, TimerHandle } from "../server/runtime/clock.ts";
import { Engine } from "../server/runtime/engine.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import { ScheduledRunEnds } from "../server/runtime/schedule_observer.ts";
import { Scheduler, type SchedulerLimits } from "../server/runtime/scheduler.ts";
import { WorkflowService } from "../server/runtime/workflows.ts";
import { executorFor } from "../server/executors/registry.ts";
import { realServices } from "../server/executors/services.ts";

/** A workflow whose runs end in their first append. */
export function quickWorkflow(id: string): WorkflowDefinition {
  return {
    id,
    name: id,
    nodes: [{ id: "one", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 2 } }],
    edges: [],
  };
}

/** A workflow whose runs last `delayMs` of clock time (a durable delay). */
export function slowWorkflow(id: string, delayMs: number): WorkflowDefinition {
  return {
    id,
    name: id,
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 2 } },
      { id: "wait", type: "control", nodeType: "delay", config: { durationMs: delayMs } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "src", target: "wait" }, { source: "wait", target: "out" }],
  } as WorkflowDefinition;
}

/** Stores a workflow (version 1). */
export async function storeWorkflow(
  storage: Storage,
  definition: WorkflowDefinition,
): Promise<StoredWorkflow> {
  const put = await storage.putWorkflow(definition, `hash-${definition.id}`, 0, 0);
  if (!put.ok) throw new Error(`could not store ${definition.id}`);
  return put.workflow;
}

/** A spec with the defaults: `fixed_rate` every minute unless told otherwise. */
export function specOf(partial: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return {
    ...SCHEDULE_DEFAULTS,
    kind: "fixed_rate",
    cronExpression: null,
    intervalMs: 60_000,
    startAt: null,
    endAt: null,
    input: null,
    ...partial,
  };
}

/** An engine and its scheduler, with the fires its observer saw. */
export interface ScheduleNode {
  name: string;
  engine: Engine;
  scheduler: Scheduler;
  workflows: WorkflowService;
  /** Fires the scheduler's observer was told of, in order. */
  fires: ScheduleFire[];
  /** Cluster events the observer was told of (their types). */
  events: string[];
  /** Stops the scheduler, the engine and its services. */
  stop(): Promise<void>;
}

/** Options of {@link startScheduleNode}. */
export interface ScheduleNodeOptions {
  /** Default `node-a`. */
  name?: string;
  /** Default 8. */
  shardCount?: number;
  /** Claim every shard at start (standalone; default true). */
  claimAll?: boolean;
  limits?: Partial<SchedulerLimits>;
}

/** Starts an engine and its scheduler over `storage` on `clock`. */
export async function startScheduleNode(
  storage: Storage,
  clock: Clock,
  opts: ScheduleNodeOptions = {},
): Promise<ScheduleNode> {
  const name = opts.name ?? "node-a";
  const runEnds = new ScheduledRunEnds();
  const services = realServices({ log: () => {} });
  const engine = new Engine({
    storage,
    clock,
    newId: () => crypto.randomUUID(),
    executorFor,
    services,
    nodeName: name,
    log: silentLogger,
    shardCount: opts.shardCount ?? 8,
    limits: { sweepIntervalMs: 3_600_000 },
    observer: runEnds,
  });
  const workflows = new WorkflowService(storage, () => clock.now());
  const fires: ScheduleFire[] = [];
  const events: string[] = [];
  const scheduler = new Scheduler({
    engine,
    store: storage,
    workflows,
    clock,
    log: silentLogger,
    runEnds,
    limits: opts.limits,
    observer: { fire: (f) => fires.push(f), event: (type) => events.push(type) },
  });
  scheduler.start();
  await engine.start({ claimAllShards: opts.claimAll ?? true });
  return {
    name,
    engine,
    scheduler,
    workflows,
    fires,
    events,
    async stop() {
      await scheduler.stop();
      await engine.stop();
      await services.close();
    },
  };
}

/** One armed timer of a {@link ManualClock}. */
interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock moved by hand: `advanceTo` runs the timers due in order, awaiting `settle` after each (for
 * storage whose I/O takes real time, wait there for what the timer set going).
 */
export class ManualClock implements Clock {
  #heap = new MinHeap<ManualTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  #seq = 0;

  constructor(public current: number) {}

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = { at: this.current + Math.max(0, delayMs), seq: this.#seq++, fn, cancelled: false };
    this.#heap.push(t);
    return t;
  }

  clearTimer(handle: TimerHandle): void {
    if (handle && typeof handle === "object" && "cancelled" in handle) {
      (handle as ManualTimer).cancelled = true;
    }
  }

  /** Runs every timer due up to `until` in order, then stands at `until`. */
  async advanceTo(until: number, settle: () => Promise<void>): Promise<void> {
    await settle();
    while (this.#heap.size > 0 && this.#heap.peek()!.at <= until) {
      const t = this.#heap.pop()!;
      if (t.cancelled) continue;
      this.current = Math.max(this.current, t.at);
      t.fn();
      await settle();
    }
    this.current = Math.max(this.current, until);
  }
}
