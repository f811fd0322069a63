/**
 * An execution for people: its detail, its nodes as a table, and a one-line summary of its end. Pure: the
 * view and the time in, lines out.
 *
 * @module
 */
import type { ExecutionView, NodeView } from "../../core/view.ts";
import { ago, count, duration, isoTime, NONE, table } from "./format.ts";

/** An error as a line: `code: message (node n)`. */
export function errorText(e: { code: string; message: string; nodeId?: string } | null | undefined): string {
  if (!e) return NONE;
  return `${e.code}: ${e.message}${e.nodeId ? ` (node ${e.nodeId})` : ""}`;
}

/** Node counts of a view: how many ended (any end), per status, and the records processed so far. */
export function nodeTotals(view: ExecutionView) {
  const byStatus: Record<string, number> = {};
  let records = 0;
  for (const n of view.nodes) {
    byStatus[n.status] = (byStatus[n.status] ?? 0) + 1;
    records += n.recordsProcessed ?? 0;
  }
  const settled = view.nodes.filter((n) => n.status !== "pending" && n.status !== "running").length;
  return { total: view.nodes.length, settled, byStatus, records };
}

/** How long a node has run (or ran), by the time `now` while it runs. */
export function nodeElapsed(n: NodeView, now: number): number | null {
  if (n.duration !== null) return n.duration;
  if (n.status === "running" && n.startTime !== null) return Math.max(0, now - n.startTime);
  return null;
}

/** What a node's last column says: its error, its branch, or its children. */
function nodeNote(n: NodeView): string {
  if (n.error) return errorText(n.error);
  if (n.children) {
    const c = n.children;
    return `children ${c.ended}/${c.count} ended${c.failed ? `, ${c.failed} failed` : ""}`;
  }
  return n.branch === undefined ? "" : `branch ${n.branch}`;
}

/** The nodes of a view as a table. */
export function nodeTable(view: ExecutionView, now: number): string[] {
  return table(
    ["NODE", "KIND", "STATUS", "ATTEMPTS", "RECORDS", "DURATION", "NOTE"],
    view.nodes.map((n) => [
      n.nodeId,
      n.nodeType,
      n.status,
      String(n.attempts),
      count(n.recordsProcessed),
      duration(nodeElapsed(n, now)),
      nodeNote(n),
    ]),
    ["left", "left", "left", "right", "right", "right", "left"],
  );
}

/** Why the execution started, in words. */
function triggerText(view: ExecutionView): string {
  const t = view.trigger as { kind?: string; scheduleId?: string; tickAt?: number } | undefined;
  if (!t || t.kind === undefined) return NONE;
  if (t.kind === "schedule") return `schedule ${t.scheduleId} (tick ${isoTime(t.tickAt)})`;
  return t.kind;
}

/** A time with its distance from now: `2026-12-06T17:11:41Z (3m ago)`. */
function when(at: number | null, now: number): string {
  return at === null ? NONE : `${isoTime(at)} (${ago(at, now)})`;
}

/** An execution's detail: its fields, then its nodes. */
export function executionDetail(view: ExecutionView, now: number): string[] {
  const rows: [string, string][] = [
    ["execution", view.executionId],
    ["workflow", `${view.workflowId} v${view.version}`],
    ["status", view.queued ? `${view.status} (queued)` : view.status],
    ["started", when(view.startTime, now)],
    ["ended", when(view.endTime, now)],
    ["duration", duration(view.duration ?? (view.startTime === null ? null : now - view.startTime))],
    ["trigger", triggerText(view)],
    ["error", errorText(view.error)],
  ];
  if (view.concurrency) {
    rows.push([
      "concurrency",
      `key ${JSON.stringify(view.concurrency.key)}, limit ${view.concurrency.limit}`,
    ]);
  }
  if (view.parent) rows.push(["parent", `${view.parent.executionId} (node ${view.parent.nodeId})`]);
  if (view.reopened) rows.push(["reopened", String(view.reopened)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`), "", ...nodeTable(view, now)];
}

/**
 * One line on an execution's end (or where it is): `completed in 1.2s · 4/4 nodes completed · 105 records
 * processed`, and its error when it has one.
 */
export function summaryLine(view: ExecutionView): string {
  const t = nodeTotals(view);
  const parts = Object.entries(t.byStatus).map(([status, n]) => `${n} ${status}`).join(", ");
  const took = view.duration === null ? "" : ` in ${duration(view.duration)}`;
  const line = `${view.executionId} ${view.status}${took} · ${t.total} nodes: ${parts} · ${
    count(t.records)
  } records processed`;
  return view.error ? `${line}\nerror: ${errorText(view.error)}` : line;
}
