/**
 * `run --watch`: the live view of an execution. On a terminal, one frame (the execution, a line per node
 * with its state, a progress bar) redrawn in place with ANSI cursor movement; otherwise (a pipe, a file, CI
 * logs) one line per state change: `+1.2s node wait completed 5 records`. Both end with a summary line.
 *
 * @module
 */
import type { ExecutionView, NodeView } from "../../core/view.ts";
import type { Io } from "./command.ts";
import type { CliError } from "./errors.ts";
import { bar, count, duration, shortId, truncate } from "./format.ts";
import { errorText, nodeElapsed, nodeTotals, summaryLine } from "./views.ts";

/** What the live view is told. */
export interface Renderer {
  /** A view polled. */
  view(view: ExecutionView): void;
  /** A poll failed; the watch goes on. */
  outage(err: CliError): void;
  /** The watch ended: with the execution's end, the wait's timeout, or an interrupt. */
  finish(view: ExecutionView, outcome: "ended" | "timeout" | "interrupted"): void;
}

const SYMBOLS: Record<string, string> = {
  completed: "✓",
  failed: "✗",
  running: "●",
  pending: "○",
  skipped: "-",
  cancelled: "⊘",
};

/** The line after the summary when the watch did not see the end. */
function notEnded(view: ExecutionView, outcome: "timeout" | "interrupted"): string {
  const why = outcome === "timeout" ? "the wait ran out" : "interrupted";
  return `${why}: ${view.executionId} is still ${view.status} (it goes on; follow it with: executions get ${
    shortId(view.executionId)
  } --wait)`;
}

/** What a node's state is, for change detection: status, attempts, and a failed attempt's error. */
function nodeState(n: NodeView): string {
  return `${n.status}#${n.attempts}#${n.error?.code ?? ""}`;
}

/** A node's state change as words: `running`, `running (attempt 2)`, `completed 5 records`, `failed code: …`. */
function nodeChange(n: NodeView): string {
  const attempt = n.attempts > 1 ? ` (attempt ${n.attempts})` : "";
  if (n.status === "completed") {
    const branch = n.branch === undefined ? "" : ` branch ${n.branch}`;
    return `completed ${count(n.recordsProcessed)} records${branch}${attempt}`;
  }
  if (n.status === "failed") return `failed${attempt}: ${errorText(n.error)}`;
  if (n.status === "running" && n.error) return `running${attempt}, retrying after ${errorText(n.error)}`;
  return `${n.status}${attempt}`;
}

/** The watch as one line per state change (standard output is not a terminal). */
export function lineRenderer(io: Io): Renderer {
  const started = io.now();
  const seen = new Map<string, string>();
  let execution = "";
  const stamp = () => `+${((io.now() - started) / 1000).toFixed(1)}s`;
  return {
    view(view) {
      // The execution first on the first view, then the nodes' changes before the execution's (its end).
      const state = `${view.status}${view.queued ? " (queued)" : ""}`;
      if (execution === "") {
        io.out(`${stamp()} execution ${view.executionId} (${view.workflowId} v${view.version}) ${state}`);
        execution = state;
      }
      for (const n of view.nodes) {
        const s = nodeState(n);
        if (seen.get(n.nodeId) === s) continue;
        seen.set(n.nodeId, s);
        io.out(`${stamp()} node ${n.nodeId} ${nodeChange(n)}`);
      }
      if (state !== execution) io.out(`${stamp()} execution ${state}`);
      execution = state;
    },
    outage(err) {
      io.out(`${stamp()} cannot poll the node (${err.code}): ${err.message}; retrying`);
    },
    finish(view, outcome) {
      io.out(summaryLine(view));
      if (outcome !== "ended") io.out(notEnded(view, outcome));
    },
  };
}

/** The frame of a view: a header, a line per node, the progress. */
export function frame(view: ExecutionView, now: number, width: number, note = ""): string[] {
  const t = nodeTotals(view);
  const took = view.duration ?? (view.startTime === null ? null : now - view.startTime);
  const head = `${view.executionId} · ${view.workflowId} v${view.version} · ${view.status}${
    view.queued ? " (queued)" : ""
  } · ${duration(took)}${note ? ` · ${note}` : ""}`;
  const idWidth = Math.max(4, ...view.nodes.map((n) => n.nodeId.length));
  const kindWidth = Math.max(4, ...view.nodes.map((n) => n.nodeType.length));
  const lines = view.nodes.map((n) => {
    const children = n.children
      ? `  ${bar(n.children.ended, n.children.count, 10)} ${n.children.ended}/${n.children.count}`
      : "";
    const records = n.recordsProcessed === null ? "" : `  ${count(n.recordsProcessed)} records`;
    const error = n.error ? `  ${errorText(n.error)}` : "";
    const took = nodeElapsed(n, now);
    return `  ${SYMBOLS[n.status] ?? "?"} ${n.nodeId.padEnd(idWidth)}  ${n.nodeType.padEnd(kindWidth)}  ${
      n.status.padEnd(9)
    }  ${(took === null ? "" : duration(took)).padStart(6)}${records}${children}${error}`.trimEnd();
  });
  const progress = `  ${bar(t.settled, t.total)} ${t.settled}/${t.total} nodes · ${count(t.records)} records`;
  return [head, ...lines, progress].map((l) => truncate(l, Math.max(20, width - 1)));
}

/**
 * A frame cut to a terminal's height (one row spare, so redrawing never scrolls): its head, as many node lines
 * as fit, a line counting the others, and the progress line.
 *
 * @example
 * ```ts
 * import { fitRows } from "./watch.ts";
 * const cut = fitRows(["head", "a", "b", "c", "d", "progress"], 6);
 * if (cut.join("|") !== "head|a|b|  … 2 more nodes|progress") throw new Error(cut.join("|"));
 * ```
 */
export function fitRows(lines: string[], rows: number): string[] {
  const room = Math.max(4, rows - 1);
  if (lines.length <= room) return lines;
  const nodes = lines.slice(1, -1);
  const shown = room - 3;
  return [
    lines[0],
    ...nodes.slice(0, shown),
    `  … ${nodes.length - shown} more nodes`,
    lines[lines.length - 1],
  ];
}

/** The watch as a frame redrawn in place (standard output is a terminal). */
export function ttyRenderer(io: Io): Renderer {
  let drawn = 0;
  let note = "";
  let last: ExecutionView | undefined;
  const draw = (view: ExecutionView) => {
    const lines = fitRows(frame(view, io.now(), io.columns(), note), io.rows?.() ?? Infinity);
    // Up to the first line of the last frame, then each line cleared and rewritten; leftovers cleared.
    let text = drawn > 0 ? `\x1b[${drawn}F` : "\x1b[?25l";
    for (const l of lines) text += `\x1b[2K${l}\n`;
    for (let i = lines.length; i < drawn; i++) text += "\x1b[2K\n";
    if (drawn > lines.length) text += `\x1b[${drawn - lines.length}F`;
    io.write(text);
    drawn = lines.length;
  };
  return {
    view(view) {
      note = "";
      last = view;
      draw(view);
    },
    outage(err) {
      note = `cannot poll the node (${err.code}), retrying`;
      if (last) draw(last);
    },
    finish(view, outcome) {
      if (view !== last || note !== "") {
        note = "";
        draw(view);
      }
      io.write("\x1b[?25h");
      io.out(summaryLine(view));
      if (outcome !== "ended") io.out(notEnded(view, outcome));
    },
  };
}
