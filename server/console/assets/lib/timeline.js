/**
 * An execution's history as a Gantt chart's bars: one bar per node attempt (from its `NodeStarted` to its
 * `NodeSucceeded` or `NodeFailed`, or still open), and the execution's own marks (paused, resumed, reopened,
 * ended).
 *
 * @module
 */

/**
 * @typedef {{nodeId: string, attempt: number, start: number, end: number | null, outcome: "running" | "completed" | "failed" | "aborted"}} Bar
 * @typedef {{at: number, type: string}} Mark
 */

/** The execution-level events shown as marks. */
const MARKS = new Set([
  "ExecutionStarted",
  "ExecutionPaused",
  "ExecutionResumed",
  "ExecutionReopened",
  "ExecutionMigrated",
  "ExecutionSucceeded",
  "ExecutionFailed",
  "ExecutionCancelled",
  "ExecutionTimedOut",
  "ExecutionTerminated",
]);

/** The events that end an execution (an attempt still open then was aborted). */
const ENDS = new Set(["ExecutionSucceeded", "ExecutionFailed", "ExecutionCancelled", "ExecutionTimedOut"]);

/**
 * The bars and marks of events (in history order).
 *
 * @example
 * ```js
 * import { timeline } from "./timeline.js";
 * const t = timeline([
 *   { seq: 1, at: 0, type: "ExecutionStarted" },
 *   { seq: 2, at: 1, type: "NodeStarted", nodeId: "a", attempt: 1 },
 *   { seq: 3, at: 5, type: "NodeFailed", nodeId: "a", attempt: 1 },
 *   { seq: 4, at: 6, type: "NodeStarted", nodeId: "a", attempt: 2 },
 *   { seq: 5, at: 9, type: "NodeSucceeded", nodeId: "a", attempt: 2 },
 *   { seq: 6, at: 9, type: "NodeStarted", nodeId: "b", attempt: 1 },
 * ]);
 * const got = t.bars.map((b) => `${b.nodeId}#${b.attempt}:${b.outcome}`).join(" ");
 * if (got !== "a#1:failed a#2:completed b#1:running" || t.marks.length !== 1) throw new Error(got);
 * ```
 * @param {{at: number, type: string, nodeId?: string, attempt?: number}[]} events
 * @returns {{bars: Bar[], marks: Mark[], start: number | null, end: number | null}}
 */
export function timeline(events) {
  /** @type {Bar[]} */
  const bars = [];
  /** @type {Map<string, Bar>} */
  const open = new Map();
  /** @type {Mark[]} */
  const marks = [];
  let start = null;
  let end = null;
  for (const e of events) {
    start ??= e.at;
    end = e.at;
    const key = `${e.nodeId}\u0000${e.attempt}`;
    if (e.type === "NodeStarted") {
      const bar = { nodeId: e.nodeId, attempt: e.attempt ?? 1, start: e.at, end: null, outcome: "running" };
      bars.push(bar);
      open.set(key, bar);
    } else if ((e.type === "NodeSucceeded" || e.type === "NodeFailed") && open.has(key)) {
      const bar = open.get(key);
      bar.end = e.at;
      bar.outcome = e.type === "NodeSucceeded" ? "completed" : "failed";
      open.delete(key);
    }
    if (MARKS.has(e.type)) marks.push({ at: e.at, type: e.type });
    if (ENDS.has(e.type)) {
      for (const bar of open.values()) {
        bar.end = e.at;
        bar.outcome = "aborted";
      }
      open.clear();
    }
  }
  return { bars, marks, start, end };
}
