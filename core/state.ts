/**
 * The state of one execution, and `evolve`: how one event changes it. Replaying an
 * execution's events through `evolve` from `initialState` rebuilds its state.
 *
 * @module
 */
import type { ExecutionTrigger } from "./schedule.ts";
import type { ConcurrencySlot, ErrorInfo, ExecutionEvent, ParentLink } from "./events.ts";
import type { Json } from "./json.ts";
import type { Plan } from "./plan.ts";

/** An execution's status, as the API words it. */
export type ExecutionStatus = "running" | "completed" | "failed" | "cancelled" | "timed_out";

/** An execution's status as the API shows it: `paused` is a running execution that starts no node. */
export type ExecutionViewStatus = ExecutionStatus | "paused";

/** Statuses after which nothing happens (unless a retry or a rerun reopens the execution). */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  "completed",
  "failed",
  "cancelled",
  "timed_out",
]);

/**
 * A node's status inside the core. The API folds `scheduled` into `pending` and
 * `waiting_retry` into `running` (see `view.ts`).
 */
export type NodeStatus =
  | "pending"
  | "scheduled"
  | "running"
  | "waiting_retry"
  | "completed"
  | "failed"
  | "skipped"
  | "cancelled";

/** One node of one execution. */
export interface NodeState {
  status: NodeStatus;
  /** Attempts started so far. */
  attempts: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Timeout of the running attempt. */
  timeoutAt: number | null;
  /** Delay nodes: when the running attempt's timer fires. */
  wakeAt: number | null;
  /** Signal nodes: the signal the running attempt awaits. */
  awaitSignal: string | null;
  /** When the next attempt is due (status `waiting_retry`). */
  retryAt: number | null;
  outputRef: string | null;
  recordsProcessed: number | null;
  handle: string | null;
  error: ErrorInfo | null;
  /** `foreach` and `workflow.run`: the children of the running attempt, once planned. */
  children: ChildProgress | null;
  /** Signal nodes: the records the signal's payload gave (`null`: the input passes on). */
  signalRecords: Json[] | null;
}

/** The children of one attempt of a `foreach` or `workflow.run` node. */
export interface ChildProgress {
  /** Children in all (one per item). */
  count: number;
  /** The index of the next child to start. */
  next: number;
  /** Indexes of the children started and not ended, ascending. */
  live: readonly number[];
  ended: number;
  /** Children that ended other than completed. */
  failed: number;
  /** The child workflow's version they run, when the planning fixed it. */
  version: number | null;
}

/** The trigger of an execution submitted through the API. */
const API_TRIGGER: ExecutionTrigger = Object.freeze({ kind: "api" });

/** One execution. `status` is `null` before ExecutionStarted. */
export interface ExecutionState {
  executionId: string;
  plan: Plan;
  status: ExecutionStatus | null;
  lastSeq: number;
  input: Json;
  idempotencyKey: string | null;
  /** Why it started. */
  trigger: ExecutionTrigger;
  startedAt: number | null;
  endedAt: number | null;
  timeoutAt: number | null;
  /** The execution timeout's length as it started (a retry or rerun gets as long again). */
  timeoutMs: number | null;
  nodes: Readonly<Record<string, NodeState>>;
  /** Names of the signals received so far. */
  signals: readonly string[];
  /** The latest payload of each signal received. */
  signalPayloads: Readonly<Record<string, Json>>;
  error: ErrorInfo | null;
  /** Paused: no node starts, due timers wait (but the execution timeout). */
  paused: boolean;
  /** Waiting for a slot of its concurrency key: its nodes are not scheduled yet. */
  queued: boolean;
  /** A child execution's parent. */
  parent: ParentLink | null;
  /** The concurrency key it holds (or waits for). */
  concurrency: ConcurrencySlot | null;
  /** Retries and reruns so far. */
  reopened: number;
}

const NEW_NODE: NodeState = Object.freeze({
  status: "pending",
  attempts: 0,
  startedAt: null,
  endedAt: null,
  timeoutAt: null,
  wakeAt: null,
  awaitSignal: null,
  retryAt: null,
  outputRef: null,
  recordsProcessed: null,
  handle: null,
  error: null,
  children: null,
  signalRecords: null,
}) as NodeState;

