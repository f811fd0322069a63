/**
 * The decider's building blocks: the `Emitter` that stamps events and folds them into the state as they are
 * emitted, and the steps every command shares (advance the graph, succeed or fail a node).
 *
 * @module
 */
import { type ErrorInfo, EVENT_VERSION, type EventBody, type ExecutionEvent } from "./events.ts";
import { type PlanEdge, type PlanNode, planNode } from "./plan.ts";
import { backoffMs } from "./policy.ts";
import { type ExecutionState, nodeDone, type PlanOf, StateBuilder } from "./state.ts";

/** Why a command was refused; `code` is stable (the API maps it to a status). */
export interface Rejection {
  code:
    | "already_started"
    | "not_started"
    | "execution_terminal"
    | "unknown_node"
    | "signal_unknown"
    | "already_paused"
    | "not_paused"
    | "not_queued"
    | "execution_running"
    | "execution_not_failed"
    | "node_unknown"
    | "migration_refused"
    | "history_too_large";
  message: string;
  /** Where in the request the fault is (`$.fromNode`), when it is in the request. */
  path?: string;
  /** The reasons, for a refusal with several (a migration). */
  details?: { path: string; code: string; message: string }[];
}

/**
 * A decision: the events to append with the state they lead to (`evolve` folded over them), or a
 * rejection. An empty list means "nothing to do" (the state is the input's).
 */
export type Decision =
  | { ok: true; events: ExecutionEvent[]; state: ExecutionState }
  | { ok: false; rejection: Rejection };

/** How a decision is made (see `decide`). */
export interface DecideOptions {
  /**
   * The state decided on is the caller's working copy (`workingCopy`), which nothing else reads: the decision
   * changes it in place and returns it as its `state`, instead of copying it. For a caller that folds many
   * decisions and keeps none of the states between them (the runtime's batch): a decision on an execution of
   * n nodes then costs what its events do, not O(n).
   */
  inPlace?: boolean;
  /**
   * The most events an execution's history may hold. A decision on a running execution whose next event
   * would take the last place (unless that event ends the execution) emits instead `ExecutionFailed` with
   * the code `history_too_large`, and nothing after it: the history stays valid, ends failed, and holds at
   * most this many events (one more when it held that many already, the bound having been lowered). A retry
   * or rerun that has no room to run is refused with the same code. Absent: no bound.
   */
  maxHistoryEvents?: number;
}

/** The error code of an execution that reached `DecideOptions.maxHistoryEvents`. */
export const HISTORY_TOO_LARGE = "history_too_large";

/** The events that end an execution: one of them may take the history's last place. */
const ENDS: ReadonlySet<string> = new Set([
  "ExecutionSucceeded",
  "ExecutionFailed",
  "ExecutionCancelled",
  "ExecutionTimedOut",
  "ExecutionTerminated",
]);

/**
 * The error of an execution whose history reached its bound of `max` events.
 *
 * @example
 * ```ts
 * import { historyTooLarge } from "./emitter.ts";
 * if (historyTooLarge(100).code !== "history_too_large") throw new Error();
 * ```
 */
export function historyTooLarge(max: number): ErrorInfo {
  return {
    code: HISTORY_TOO_LARGE,
    message: `the execution's history reached its bound of ${max} events (max history events); ` +
      "it ends failed here",
  };
}

/**
 * Stamps events (`v`, `seq`, `at`) and folds each into the state as it is emitted; holds a running
 * execution's history to `DecideOptions.maxHistoryEvents`.
 */
