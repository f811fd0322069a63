/**
 * The state of one execution, and `evolve`: how one event changes it. Replaying an
 * execution's events through `evolve` from `initialState` rebuilds its state.
 *
 * @module
 */
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

/** One execution. `status` is `null` before ExecutionStarted. */
export interface ExecutionState {
  executionId: string;
  plan: Plan;
  status: ExecutionStatus | null;
  lastSeq: number;
  input: Json;
  idempotencyKey: string | null;
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

/** `state` at `seq` with one node patched (one copy of the state, of its node map and of the node). */
function withNode(
  state: ExecutionState,
  seq: number,
  nodeId: string,
  patch: Partial<NodeState>,
): ExecutionState {
  const node = state.nodes[nodeId];
  if (!node) throw new Error(`assertion: event names unknown node ${nodeId}`);
  return { ...state, lastSeq: seq, nodes: { ...state.nodes, [nodeId]: { ...node, ...patch } } };
}

function endAll(state: ExecutionState, status: ExecutionStatus, at: number, error: ErrorInfo | null) {
  const nodes: Record<string, NodeState> = {};
  for (const [id, n] of Object.entries(state.nodes)) {
    nodes[id] = nodeDone(n.status)
      ? n
      : { ...n, status: "cancelled", endedAt: n.startedAt === null ? null : at };
  }
  return { ...state, status, endedAt: at, nodes, error };
}

/**
 * Applies one event. Total over valid histories; throws on an event that cannot
 * follow the state (a corrupt history), since no decider ever emits one.
 */
export function evolve(state: ExecutionState, event: ExecutionEvent): ExecutionState {
  if (event.seq !== state.lastSeq + 1) {
    throw new Error(
      `assertion: event seq ${event.seq} does not follow ${state.lastSeq} in ${state.executionId}`,
    );
  }
  const seq = event.seq;
  switch (event.type) {
    case "ExecutionStarted":
      return {
        ...state,
        lastSeq: seq,
        status: "running",
        input: event.input,
        idempotencyKey: event.idempotencyKey,
        startedAt: event.at,
        timeoutAt: event.timeoutAt,
      };
    case "NodeScheduled":
      return withNode(state, seq, event.nodeId, { status: "scheduled", retryAt: null });
    case "NodeStarted":
      return withNode(state, seq, event.nodeId, {
        status: "running",
        attempts: event.attempt,
        startedAt: state.nodes[event.nodeId]?.startedAt ?? event.at,
        timeoutAt: event.timeoutAt,
        wakeAt: event.wakeAt ?? null,
        awaitSignal: event.awaitSignal ?? null,
        error: null,
      });
    case "NodeSucceeded":
      return withNode(state, seq, event.nodeId, {
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
      return withNode(state, seq, event.nodeId, {
        status: "failed",
        endedAt: event.at,
        timeoutAt: null,
        wakeAt: null,
        awaitSignal: null,
        error: event.error,
      });
    case "NodeRetryScheduled":
      return withNode(state, seq, event.nodeId, {
        status: "waiting_retry",
        retryAt: event.dueAt,
        endedAt: null,
      });
    case "NodeSkipped":
      return withNode(state, seq, event.nodeId, { status: "skipped", endedAt: event.at });
    case "TimerFired":
      return { ...state, lastSeq: seq };
    case "SignalReceived":
      return state.signals.includes(event.name)
        ? { ...state, lastSeq: seq }
        : { ...state, lastSeq: seq, signals: [...state.signals, event.name] };
    case "ExecutionSucceeded":
      return { ...state, lastSeq: seq, status: "completed", endedAt: event.at };
    case "ExecutionFailed":
      return endAll({ ...state, lastSeq: seq }, "failed", event.at, event.error);
    case "ExecutionCancelled":
      return endAll({ ...state, lastSeq: seq }, "cancelled", event.at, {
        code: "cancelled",
        message: event.reason,
      });
    case "ExecutionTimedOut":
      return endAll({ ...state, lastSeq: seq }, "timed_out", event.at, {
        code: "execution_timeout",
        message: "the execution timed out",
      });
  }
}

/** Rebuilds a state from its history. */
export function replay(executionId: string, plan: Plan, events: readonly ExecutionEvent[]): ExecutionState {
  let state = initialState(executionId, plan);
  for (const e of events) state = evolve(state, e);
  return state;
}
