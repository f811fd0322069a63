/**
 * The execution decider: `decide(state, command, now)` returns the events a
 * command causes, or a rejection the caller must handle. It never mutates its
 * input and does no I/O; time comes in as `now`.
 *
 * @module
 */
import type { ExecutionTrigger } from "./schedule.ts";
import { type ErrorInfo, EVENT_VERSION, type EventBody, type ExecutionEvent } from "./events.ts";
import type { Json } from "./json.ts";
import { type PlanEdge, type PlanNode, planNode } from "./plan.ts";
import { backoffMs } from "./policy.ts";
import { type ExecutionState, nodeDone, StateBuilder } from "./state.ts";
import { pendingTimers } from "./timers.ts";

/** Starts an execution (the first command of every execution). */
export interface StartCommand {
  type: "Start";
  input: Json;
  idempotencyKey?: string | null;
  /** Overrides the workflow's execution timeout. */
  timeoutMs?: number | null;
  /** Why it starts; absent: an API submission. */
  trigger?: ExecutionTrigger;
}
/** The runtime is about to run a scheduled node. */
export interface StartNodeCommand {
  type: "StartNode";
  nodeId: string;
}
/** An attempt finished; its records are stored under `outputRef`. */
export interface CompleteNodeCommand {
  type: "CompleteNode";
  nodeId: string;
  attempt: number;
  outputRef: string | null;
  recordsProcessed: number;
  recordsEmitted: number;
  handle?: string;
}
/** An attempt failed. */
export interface FailNodeCommand {
  type: "FailNode";
  nodeId: string;
  attempt: number;
  error: ErrorInfo;
  retryable: boolean;
}
/** A durable timer is due. */
export interface FireTimerCommand {
  type: "FireTimer";
  timerId: string;
}
/** A signal arrived (POST .../signals/{name}). */
export interface SignalCommand {
  type: "Signal";
  name: string;
  payload: Json;
}
/** A user cancels the execution. */
export interface CancelCommand {
  type: "Cancel";
  reason: string;
}

/** Everything that can happen to an execution. */
export type Command =
  | StartCommand
  | StartNodeCommand
  | CompleteNodeCommand
  | FailNodeCommand
  | FireTimerCommand
  | SignalCommand
  | CancelCommand;

/** Why a command was refused; `code` is stable (the API maps it to a status). */
export interface Rejection {
  code: "already_started" | "not_started" | "execution_terminal" | "unknown_node" | "signal_unknown";
  message: string;
}

/**
 * A decision: the events to append with the state they lead to (`evolve` folded over them), or a
 * rejection. An empty list means "nothing to do" (the state is the input's).
 */
export type Decision =
  | { ok: true; events: ExecutionEvent[]; state: ExecutionState }
  | { ok: false; rejection: Rejection };

class Emitter {
  readonly events: ExecutionEvent[] = [];
  readonly #built: StateBuilder;
  constructor(state: ExecutionState, readonly now: number) {
    this.#built = new StateBuilder(state);
  }
  /** The state after the events emitted so far. */
  get state(): ExecutionState {
    return this.#built.state;
  }
  emit(body: EventBody): void {
    const event = { ...body, v: EVENT_VERSION, seq: this.state.lastSeq + 1, at: this.now } as ExecutionEvent;
    this.#built.add(event);
    this.events.push(event);
  }
}

const reject = (code: Rejection["code"], message: string): Decision => ({
  ok: false,
  rejection: { code, message },
});
const accept = (e: Emitter): Decision => ({ ok: true, events: e.events, state: e.state });
const nothing = (state: ExecutionState): Decision => ({ ok: true, events: [], state });

/** Whether records flow along an edge: its source completed and, for a condition, took the edge's handle. */
export function edgeLive(state: ExecutionState, edge: PlanEdge): boolean {
  const source = state.nodes[edge.source];
  if (source.status !== "completed") return false;
  return source.handle === null || edge.sourceHandle === source.handle;
}

/** Schedules or skips every pending node whose parents are all done, transitively; then ends the execution. */
function advance(e: Emitter, from: readonly PlanNode[]): void {
  const work: PlanNode[] = [...from];
  const plan = e.state.plan;
  while (work.length > 0) {
    const node = work.shift()!;
    for (const edge of node.children) {
      const child = planNode(plan, edge.target);
      if (e.state.nodes[child.id].status !== "pending") continue;
      if (!child.parents.every((p) => nodeDone(e.state.nodes[p.source].status))) continue;
      if (child.parents.some((p) => edgeLive(e.state, p))) {
        e.emit({ type: "NodeScheduled", nodeId: child.id });
      } else {
        e.emit({
          type: "NodeSkipped",
          nodeId: child.id,
          reason: "no live input: every parent was skipped or routed away",
        });
        work.push(child);
      }
    }
  }
  if (Object.values(e.state.nodes).every((n) => n.status === "completed" || n.status === "skipped")) {
    e.emit({ type: "ExecutionSucceeded" });
  }
}

function succeed(
  e: Emitter,
  node: PlanNode,
  body: Omit<Extract<EventBody, { type: "NodeSucceeded" }>, "type">,
) {
  e.emit({ type: "NodeSucceeded", ...body });
  advance(e, [node]);
}

function fail(e: Emitter, node: PlanNode, attempt: number, error: ErrorInfo, retryable: boolean) {
  e.emit({ type: "NodeFailed", nodeId: node.id, attempt, error, retryable });
  if (retryable && attempt < node.retry.maxAttempts) {
    const dueAt = e.now + backoffMs(node.retry, attempt);
    e.emit({ type: "NodeRetryScheduled", nodeId: node.id, attempt: attempt + 1, dueAt });
  } else {
    e.emit({ type: "ExecutionFailed", error: { ...error, nodeId: node.id } });
  }
}

