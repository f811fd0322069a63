/**
 * Child executions of `workflow.run` and `foreach` nodes, decided in the parent: the runtime reports how many
 * items an attempt has (`PlanChildren`), the decider starts children up to the node's concurrency
 * (`ChildStarted`, each with a fixed id), and each child's end (`ChildEnded`) frees a slot for the next. When
 * all have ended the runtime gathers their outputs, in item order, and completes the node as for any task.
 *
 * @module
 */
import { MAX_WORKFLOW_DEPTH } from "./catalog_control.ts";
import type { ErrorInfo } from "./events.ts";
import { accept, type DecideOptions, type Decision, Emitter, fail, nothing, succeed } from "./emitter.ts";
import { childExecutionId } from "./ids.ts";
import type { PlanNode } from "./plan.ts";
import type { ExecutionState } from "./state.ts";

/** An attempt of a children node read its input: it has `count` items. */
export interface PlanChildrenCommand {
  type: "PlanChildren";
  nodeId: string;
  attempt: number;
  count: number;
  /** The child workflow's version the runtime resolved (pinned, or the latest now): all children run it. */
  version?: number;
}
/** A child execution ended. */
export interface ChildEndedCommand {
  type: "ChildEnded";
  nodeId: string;
  attempt: number;
  index: number;
  status: string;
  error?: ErrorInfo;
}

/** The children commands. */
export type ChildrenCommand = PlanChildrenCommand | ChildEndedCommand;

/** Starts children of `node` while it has room and items, unless the execution is paused. */
export function topUpChildren(e: Emitter, node: PlanNode): void {
  const spec = node.subflow!;
  for (;;) {
    const ns = e.state.nodes[node.id];
    const c = ns.children;
    if (e.state.paused || ns.status !== "running" || !c) return;
    if (c.next >= c.count || c.live.length >= spec.maxConcurrency) return;
    const index = c.next;
    e.emit({
      type: "ChildStarted",
      nodeId: node.id,
      attempt: ns.attempts,
      index,
      childId: childExecutionId(e.state.executionId, node.id, ns.attempts, index),
    });
  }
}

function planChildren(e: Emitter, node: PlanNode, command: PlanChildrenCommand): void {
  const spec = node.subflow!;
  const depth = (e.state.parent?.depth ?? 0) + 1;
  if (depth > MAX_WORKFLOW_DEPTH) {
    const message = `a child here would be ${depth} levels deep; the most is ${MAX_WORKFLOW_DEPTH}`;
    return fail(e, node, command.attempt, { code: "workflow_depth_exceeded", message }, false);
  }
  if (command.count > spec.maxItems) {
    const message = `${command.count} items; this node takes at most ${spec.maxItems} (maxItems)`;
    return fail(e, node, command.attempt, { code: "foreach_too_many_items", message }, false);
  }
  e.emit({
    type: "ChildrenPlanned",
    nodeId: node.id,
    attempt: command.attempt,
    count: command.count,
    ...(command.version !== undefined && { version: command.version }),
  });
  if (command.count === 0) {
    // No items: no children, and an empty output (the node's input, which is empty).
    return succeed(e, node, {
      nodeId: node.id,
      attempt: command.attempt,
      outputRef: null,
      recordsProcessed: 0,
      recordsEmitted: 0,
    });
  }
  topUpChildren(e, node);
}

function childEnded(e: Emitter, node: PlanNode, command: ChildEndedCommand): void {
  const ns = e.state.nodes[node.id];
  const childId = childExecutionId(e.state.executionId, node.id, command.attempt, command.index);
  e.emit({
    type: "ChildEnded",
    nodeId: node.id,
    attempt: command.attempt,
    index: command.index,
    childId,
    status: command.status,
    ...(command.error !== undefined && { error: command.error }),
  });
  const c = e.state.nodes[node.id].children!;
  if (c.failed > node.subflow!.toleratedFailures) {
    const why = command.error ? `: ${command.error.message}` : "";
    const message = `child ${childId} (item ${command.index}) ended ${command.status}${why}`;
    return fail(e, node, ns.attempts, { code: "child_failed", message }, false);
  }
  topUpChildren(e, node);
}

/**
 * Decides a children command on a running execution. Stale reports (another attempt, a child already
 * counted, a node no longer running) change nothing.
 *
 * @example
 * ```ts
 * import { decide } from "./decide.ts";
 * import { decideChildren } from "./decide_children.ts";
 * import { compilePlan } from "./plan.ts";
 * import { initialState } from "./state.ts";
 * const plan = compilePlan({ id: "w", name: "w", nodes: [
 *   { id: "each", type: "control", nodeType: "foreach", config: { workflow: "child", maxConcurrency: 2 } }],
 *   edges: [] }, 1);
 * let d = decide(initialState("e1", plan), { type: "Start", input: null }, 1);
 * if (d.ok) d = decide(d.state, { type: "StartNode", nodeId: "each" }, 2);
 * if (d.ok) d = decideChildren(d.state, { type: "PlanChildren", nodeId: "each", attempt: 1, count: 5 }, 3);
 * if (!d.ok || d.events.filter((e) => e.type === "ChildStarted").length !== 2) throw new Error("two at once");
 * ```
 */
export function decideChildren(
  state: ExecutionState,
  command: ChildrenCommand,
  now: number,
  opts: DecideOptions = {},
): Decision {
  const node = state.plan.byId.get(command.nodeId);
  if (!node || node.subflow === undefined) return nothing(state);
  const ns = state.nodes[node.id];
  if (ns.status !== "running" || ns.attempts !== command.attempt) return nothing(state);
  const e = new Emitter(state, now, undefined, opts);
  if (command.type === "PlanChildren") {
    if (ns.children !== null) return nothing(state);
    planChildren(e, node, command);
  } else {
    if (ns.children === null || !ns.children.live.includes(command.index)) return nothing(state);
    childEnded(e, node, command);
  }
  return accept(e);
}
