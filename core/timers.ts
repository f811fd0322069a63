/**
 * The durable timers an execution is waiting on, derived from its state: the
 * runtime (or the simulator) arms them and sends `FireTimer` when one is due.
 *
 * @module
 */
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

/** The runtime's work: scheduled nodes to start, and running task nodes whose executor must run. */
export interface PendingWork {
  toStart: string[];
  toRun: { nodeId: string; attempt: number }[];
}

/** What the runtime must do for an execution now (after an append, or on recovery). */
export function pendingWork(state: ExecutionState): PendingWork {
  const work: PendingWork = { toStart: [], toRun: [] };
  if (state.status !== "running") return work;
  for (const node of state.plan.nodes) {
    const n = state.nodes[node.id];
    if (n.status === "scheduled") work.toStart.push(node.id);
    else if (n.status === "running" && (node.behaviour === "task" || node.behaviour === "condition")) {
      work.toRun.push({ nodeId: node.id, attempt: n.attempts });
    }
  }
  return work;
}