/** The state of an execution before its first event. */
export function initialState(executionId: string, plan: Plan): ExecutionState {
  const nodes: Record<string, NodeState> = {};
  for (const n of plan.nodes) nodes[n.id] = NEW_NODE;
  return {
    executionId,
    plan,
    status: null,
    lastSeq: 0,
    input: null,
    idempotencyKey: null,
    trigger: API_TRIGGER,
    startedAt: null,
    endedAt: null,
    timeoutAt: null,
    timeoutMs: null,
    nodes,
    signals: [],
    signalPayloads: {},
    error: null,
    paused: false,
    queued: false,
    parent: null,
    concurrency: null,
    reopened: 0,
  };
}

/** Whether a node status is final. */
export function nodeDone(status: NodeStatus): boolean {
  return status === "completed" || status === "skipped" || status === "failed" || status === "cancelled";
}

/**
 * A state being built: a copy of a state whose node map is the builder's own. Events are applied to it in
 * place; node objects are never changed, only replaced, since earlier states share them.
 */
type Draft = { -readonly [K in keyof ExecutionState]: ExecutionState[K] } & {
  nodes: Record<string, NodeState>;
};

function draftOf(state: ExecutionState): Draft {
  return { ...state, nodes: { ...state.nodes } };
}

/**
 * A private copy of a state, for a caller that folds many decisions into one state and keeps none of the
 * states between them (`DecideOptions.inPlace`): the decider then changes this copy in place instead of
 * copying the state (and its node map, O(nodes)) once per decision.
 *
 * @example
 * ```ts
 * import { initialState, workingCopy } from "./state.ts";
 * import { compilePlan } from "./plan.ts";
 * const plan = compilePlan({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }] }, 1);
 * const state = initialState("e1", plan);
 * const copy = workingCopy(state);
 * if (copy === state || copy.nodes === state.nodes || copy.nodes.a !== state.nodes.a) throw new Error();
 * ```
 */
export function workingCopy(state: ExecutionState): ExecutionState {
  return draftOf(state);
}

function patchNode(draft: Draft, nodeId: string, patch: Partial<NodeState>): void {
  const node = draft.nodes[nodeId];
  if (!node) throw new Error(`assertion: event names unknown node ${nodeId}`);
  draft.nodes[nodeId] = { ...node, ...patch };
}

function endAll(draft: Draft, status: ExecutionStatus, at: number, error: ErrorInfo | null): void {
  for (const [id, n] of Object.entries(draft.nodes)) {
    if (!nodeDone(n.status)) {
      draft.nodes[id] = { ...n, status: "cancelled", endedAt: n.startedAt === null ? null : at };
    }
  }
  draft.status = status;
  draft.endedAt = at;
  draft.error = error;
}

/** The plan of a version of the execution's workflow (needed to replay `ExecutionMigrated`). */
export type PlanOf = (version: number) => Plan | undefined;

/** The records a signal's payload gives a `signal.wait` node: an array's items, or the payload itself. */
export function signalRecords(payload: Json | undefined): Json[] | null {
  if (payload === undefined || payload === null) return null;
  return Array.isArray(payload) ? payload : [payload];
}

function migrate(draft: Draft, plan: Plan | undefined, version: number): void {
  if (plan === undefined || plan.version !== version) {
    throw new Error(`assertion: no plan of version ${version} to replay a migration of ${draft.executionId}`);
  }
  const nodes: Record<string, NodeState> = {};
  for (const n of plan.nodes) nodes[n.id] = draft.nodes[n.id] ?? NEW_NODE;
  draft.plan = plan;
  draft.nodes = nodes;
}

function reopen(draft: Draft, event: Extract<ExecutionEvent, { type: "ExecutionReopened" }>): void {
  for (const id of event.nodes) {
    const n = draft.nodes[id];
    if (!n) throw new Error(`assertion: reopened unknown node ${id}`);
    draft.nodes[id] = { ...NEW_NODE, attempts: n.attempts };
  }
  // A signal node that runs again waits for a new signal: the names it awaits are forgotten.
  const awaited = new Set(event.nodes.flatMap((id) => draft.plan.byId.get(id)?.signalName ?? []));
  if (awaited.size > 0) {
    draft.signals = draft.signals.filter((name) => !awaited.has(name));
    draft.signalPayloads = Object.fromEntries(
      Object.entries(draft.signalPayloads).filter(([name]) => !awaited.has(name)),
    );
  }
  draft.status = "running";
  draft.endedAt = null;
  draft.error = null;
  draft.paused = false;
  draft.timeoutAt = event.timeoutAt;
  draft.reopened++;
  draft.queued = draft.concurrency !== null;
  if (event.input !== undefined) draft.input = event.input;
}

