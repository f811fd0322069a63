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
  /** The node's id in the workflow. */
  nodeId: string;
  /** The node's category: `source`, `transform`, `sink` or `control`. */
  type: string;
  /** The node's kind within its category (`memory.collect`, `delay`, …). */
  nodeType: string;
  /** The node's status word. */
  status: NodeViewStatus;
  /** Attempts started so far (a retry or a rerun goes on counting). */
  attempts: number;
  /** When its first attempt started (since the last reopen), epoch ms; `null` if none has. */
  startTime: number | null;
  /** When it ended, epoch ms; `null` while pending, running or awaiting a retry, or cancelled unstarted. */
  endTime: number | null;
  /** `endTime - startTime`, in ms; `null` unless both are set. */
  duration: number | null;
  /** The records it processed (the meaning per kind is in docs/NODES.md); `null` until it completes. */
  recordsProcessed: number | null;
  /** The last failed attempt's error, kept while a retry waits; `null`: none failed, or a new one runs. */
  error: ErrorInfo | null;
  /** Condition and switch nodes: the branch taken. */
  branch?: string;
  /** `foreach` and `workflow.run` nodes: their children in the current attempt. */
  children?: { count: number; started: number; running: number; ended: number; failed: number };
}

/** An execution, as the API shows it. Times are epoch ms. */
export interface ExecutionView {
  /** The execution's id. */
  executionId: string;
  /** The workflow it runs. */
  workflowId: string;
  /** The workflow version it runs. */
  version: number;
  /** The execution's status word (`paused`: running, but no node starts). */
  status: ExecutionViewStatus;
  /** When it started, epoch ms (never `null` in a view `executionView` makes). */
  startTime: number | null;
  /** When it ended, epoch ms; `null` while it runs. */
  endTime: number | null;
  /** `endTime - startTime`, in ms; `null` while it runs. */
  duration: number | null;
  /** What ended it, unless it completed (a node's error has `nodeId`); `null` while running or completed. */
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
  /** One view per node, in definition order. */
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
  /**
   * When retention deletes the ended execution by its workflow's own `retentionMs` (epoch ms): `endTime +
   * retentionMs`, or {@link NEVER_EXPIRES} for `retentionMs: 0`. `null` (or absent) while it runs, and when
   * its workflow has no `retentionMs`: the node's `--retention` applies then.
   */
  expiresAt?: number | null;
}

/** The `expiresAt` of an execution whose workflow keeps its executions forever (`retentionMs: 0`). */
export const NEVER_EXPIRES = Number.MAX_SAFE_INTEGER;

/**
 * When an execution's own retention deletes it (see {@link ExecutionSummary.expiresAt}), by the `retentionMs`
 * of the plan it runs now (a migrated execution's: the version it moved to).
 *
 * @example
 * ```ts
 * import { NEVER_EXPIRES, retentionExpiry } from "./view.ts";
 * if (retentionExpiry(60_000, "completed", 1_000) !== 61_000) throw new Error("ended + retention");
 * if (retentionExpiry(0, "failed", 1_000) !== NEVER_EXPIRES) throw new Error("0 keeps it");
 * if (retentionExpiry(null, "completed", 1_000) !== null) throw new Error("the node's default");
 * if (retentionExpiry(60_000, "running", null) !== null) throw new Error("never while it runs");
 * ```
 */
export function retentionExpiry(
  retentionMs: number | null,
  status: ExecutionStatus,
  endTime: number | null,
): number | null {
  if (retentionMs === null || status === "running" || endTime === null) return null;
  return retentionMs === 0 ? NEVER_EXPIRES : endTime + retentionMs;
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
  const { expiresAt: _index, ...summary } = executionSummary(state); // the index's, not the API's
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
    expiresAt: retentionExpiry(state.plan.retentionMs, state.status, state.endedAt),
  };
}
