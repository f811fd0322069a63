/**
 * The durable timers an execution is waiting on, derived from its state: the
 * runtime (or the simulator) arms them and sends `FireTimer` when one is due.
 *
 * @module
 */
import type { ParentLink } from "./events.ts";
import { childExecutionId } from "./ids.ts";
import type { ExecutionState } from "./state.ts";

/** What a timer does when it fires. */
export type TimerKind = "execution-timeout" | "retry" | "delay" | "node-timeout";

/** One pending timer. Its id is stable for as long as it is pending. */
export interface Timer {
  id: string;
  kind: TimerKind;
  dueAt: number;
  nodeId?: string;
}

/**
 * Every timer the execution waits on, earliest first (ties by id). A finished
 * execution waits on none.
 */
export function pendingTimers(state: ExecutionState): Timer[] {
  if (state.status !== "running") return [];
  const timers: Timer[] = [];
  if (state.timeoutAt !== null) {
    timers.push({ id: "execution-timeout", kind: "execution-timeout", dueAt: state.timeoutAt });
  }
  // Paused: only the execution timeout runs; the others come due on resume (and fire then).
  if (state.paused) return timers;
  for (const node of state.plan.nodes) {
    const n = state.nodes[node.id];
    if (n.status === "waiting_retry" && n.retryAt !== null) {
      timers.push({
        id: `retry:${node.id}:${n.attempts + 1}`,
        kind: "retry",
        dueAt: n.retryAt,
        nodeId: node.id,
      });
    } else if (n.status === "running") {
      if (n.wakeAt !== null) {
        timers.push({
          id: `delay:${node.id}:${n.attempts}`,
          kind: "delay",
          dueAt: n.wakeAt,
          nodeId: node.id,
        });
      }
      if (n.timeoutAt !== null) {
        timers.push({
          id: `node-timeout:${node.id}:${n.attempts}`,
          kind: "node-timeout",
          dueAt: n.timeoutAt,
          nodeId: node.id,
        });
      }
    }
  }
  return timers.sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The runtime's work: scheduled nodes to start (none while paused), running task nodes whose executor must
 * run, and running children nodes to expand (read their items: `PlanChildren`) or, all children ended, to
 * collect (gather the children's outputs: `CompleteNode`).
 */
export interface PendingWork {
  toStart: string[];
  toRun: { nodeId: string; attempt: number }[];
  toExpand: { nodeId: string; attempt: number }[];
  toCollect: { nodeId: string; attempt: number }[];
}

/** What the runtime must do for an execution now (after an append, or on recovery). */
export function pendingWork(state: ExecutionState): PendingWork {
  const work: PendingWork = { toStart: [], toRun: [], toExpand: [], toCollect: [] };
  if (state.status !== "running") return work;
  for (const node of state.plan.nodes) {
    const n = state.nodes[node.id];
    if (n.status === "scheduled") {
      if (!state.paused) work.toStart.push(node.id);
    } else if (n.status === "running") {
      if (node.behaviour === "task" || node.behaviour === "condition") {
        work.toRun.push({ nodeId: node.id, attempt: n.attempts });
      } else if (node.behaviour === "children") {
        const c = n.children;
        if (c === null) work.toExpand.push({ nodeId: node.id, attempt: n.attempts });
        else if (c.ended === c.count && c.count > 0) {
          work.toCollect.push({ nodeId: node.id, attempt: n.attempts });
        }
      }
    }
  }
  return work;
}

/** A child execution its parent holds open: started, not reported ended. */
export interface LiveChild {
  nodeId: string;
  attempt: number;
  index: number;
  childId: string;
}

/**
 * The child executions an execution holds, split in those to keep running (their node runs) and those to
 * cancel (their node or the execution ended first).
 */
export function liveChildren(state: ExecutionState): { keep: LiveChild[]; cancel: LiveChild[] } {
  const out: { keep: LiveChild[]; cancel: LiveChild[] } = { keep: [], cancel: [] };
  for (const node of state.plan.nodes) {
    const n = state.nodes[node.id];
    if (n.children === null || n.children.live.length === 0) continue;
    const keep = state.status === "running" && n.status === "running";
    for (const index of n.children.live) {
      const child = {
        nodeId: node.id,
        attempt: n.attempts,
        index,
        childId: childExecutionId(state.executionId, node.id, n.attempts, index),
      };
      (keep ? out.keep : out.cancel).push(child);
    }
  }
  return out;
}

/**
 * Whether a child execution is an orphan: its parent no longer waits for it (the parent ended, or the node
 * moved on to another attempt or ended). Its owner cancels it.
 *
 * @example
 * ```ts
 * import { isOrphan } from "./timers.ts";
 * import { compilePlan } from "./plan.ts";
 * import { initialState } from "./state.ts";
 * const plan = compilePlan({ id: "w", name: "w", nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }], edges: [] }, 1);
 * const link = { executionId: "e", nodeId: "a", attempt: 1, index: 0, depth: 1 };
 * if (!isOrphan(initialState("e", plan), link)) throw new Error("an unstarted parent waits for nothing");
 * ```
 */
export function isOrphan(parent: ExecutionState | undefined, link: ParentLink): boolean {
  if (parent === undefined || parent.status !== "running") return true;
  const n = parent.nodes[link.nodeId];
  if (n === undefined || n.status !== "running" || n.attempts !== link.attempt) return true;
  return n.children === null || !n.children.live.includes(link.index);
}