function childEvent(draft: Draft, event: ExecutionEvent & { nodeId: string }): void {
  const n = draft.nodes[event.nodeId];
  const c = n?.children;
  if (event.type === "ChildrenPlanned") {
    return patchNode(draft, event.nodeId, {
      children: {
        count: event.count,
        next: 0,
        live: [],
        ended: 0,
        failed: 0,
        version: event.version ?? null,
      },
    });
  }
  if (!c) throw new Error(`assertion: ${event.type} before ChildrenPlanned on ${event.nodeId}`);
  if (event.type === "ChildStarted") {
    return patchNode(draft, event.nodeId, {
      children: { ...c, next: event.index + 1, live: [...c.live, event.index] },
    });
  }
  if (event.type === "ChildEnded") {
    return patchNode(draft, event.nodeId, {
      children: {
        ...c,
        live: c.live.filter((i) => i !== event.index),
        ended: c.ended + 1,
        failed: c.failed + (event.status === "completed" ? 0 : 1),
      },
    });
  }
}

/** Applies one event to a draft, in place (see `evolve`). */
function apply(draft: Draft, event: ExecutionEvent, planOf?: PlanOf): void {
  if (event.seq !== draft.lastSeq + 1) {
    throw new Error(
      `assertion: event seq ${event.seq} does not follow ${draft.lastSeq} in ${draft.executionId}`,
    );
  }
  draft.lastSeq = event.seq;
  switch (event.type) {
    case "ExecutionStarted":
      draft.status = "running";
      draft.input = event.input;
      draft.idempotencyKey = event.idempotencyKey;
      draft.trigger = event.trigger ?? API_TRIGGER;
      draft.startedAt = event.at;
      draft.timeoutAt = event.timeoutAt;
      draft.timeoutMs = event.timeoutAt === null ? null : event.timeoutAt - event.at;
      draft.parent = event.parent ?? null;
      draft.concurrency = event.concurrency ?? null;
      draft.queued = event.queued === true;
      return;
    case "NodeScheduled":
      return patchNode(draft, event.nodeId, { status: "scheduled", retryAt: null });
    case "NodeStarted":
      return patchNode(draft, event.nodeId, {
        status: "running",
        attempts: event.attempt,
        startedAt: draft.nodes[event.nodeId]?.startedAt ?? event.at,
        timeoutAt: event.timeoutAt,
        wakeAt: event.wakeAt ?? null,
        awaitSignal: event.awaitSignal ?? null,
        error: null,
        children: null,
        signalRecords: null,
      });
    case "NodeSucceeded": {
      const awaited = draft.nodes[event.nodeId]?.awaitSignal ?? null;
      return patchNode(draft, event.nodeId, {
        signalRecords: awaited === null ? null : signalRecords(draft.signalPayloads[awaited]),
        status: "completed",
        endedAt: event.at,
        timeoutAt: null,
        wakeAt: null,
        awaitSignal: null,
        outputRef: event.outputRef,
        recordsProcessed: event.recordsProcessed,
        handle: event.handle ?? null,
      });
    }
    case "NodeFailed":
      return patchNode(draft, event.nodeId, {
        status: "failed",
        endedAt: event.at,
        timeoutAt: null,
        wakeAt: null,
        awaitSignal: null,
        error: event.error,
      });
    case "NodeRetryScheduled":
      return patchNode(draft, event.nodeId, { status: "waiting_retry", retryAt: event.dueAt, endedAt: null });
    case "NodeSkipped":
      return patchNode(draft, event.nodeId, { status: "skipped", endedAt: event.at });
    case "TimerFired":
      return;
    case "SignalReceived":
      if (!draft.signals.includes(event.name)) draft.signals = [...draft.signals, event.name];
      draft.signalPayloads = { ...draft.signalPayloads, [event.name]: event.payload };
      return;
    case "ExecutionSucceeded":
      draft.status = "completed";
      draft.endedAt = event.at;
      return;
    case "ExecutionFailed":
      return endAll(draft, "failed", event.at, event.error);
    case "ExecutionCancelled":
      return endAll(draft, "cancelled", event.at, { code: "cancelled", message: event.reason });
    case "ExecutionTimedOut":
      return endAll(draft, "timed_out", event.at, {
        code: "execution_timeout",
        message: "the execution timed out",
      });
    default:
      return applySteering(draft, event, planOf);
  }
}