function startNode(e: Emitter, node: PlanNode): void {
  const attempt = e.state.nodes[node.id].attempts + 1;
  const timeoutAt = node.timeoutMs === null ? null : e.now + node.timeoutMs;
  switch (node.behaviour) {
    case "delay":
      e.emit({ type: "NodeStarted", nodeId: node.id, attempt, timeoutAt, wakeAt: e.now + node.delayMs });
      return;
    case "signal":
      e.emit({ type: "NodeStarted", nodeId: node.id, attempt, timeoutAt, awaitSignal: node.signalName });
      if (e.state.signals.includes(node.signalName!)) {
        succeed(e, node, {
          nodeId: node.id,
          attempt,
          outputRef: null,
          recordsProcessed: 0,
          recordsEmitted: 0,
        });
      }
      return;
    default:
      e.emit({ type: "NodeStarted", nodeId: node.id, attempt, timeoutAt });
  }
}

function fireTimer(e: Emitter, timerId: string): void {
  const timer = pendingTimers(e.state).find((t) => t.id === timerId);
  if (!timer || timer.dueAt > e.now) return;
  e.emit({ type: "TimerFired", timerId });
  if (timer.kind === "execution-timeout") {
    e.emit({ type: "ExecutionTimedOut" });
    return;
  }
  const node = planNode(e.state.plan, timer.nodeId!);
  const attempt = e.state.nodes[node.id].attempts;
  switch (timer.kind) {
    case "retry":
      e.emit({ type: "NodeScheduled", nodeId: node.id });
      return;
    case "delay":
      succeed(e, node, { nodeId: node.id, attempt, outputRef: null, recordsProcessed: 0, recordsEmitted: 0 });
      return;
    case "node-timeout":
      fail(e, node, attempt, { code: "node_timeout", message: `attempt ${attempt} timed out` }, true);
  }
}

/**
 * Decides what a command does to an execution.
 *
 * @example
 * ```ts
 * import { decide } from "./decide.ts";
 * import { compilePlan } from "./plan.ts";
 * import { initialState } from "./state.ts";
 * const plan = compilePlan({ id: "w", name: "w", nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }], edges: [] }, 1);
 * const d = decide(initialState("e1", plan), { type: "Start", input: null }, 1000);
 * if (!d.ok || d.events.map((e) => e.type).join() !== "ExecutionStarted,NodeScheduled") throw new Error();
 * ```
 */
export function decide(state: ExecutionState, command: Command, now: number): Decision {
  const e = new Emitter(state, now);
  if (command.type === "Start") {
    if (state.status !== null) {
      return reject("already_started", `execution ${state.executionId} already started`);
    }
    const timeoutMs = command.timeoutMs ?? state.plan.timeoutMs;
    e.emit({
      type: "ExecutionStarted",
      executionId: state.executionId,
      workflowId: state.plan.workflowId,
      version: state.plan.version,
      input: command.input,
      timeoutAt: timeoutMs === null ? null : now + timeoutMs,
      idempotencyKey: command.idempotencyKey ?? null,
      ...(command.trigger !== undefined && command.trigger.kind !== "api" && { trigger: command.trigger }),
    });
    for (const node of state.plan.nodes) {
      if (node.parents.length === 0) e.emit({ type: "NodeScheduled", nodeId: node.id });
    }
    return accept(e);
  }
  if (state.status === null) return reject("not_started", `execution ${state.executionId} has not started`);
  if (state.status !== "running") {
    if (command.type === "Cancel" || command.type === "Signal") {
      return reject("execution_terminal", `execution ${state.executionId} is already ${state.status}`);
    }
    return nothing(state); // late results and timers of a finished execution are ignored
  }
  switch (command.type) {
    case "StartNode": {
      const node = state.plan.byId.get(command.nodeId);
      if (!node) return reject("unknown_node", `no node ${command.nodeId}`);
      if (state.nodes[node.id].status !== "scheduled") return nothing(state);
      startNode(e, node);
      return accept(e);
    }
    case "CompleteNode":
    case "FailNode": {
      const node = state.plan.byId.get(command.nodeId);
      if (!node) return reject("unknown_node", `no node ${command.nodeId}`);
      const ns = state.nodes[node.id];
      if (ns.status !== "running" || ns.attempts !== command.attempt) return nothing(state); // a stale attempt
      if (command.type === "FailNode") fail(e, node, command.attempt, command.error, command.retryable);
      else {
        succeed(e, node, {
          nodeId: node.id,
          attempt: command.attempt,
          outputRef: command.outputRef,
          recordsProcessed: command.recordsProcessed,
          recordsEmitted: command.recordsEmitted,
          ...(command.handle === undefined ? {} : { handle: command.handle }),
        });
      }
      return accept(e);
    }
    case "FireTimer":
      fireTimer(e, command.timerId);
      return accept(e);
    case "Signal": {
      if (!state.plan.signals.has(command.name)) {
        return reject("signal_unknown", `no node of this workflow waits for signal "${command.name}"`);
      }
      e.emit({ type: "SignalReceived", name: command.name, payload: command.payload });
      for (const node of state.plan.nodes) {
        const ns = e.state.nodes[node.id];
        if (e.state.status === "running" && ns.status === "running" && ns.awaitSignal === command.name) {
          succeed(e, node, {
            nodeId: node.id,
            attempt: ns.attempts,
            outputRef: null,
            recordsProcessed: 0,
            recordsEmitted: 0,
          });
        }
      }
      return accept(e);
    }
    case "Cancel":
      e.emit({ type: "ExecutionCancelled", reason: command.reason });
      return accept(e);
  }
}
