/**
 * The execution decider: `decide(state, command, now)` returns the events a
 * command causes, or a rejection the caller must handle. It never mutates its
 * input and does no I/O; time comes in as `now`.
 *
 * @module
 */
import type { ExecutionTrigger } from "./schedule.ts";
import type { ConcurrencySlot, ErrorInfo, ParentLink } from "./events.ts";
import type { Json } from "./json.ts";
import { type PlanNode, planNode } from "./plan.ts";
import type { ExecutionState } from "./state.ts";
import { pendingTimers } from "./timers.ts";
import {
  accept,
  type DecideOptions,
  type Decision,
  Emitter,
  fail,
  nothing,
  reject,
  succeed,
} from "./emitter.ts";
import { type ChildrenCommand, decideChildren } from "./decide_children.ts";
import { decideSteer, type SteerCommand } from "./decide_steer.ts";

/** Starts an execution (the first command of every execution). */
export interface StartCommand {
  type: "Start";
  input: Json;
  idempotencyKey?: string | null;
  /** Overrides the workflow's execution timeout. */
  timeoutMs?: number | null;
  /** Why it starts; absent: an API submission. */
  trigger?: ExecutionTrigger;
  /** A child execution's parent. */
  parent?: ParentLink;
  /** The run's concurrency key and limit. */
  concurrency?: ConcurrencySlot;
  /** Over its key's limit: it starts queued, its nodes unscheduled until `Admit`. */
  queued?: boolean;
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
  | CancelCommand
  | SteerCommand
  | ChildrenCommand;

export type { DecideOptions, Decision, Rejection } from "./emitter.ts";
export { edgeLive, HISTORY_TOO_LARGE, historyTooLarge } from "./emitter.ts";
export type { ChildEndedCommand, ChildrenCommand, PlanChildrenCommand } from "./decide_children.ts";
export type {
  AdmitCommand,
  MigrateCommand,
  PauseCommand,
  RerunCommand,
  ResumeCommand,
  RetryCommand,
  SteerCommand,
} from "./decide_steer.ts";

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
    case "terminate": {
      const end = node.terminate!;
      e.emit({ type: "NodeStarted", nodeId: node.id, attempt, timeoutAt: null });
      e.emit({
        type: "NodeSucceeded",
        nodeId: node.id,
        attempt,
        outputRef: null,
        recordsProcessed: 0,
        recordsEmitted: 0,
      });
      e.emit({ type: "ExecutionTerminated", nodeId: node.id, status: end.status, reason: end.reason });
      return;
    }
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

/** Starts an execution: `ExecutionStarted`, then its roots scheduled (unless it starts queued). */
function start(state: ExecutionState, command: StartCommand, now: number, opts: DecideOptions): Decision {
  if (state.status !== null) {
    return reject("already_started", `execution ${state.executionId} already started`);
  }
  const e = new Emitter(state, now, undefined, opts);
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
    ...(command.parent !== undefined && { parent: command.parent }),
    ...(command.concurrency !== undefined && { concurrency: command.concurrency }),
    ...(command.queued === true && { queued: true as const }),
  });
  if (command.queued !== true) {
    for (const node of state.plan.nodes) {
      if (node.parents.length === 0) e.emit({ type: "NodeScheduled", nodeId: node.id });
    }
  }
  return accept(e);
}

/**
 * Decides what a command does to an execution. `opts` may let it change a working copy in place and bound
 * the history (`DecideOptions`).
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
 *
 * // With room for 3 events, the start of a node would take the last place: the history fails there.
 * const s = decide(d.state, { type: "StartNode", nodeId: "a" }, 1001, { maxHistoryEvents: 3 });
 * if (!s.ok || s.events[0].type !== "ExecutionFailed" || s.state.error?.code !== "history_too_large") {
 *   throw new Error(JSON.stringify(s));
 * }
 * ```
 */
export function decide(
  state: ExecutionState,
  command: Command,
  now: number,
  opts: DecideOptions = {},
): Decision {
  if (command.type === "Start") return start(state, command, now, opts);
  const e = new Emitter(state, now, undefined, opts);
  if (state.status === null) return reject("not_started", `execution ${state.executionId} has not started`);
  switch (command.type) {
    case "Pause":
    case "Resume":
    case "Retry":
    case "Rerun":
    case "Migrate":
    case "Admit":
      return decideSteer(state, command, now, opts);
    case "PlanChildren":
    case "ChildEnded":
      return state.status === "running" ? decideChildren(state, command, now, opts) : nothing(state);
    default:
      break;
  }
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
      if (state.nodes[node.id].status !== "scheduled" || state.paused) return nothing(state);
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