/** Applies an event of steering, children or termination (see `apply`). */
function applySteering(draft: Draft, event: ExecutionEvent, planOf?: PlanOf): void {
  switch (event.type) {
    case "ExecutionAdmitted":
      draft.queued = false;
      return;
    case "ExecutionPaused":
      draft.paused = true;
      return;
    case "ExecutionResumed":
      draft.paused = false;
      return;
    case "ExecutionReopened":
      return reopen(draft, event);
    case "ExecutionMigrated":
      return migrate(draft, planOf?.(event.toVersion), event.toVersion);
    case "ChildrenPlanned":
    case "ChildStarted":
    case "ChildEnded":
      return childEvent(draft, event);
    case "ExecutionTerminated":
      return endAll(
        draft,
        event.status,
        event.at,
        event.status === "failed"
          ? { code: "terminated", message: event.reason, nodeId: event.nodeId }
          : null,
      );
    default:
      throw new Error(`assertion: unknown event ${event.type} in ${draft.executionId}`);
  }
}

/**
 * Applies one event. Total over valid histories; throws on an event that cannot
 * follow the state (a corrupt history), since no decider ever emits one.
 */
export function evolve(state: ExecutionState, event: ExecutionEvent, planOf?: PlanOf): ExecutionState {
  const draft = draftOf(state);
  apply(draft, event, planOf);
  return draft;
}

/**
 * Folds events into a state with one copy of the state (not one per event): the
 * same result as `events.reduce((s, ev) => evolve(s, ev), state)`. `StateBuilder` does it one event
 * at a time.
 */
export function evolveAll(
  state: ExecutionState,
  events: readonly ExecutionEvent[],
  planOf?: PlanOf,
): ExecutionState {
  if (events.length === 0) return state;
  const draft = draftOf(state);
  for (const e of events) apply(draft, e, planOf);
  return draft;
}

/**
 * Folds events into a state one at a time, copying the state once: `state` is
 * the fold so far. Hand the result on only when done adding (it is the same
 * object, changed in place by later `add`s).
 */
export class StateBuilder {
  #draft: Draft | undefined;
  /**
   * @param inPlace `base` is the caller's working copy (`workingCopy`): events change it in place, with no
   * copy at all.
   */
  constructor(private readonly base: ExecutionState, private readonly planOf?: PlanOf, inPlace = false) {
    if (inPlace) this.#draft = base as Draft;
  }
  /** The state after every event added so far. */
  get state(): ExecutionState {
    return this.#draft ?? this.base;
  }
  /** Applies one event (see `evolve`). */
  add(event: ExecutionEvent): void {
    apply(this.#draft ??= draftOf(this.base), event, this.planOf);
  }
}

/**
 * Rebuilds a state from its history. `plan` is the plan of the version it started on; a migrated execution
 * also needs `planOf` for the versions it moved to (see `historyVersions`).
 */
export function replay(
  executionId: string,
  plan: Plan,
  events: readonly ExecutionEvent[],
  planOf?: PlanOf,
): ExecutionState {
  return evolveAll(initialState(executionId, plan), events, planOf);
}

/**
 * The workflow versions a history runs on: the one it started on, then each it migrated to.
 *
 * @example
 * ```ts
 * import { historyVersions } from "./state.ts";
 * const v = historyVersions([{ type: "ExecutionMigrated", v: 1, seq: 9, at: 0, fromVersion: 1, toVersion: 3 }]);
 * if (v.join() !== "3") throw new Error(v.join());
 * ```
 */
export function historyVersions(events: readonly ExecutionEvent[]): number[] {
  const versions: number[] = [];
  for (const e of events) {
    if (e.type === "ExecutionStarted") versions.push(e.version);
    else if (e.type === "ExecutionMigrated") versions.push(e.toVersion);
  }
  return versions;
}
