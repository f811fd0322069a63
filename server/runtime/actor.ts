/**
 * One live execution: its committed state, its inbox of commands, and what runs for it (attempts in flight,
 * armed timers, cached outputs, callers waiting for its end). The pump (`pump.ts`) is the only writer of its
 * state; everything else reads it.
 *
 * @module
 */
import type { Command, Decision } from "../../core/decide.ts";
import type { ExecutionState } from "../../core/state.ts";
import type { Fence, OutputWrite } from "../../storage/storage.ts";
import type { Delivery } from "../executors/broker.ts";
import type { ScheduleFireWrite } from "../../storage/schedule_records.ts";
import type { EngineError, EngineLimits } from "./options.ts";
import { OutputCache } from "./output_cache.ts";

/** A decision, or an engine error (the append was refused, the actor retired). */
export type Outcome = Decision | { ok: false; error: EngineError };

/** A command waiting in an actor's inbox, with whoever waits for its outcome. */
export interface Pending {
  command: Command;
  /** Records to store with the command's events (a completed attempt's output). */
  outputs?: OutputWrite[];
  /** What a consumer attempt took: committed once this command's events commit, else released. */
  delivery?: Delivery;
  resolve?: (d: Outcome) => void;
  reject?: (e: unknown) => void;
}

/** A finished attempt: the command it becomes, the records to store, and their size as JSON. */
export interface AttemptResult extends Pending {
  bytes: number;
}

/** What the submission that creates an execution here asks of its first append. */
export interface Creation {
  /** A hash of the request, stored with the idempotency key. */
  requestHash: string | undefined;
  /** The workflow version must still be the latest (`AppendRequest.requireLatestVersion`). */
  requireLatestVersion: boolean;
  /** The schedule fire its creating append records (`AppendRequest.scheduleFire`). */
  scheduleFire?: ScheduleFireWrite;
}

/** A live execution. Collections are created on first use: an idle execution should cost little memory. */
export class ExecutionActor {
  inbox: Pending[] = [];
  busy = false;
  /** Appends that threw in a row (the retry back-off). */
  failures = 0;
  /** Attempts running, by `${nodeId}#${attempt}`. */
  inflight: Map<string, AbortController> | undefined = undefined;
  /** Timers armed in the timer queue. */
  armed: Set<string> | undefined = undefined;
  /** Outputs by ref, committed: a cache of storage, bounded (`outputCache`). */
  outputs: OutputCache | undefined = undefined;
  /** Callers of `Engine.wait`, woken when it ends or leaves. */
  waiters: Set<() => void> | undefined = undefined;
  /** The observer's handle of this execution (see `EngineObserver.executionStarted`). */
  observed: unknown = undefined;
  /** Whether the observer was told it started and not yet that it ended or was released. */
  observing = false;
  /** Aborts the local attempt running inside the pump, if any (the actor retires, the engine stops). */
  localAbort: AbortController | undefined = undefined;
  /** The submission that creates it here: the decision on its first append. */
  creation: Promise<Outcome> | undefined = undefined;

  constructor(
    public state: ExecutionState,
    readonly fence: Fence,
    /** Set when a submission creates it here; read by its first append, dropped once that commits. */
    public creating?: Creation,
  ) {}
}

/**
 * The actor's output cache, made on first use: at most twice the records one node may emit
 * (`EngineLimits.maxRecords`), so a node's inputs are at hand while an execution's memory stays bounded by
 * the limits, not by its size; older outputs are read from storage again when needed.
 *
 * @example
 * ```ts
 * import { ExecutionActor, outputCache } from "./actor.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * import { initialState } from "../../core/state.ts";
 * const plan = compilePlan({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }] }, 1);
 * const actor = new ExecutionActor(initialState("e1", plan), { shard: 0, epoch: 1 });
 * if (outputCache(actor, { maxRecords: 10 }).maxRecords !== 20) throw new Error();
 * ```
 */
export function outputCache(actor: ExecutionActor, limits: Pick<EngineLimits, "maxRecords">): OutputCache {
  return actor.outputs ??= new OutputCache(2 * limits.maxRecords);
}