export class Emitter {
  readonly events: ExecutionEvent[] = [];
  readonly #built: StateBuilder;
  readonly #max: number;
  /** The history reached its bound in this decision: it ended there, and nothing follows. */
  #full = false;
  constructor(state: ExecutionState, readonly now: number, planOf?: PlanOf, opts: DecideOptions = {}) {
    this.#built = new StateBuilder(state, planOf, opts.inPlace === true);
    this.#max = opts.maxHistoryEvents ?? Infinity;
  }
  /** The state after the events emitted so far. */
  get state(): ExecutionState {
    return this.#built.state;
  }
  /**
   * Stamps and applies one event. On a running execution with no room left for it, `ExecutionFailed`
   * (`history_too_large`) takes its place, and the events the decision emits after it are dropped.
   */
  emit(body: EventBody): void {
    if (this.#full) return;
    const seq = this.state.lastSeq + 1;
    if (seq >= this.#max && this.state.status === "running" && !(seq === this.#max && ENDS.has(body.type))) {
      body = { type: "ExecutionFailed", error: historyTooLarge(this.#max) };
      this.#full = true;
    }
    // Every body is a fresh object the decider built for this call: stamped in place, not copied.
    const event = Object.assign(body, {
      v: EVENT_VERSION,
      seq,
      at: this.now,
    }) as ExecutionEvent;
    this.#built.add(event);
    this.events.push(event);
  }
}

/** A refusal. */
export const reject = (
  code: Rejection["code"],
  message: string,
  more: Partial<Rejection> = {},
): Decision => ({
  ok: false,
  rejection: { code, message, ...more },
});
/** The emitted events. */
export const accept = (e: Emitter): Decision => ({ ok: true, events: e.events, state: e.state });
/** Nothing to do. */
export const nothing = (state: ExecutionState): Decision => ({ ok: true, events: [], state });

/** Whether records flow along an edge: its source completed and, for a condition, took the edge's handle. */
export function edgeLive(state: ExecutionState, edge: PlanEdge): boolean {
  const source = state.nodes[edge.source];
  if (source.status !== "completed") return false;
  return source.handle === null || edge.sourceHandle === source.handle;
}

/** Schedules a pending node whose parents are all done (or skips it with no live input); true if it did. */
function settleNode(e: Emitter, node: PlanNode): boolean {
  const nodes = e.state.nodes;
  if (nodes[node.id].status !== "pending") return false;
  // Last parent first: parents mostly end in plan order, so a fan-in of n parents is not O(n) per parent.
  const parents = node.parents;
  for (let i = parents.length - 1; i >= 0; i--) if (!nodeDone(nodes[parents[i].source].status)) return false;
  if (node.parents.length === 0 || node.parents.some((p) => edgeLive(e.state, p))) {
    e.emit({ type: "NodeScheduled", nodeId: node.id });
  } else {
    e.emit({
      type: "NodeSkipped",
      nodeId: node.id,
      reason: "no live input: every parent was skipped or routed away",
    });
  }
  return true;
}

/** Ends the execution as completed when every node completed or was skipped. */
function finishIfDone(e: Emitter): void {
  if (e.state.status !== "running") return;
  const nodes = e.state.nodes;
  // Last node first: the last nodes of a plan mostly end last, so a running execution is seen at once.
  const plan = e.state.plan.nodes;
  for (let i = plan.length - 1; i >= 0; i--) {
    const status = nodes[plan[i].id].status;
    if (status !== "completed" && status !== "skipped") return;
  }
  e.emit({ type: "ExecutionSucceeded" });
}

/** Schedules or skips every pending child of `from` whose parents are all done, transitively; then ends. */
export function advance(e: Emitter, from: readonly PlanNode[]): void {
  const work: PlanNode[] = [...from];
  const plan = e.state.plan;
  for (let next = 0; next < work.length; next++) {
    const node = work[next];
    for (const edge of node.children) {
      const child = planNode(plan, edge.target);
      if (settleNode(e, child) && e.state.nodes[child.id].status === "skipped") work.push(child);
    }
  }
  finishIfDone(e);
}

/**
 * Schedules or skips every pending node of the plan whose parents are all done (roots included), until none
 * changes; then ends the execution if all is done. For a graph whose pending nodes are anywhere (a reopened
 * or migrated execution, an admitted one).
 */
export function settleAll(e: Emitter): void {
  const plan = e.state.plan;
  for (let changed = true; changed && e.state.status === "running";) {
    changed = false;
    for (const node of plan.nodes) if (settleNode(e, node)) changed = true;
  }
  finishIfDone(e);
}

/** A node's success, and what follows it. */
export function succeed(
  e: Emitter,
  node: PlanNode,
  body: Omit<Extract<EventBody, { type: "NodeSucceeded" }>, "type">,
): void {
  e.emit({ type: "NodeSucceeded", ...body });
  advance(e, [node]);
}

/** A node's failure: a retry if its policy allows one, else the execution fails. */
export function fail(
  e: Emitter,
  node: PlanNode,
  attempt: number,
  error: ErrorInfo,
  retryable: boolean,
): void {
  e.emit({ type: "NodeFailed", nodeId: node.id, attempt, error, retryable });
  if (retryable && attempt < node.retry.maxAttempts) {
    const dueAt = e.now + backoffMs(node.retry, attempt);
    e.emit({ type: "NodeRetryScheduled", nodeId: node.id, attempt: attempt + 1, dueAt });
  } else {
    e.emit({ type: "ExecutionFailed", error: { ...error, nodeId: node.id } });
  }
}
