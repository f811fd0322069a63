/**
 * The hooks an engine calls as executions and attempts run (`server/ops/metrics.ts` counts them,
 * `server/ops/tracing.ts` makes spans of them), and `Observation`, the one place the runtime calls them and
 * writes its per-execution debug lines.
 *
 * @module
 */
import type { ExecutionEvent } from "../../core/events.ts";
import type { ExecutionTrigger } from "../../core/schedule.ts";
import { type PlanNode, planNode } from "../../core/plan.ts";
import type { ExecutionState, ExecutionStatus } from "../../core/state.ts";
import type { ExecutionActor } from "./actor.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";

/** An execution as observers see it. */
export interface ObservedExecution {
  executionId: string;
  workflowId: string;
  version: number;
  shard: number;
  /** When it was submitted (epoch ms, the engine's clock). */
  submittedAt: number;
  /** False when it was just submitted here; true when it was loaded from storage (a restart, a failover). */
  recovered: boolean;
  /** Why it started: through the API, or a schedule's tick (absent: through the API). */
  trigger?: ExecutionTrigger;
}

/** One node attempt as observers see it. */
export interface ObservedAttempt {
  executionId: string;
  nodeId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** How an attempt's executor ended: returned records, threw, or was aborted (superseded, cancelled, moved). */
export type AttemptOutcome = "completed" | "failed" | "aborted";

/**
 * Hooks the engine calls as executions and attempts run (server/ops/metrics.ts counts them, server/ops/tracing.ts
 * makes spans of them). Every method is optional; each is called synchronously on the engine's path, so it
 * must be cheap (O(1)) and must not throw. `kind` is a node's `${type}/${nodeType}` (a bounded set: the
 * catalog). A value returned by `executionStarted` / `attemptStarted` is a handle the engine keeps and hands
 * back (a span, say); the engine never looks into it.
 */
export interface EngineObserver {
  /**
   * An execution became live here: submitted (called before its first attempt runs, which may be before its
   * first append commits) or recovered from storage.
   */
  executionStarted?(execution: ObservedExecution): unknown;
  /** A submitted execution's first events committed: it exists now (a refused duplicate never gets here). */
  executionCreated?(handle: unknown): void;
  /** Its terminal event committed here; `durationMs` runs from submission to the end (both from events). */
  executionEnded?(status: ExecutionStatus, durationMs: number, handle: unknown): void;
  /** It stopped being live here without ending (its shard moved, the engine stopped, a reload). */
  executionReleased?(handle: unknown): void;
  /** An executor is about to run an attempt of a node of this kind. */
  attemptStarted?(kind: string, attempt: ObservedAttempt, execution: unknown): unknown;
  /** The executor returned, threw, or was aborted, after `durationMs`. */
  attemptEnded?(kind: string, outcome: AttemptOutcome, durationMs: number, handle: unknown): void;
  /** Runs the executor "inside" the attempt (a tracer makes its span the active one); returns `fn()`. */
  runAttempt?<T>(handle: unknown, fn: () => T): T;
  /** The W3C `traceparent` of an attempt, handed to executors (the http node sends it). */
  traceparent?(handle: unknown): string | undefined;
  /** A failed attempt of a node of this kind will be retried (NodeRetryScheduled committed). */
  retryScheduled?(kind: string): void;
  /** An attempt of a node of this kind failed (NodeFailed committed: an error or a timeout; a retry may follow). */
  nodeFailed?(kind: string): void;
  /** One append of `events` events committed (or was refused) after `ms`, queueing in a commit group included. */
  appendCommitted?(ms: number, events: number): void;
  /** An append threw (storage unreachable) after `ms`. */
  appendFailed?(ms: number): void;
}

/** A node's kind as observers label it. */
export function kindOf(node: PlanNode): string {
  return `${node.type}/${node.nodeType}`;
}

/**
 * Tells the observer (and the debug log) what happens to live executions: each is started once, then ended
 * or released once. An `ExecutionActor` keeps its handle (`observed`) and whether it is being observed.
 */
export class Observation {
  constructor(
    /** The hooks (none: the simulator runs without them). */
    readonly observer: EngineObserver | undefined,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /**
   * A submitted execution started (once): when its first append commits, or just before local nodes run
   * inside that first append, so their attempts have the execution as their parent.
   */
  started(actor: ExecutionActor, state: ExecutionState): void {
    if (actor.observing) return;
    const obs = this.observer;
    if (obs?.executionStarted) {
      actor.observed = obs.executionStarted({
        executionId: state.executionId,
        workflowId: state.plan.workflowId,
        version: state.plan.version,
        shard: actor.fence.shard,
        submittedAt: state.startedAt ?? this.clock.now(),
        recovered: false,
        trigger: state.trigger,
      });
    }
    actor.observing = true;
  }

  /** A consumer's delivery could not be settled: the broker redelivers what it held. */
  settleFailed(executionId: string, action: "commit" | "release", err: unknown): void {
    this.log.warn(`delivery ${action} failed; the broker will redeliver`, {
      event: "delivery_settle_failed",
      executionId,
      error: String(err),
    });
  }

  /** An execution was loaded from storage (a restart, a failover) and is live here now. */
  recovered(actor: ExecutionActor): void {
    const state = actor.state;
    if (this.observer?.executionStarted) {
      actor.observed = this.observer.executionStarted({
        executionId: state.executionId,
        workflowId: state.plan.workflowId,
        version: state.plan.version,
        shard: actor.fence.shard,
        submittedAt: state.startedAt ?? this.clock.now(),
        recovered: true,
        trigger: state.trigger,
      });
    }
    actor.observing = true;
    this.log.debug("execution recovered", this.fields("execution_recovered", actor));
  }

  /** The execution is no longer live here without having ended: the observer lets go of it. */
  released(actor: ExecutionActor): void {
    if (!actor.observing) return;
    actor.observing = false;
    this.observer?.executionReleased?.(actor.observed);
  }

  /** What a committed batch did, from `before` to the actor's state now: a start, retries, failures, the end. */
  committed(actor: ExecutionActor, before: ExecutionState, events: ExecutionEvent[]): void {
    const state = actor.state;
    const obs = this.observer;
    if (before.lastSeq === 0 && state.status !== null) {
      this.started(actor, state);
      obs?.executionCreated?.(actor.observed);
      this.log.debug("execution started", this.fields("execution_started", actor));
    }
    if (obs && (obs.retryScheduled || obs.nodeFailed)) {
      for (const e of events) {
        if (e.type === "NodeRetryScheduled") obs.retryScheduled?.(kindOf(planNode(state.plan, e.nodeId)));
        else if (e.type === "NodeFailed") obs.nodeFailed?.(kindOf(planNode(state.plan, e.nodeId)));
      }
    }
    if (state.status !== null && state.status !== "running" && before.status !== state.status) {
      const durationMs = (state.endedAt ?? 0) - (state.startedAt ?? 0);
      if (actor.observing) obs?.executionEnded?.(state.status, durationMs, actor.observed);
      actor.observing = false;
      this.log.debug("execution ended", {
        ...this.fields("execution_ended", actor),
        status: state.status,
        durationMs,
      });
    }
  }

  /** The log fields of an execution. */
  fields(event: string, actor: ExecutionActor): Record<string, unknown> {
    return {
      event,
      executionId: actor.state.executionId,
      workflowId: actor.state.plan.workflowId,
      shard: actor.fence.shard,
    };
  }
}
