/**
 * The state of one execution, and `evolve`: how one event changes it. Replaying an
 * execution's events through `evolve` from `initialState` rebuilds its state.
 *
 * @module
 */
import type { ExecutionTrigger } from "./schedule.ts";
import type { ErrorInfo, ExecutionEvent } from "./events.ts";
import type { Json } from "./json.ts";
import type { Plan } from "./plan.ts";

/** An execution's status, as the API words it. */
export type ExecutionStatus = "running" | "completed" | "failed" | "cancelled" | "timed_out";

/** Statuses after which nothing happens. */
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
  nodes: Readonly<Record<string, NodeState>>;
  /** Names of the signals received so far. */
  signals: readonly string[];
  error: ErrorInfo | null;
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
    nodes,
    signals: [],
    error: null,
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

/** Applies one event to a draft, in place (see `evolve`). */
function apply(draft: Draft, event: ExecutionEvent): void {
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
      });
    case "NodeSucceeded":
      return patchNode(draft, event.nodeId, {
        status: "completed",
        endedAt: event.at,
        timeoutAt: null,
        wakeAt: null,
        awaitSignal: null,
        outputRef: event.outputRef,
        recordsProcessed: event.recordsProcessed,
        handle: event.handle ?? null,
      });
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
  }
}

/**
 * Applies one event. Total over valid histories; throws on an event that cannot
 * follow the state (a corrupt history), since no decider ever emits one.
 */
export function evolve(state: ExecutionState, event: ExecutionEvent): ExecutionState {
  const draft = draftOf(state);
  apply(draft, event);
  return draft;
}

/**
 * Folds events into a state with one copy of the state (not one per event): the
 * same result as `events.reduce(evolve, state)`. `StateBuilder` does it one event
 * at a time.
 */
export function evolveAll(state: ExecutionState, events: readonly ExecutionEvent[]): ExecutionState {
  if (events.length === 0) return state;
  const draft = draftOf(state);
  for (const e of events) apply(draft, e);
  return draft;
}

/**
 * Folds events into a state one at a time, copying the state once: `state` is
 * the fold so far. Hand the result on only when done adding (it is the same
 * object, changed in place by later `add`s).
 */
export class StateBuilder {
  #draft: Draft | undefined;
  constructor(private readonly base: ExecutionState) {}
  /** The state after every event added so far. */
  get state(): ExecutionState {
    return this.#draft ?? this.base;
  }
  /** Applies one event (see `evolve`). */
  add(event: ExecutionEvent): void {
    apply(this.#draft ??= draftOf(this.base), event);
  }
}

/** Rebuilds a state from its history. */
export function replay(executionId: string, plan: Plan, events: readonly ExecutionEvent[]): ExecutionState {
  return evolveAll(initialState(executionId, plan), events);
}
