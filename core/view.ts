/**
 * What the API shows of an execution: pure projections of its state, in the
 * status words used everywhere (`running`, `completed`, `failed`, `cancelled`,
 * `timed_out`; nodes `pending`, `running`, `completed`, `failed`, `skipped`, `cancelled`).
 *
 * @module
 */
import type { ExecutionTrigger } from "./schedule.ts";
import type { ErrorInfo } from "./events.ts";
import type { PlanNode } from "./plan.ts";
import type { ParentLink } from "./events.ts";
import type { ExecutionState, ExecutionStatus, ExecutionViewStatus, NodeState, NodeStatus } from "./state.ts";

/** A node's status as the API words it. */
export type NodeViewStatus = "pending" | "running" | "completed" | "failed" | "skipped" | "cancelled";

/** One node of an execution, as the API shows it. */
export interface NodeView {
  nodeId: string;
  type: string;
  nodeType: string;
  status: NodeViewStatus;
  attempts: number;
  startTime: number | null;
  endTime: number | null;
  duration: number | null;
  recordsProcessed: number | null;
  error: ErrorInfo | null;
  /** Condition and switch nodes: the branch taken. */
  branch?: string;
  /** `foreach` and `workflow.run` nodes: their children in the current attempt. */
  children?: { count: number; started: number; running: number; ended: number; failed: number };
}

/** An execution, as the API shows it. Times are epoch ms. */
export interface ExecutionView {
  executionId: string;
  workflowId: string;
  version: number;
  status: ExecutionViewStatus;
  startTime: number | null;
  endTime: number | null;
  duration: number | null;
  error: ErrorInfo | null;
  /** Why it started: `{"kind": "api"}`, or a schedule's tick. */
  trigger: ExecutionTrigger;
  /** Waiting for a slot of its concurrency key (`concurrency.key`); its nodes have not started. */
  queued?: true;
  /** The run's concurrency key and limit. */
  concurrency?: { key: string; limit: number };
  /** A child execution: the parent execution and node that started it. */
  parent?: ParentLink;
  /** How many times a retry or a rerun reopened it. */
  reopened?: number;
  nodes: NodeView[];
}

/** The summary kept in the execution index. */
export interface ExecutionSummary {
  executionId: string;
  workflowId: string;
  version: number;
  status: ExecutionStatus;
  startTime: number;
  endTime: number | null;
}

const NODE_VIEW: Record<NodeStatus, NodeViewStatus> = {
  pending: "pending",
  scheduled: "pending",
  running: "running",
  waiting_retry: "running",
  completed: "completed",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
};

/** The API's view of an execution that has started: its index summary, with its duration, error and nodes. */
export function executionView(state: ExecutionState): ExecutionView {
  if (state.status === null) throw new Error(`assertion: view of unstarted execution ${state.executionId}`);
  const summary = executionSummary(state);
  const view: ExecutionView = {
    ...summary,
    status: state.paused && summary.status === "running" ? "paused" : summary.status,
    duration: summary.endTime === null ? null : summary.endTime - summary.startTime,
    error: state.error,
    trigger: state.trigger,
    nodes: state.plan.nodes.map((p) => nodeView(p, state.nodes[p.id])),
  };
  if (state.queued && state.status === "running") view.queued = true;
  if (state.concurrency !== null) view.concurrency = state.concurrency;
  if (state.parent !== null) view.parent = state.parent;
  if (state.reopened > 0) view.reopened = state.reopened;
  return view;
}

/** The API's view of one node of an execution (`p` in its plan, `n` its state). */
function nodeView(p: PlanNode, n: NodeState): NodeView {
  const view: NodeView = {
    nodeId: p.id,
    type: p.type,
    nodeType: p.nodeType,
    status: NODE_VIEW[n.status],
    attempts: n.attempts,
    startTime: n.startedAt,
    endTime: n.endedAt,
    duration: n.startedAt !== null && n.endedAt !== null ? n.endedAt - n.startedAt : null,
    recordsProcessed: n.recordsProcessed,
    error: n.error,
  };
  if (n.handle !== null) view.branch = n.handle;
  const c = n.children;
  if (c !== null) {
    view.children = {
      count: c.count,
      started: c.next,
      running: c.live.length,
      ended: c.ended,
      failed: c.failed,
    };
  }
  return view;
}

/** The index summary of an execution that has started. */
export function executionSummary(state: ExecutionState): ExecutionSummary {
  if (state.status === null || state.startedAt === null) {
    throw new Error(`assertion: summary of unstarted execution ${state.executionId}`);
  }
  return {
    executionId: state.executionId,
    workflowId: state.plan.workflowId,
    version: state.plan.version,
    status: state.status,
    startTime: state.startedAt,
    endTime: state.endedAt,
  };
}
