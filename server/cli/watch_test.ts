/**
 * The live view, on a fake terminal: one line per state change when not a terminal (node changes, retries,
 * failures, the end), a frame redrawn in place with ANSI cursor movement on a terminal.
 */
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import type { ExecutionView, NodeView } from "../../core/view.ts";
import type { Io } from "./command.ts";
import { frame, lineRenderer, ttyRenderer } from "./watch.ts";

/** A terminal that keeps what is written, on a clock the test moves. */
function fakeIo(isTerminal: boolean) {
  const written: string[] = [];
  const clock = { now: 1_000_000 };
  const io: Io = {
    out: (line) => written.push(`${line}\n`),
    err: () => {},
    write: (text) => written.push(text),
    isTerminal,
    columns: () => 100,
    now: () => clock.now,
    sleep: () => Promise.resolve(),
    interrupted: new AbortController().signal,
  };
  return { io, written, clock };
}

/** Text with its escape characters shown as ⎋ (so patterns need no control characters). */
function visible(text: string): string {
  return text.replaceAll("\x1b", "⎋");
}

/** A node of a view. */
function node(nodeId: string, status: NodeView["status"], extra: Partial<NodeView> = {}): NodeView {
  return {
    nodeId,
    type: "control",
    nodeType: "delay",
    status,
    attempts: status === "pending" ? 0 : 1,
    startTime: status === "pending" ? null : 1_000_000,
    endTime: null,
    duration: status === "completed" ? 3 : null,
    recordsProcessed: status === "completed" ? 5 : null,
    error: null,
    ...extra,
  };
}

/** A view. */
function view(
  status: ExecutionView["status"],
  nodes: NodeView[],
  extra: Partial<ExecutionView> = {},
): ExecutionView {
  return {
    executionId: "ex-1",
    workflowId: "wf",
    version: 1,
    status,
    startTime: 1_000_000,
    endTime: null,
    duration: null,
    error: null,
    trigger: { kind: "api" },
    nodes,
    ...extra,
  } as ExecutionView;
}

Deno.test("watch: one line per state change when not a terminal", () => {
  const { io, written, clock } = fakeIo(false);
  const r = lineRenderer(io);
  r.view(view("running", [node("a", "running"), node("b", "pending")]));
  r.view(view("running", [node("a", "running"), node("b", "pending")])); // nothing changed: no line
  clock.now += 1_500;
  const retrying = node("a", "running", { error: { code: "http_status", message: "503" } });
  r.view(view("running", [retrying, node("b", "pending")]));
  r.view(view("running", [node("a", "running", { attempts: 2 }), node("b", "pending")]));
  clock.now += 500;
  const end = view("failed", [
    node("a", "completed"),
    node("b", "failed", { error: { code: "x", message: "y" } }),
  ], {
    duration: 2_000,
    error: { code: "x", message: "y", nodeId: "b" },
  });
  r.view(end);
  r.finish(end, "ended");
  assertEquals(
    written.join(""),
    [
      "+0.0s execution ex-1 (wf v1) running",
      "+0.0s node a running",
      "+0.0s node b pending",
      "+1.5s node a running, retrying after http_status: 503",
      "+1.5s node a running (attempt 2)",
      "+2.0s node a completed 5 records",
      "+2.0s node b failed: x: y",
      "+2.0s execution failed",
      "ex-1 failed in 2.0s · 2 nodes: 1 completed, 1 failed · 5 records processed",
      "error: x: y (node b)",
      "",
    ].join("\n"),
  );
});

Deno.test("watch: a frame redrawn in place on a terminal, the cursor shown again at the end", () => {
  const { io, written } = fakeIo(true);
  const r = ttyRenderer(io);
  const first = view("running", [node("a", "running"), node("b", "pending")]);
  r.view(first);
  assertMatch(
    visible(written[0]),
    /^⎋\[\?25l⎋\[2Kex-1 · wf v1 · running · 0ms\n⎋\[2K {2}● a +delay +running +0ms\n/,
  );
  const lines = frame(first, 1_000_000, 100);
  assertStrictEquals(lines.length, 4); // head, two nodes, progress
  assertMatch(lines[3], /^ {2}░{20} 0\/2 nodes · 0 records$/);
  r.view(view("running", [node("a", "completed"), node("b", "running")]));
  // Back up the 4 lines of the first frame, then rewrite each.
  assert(written[1].startsWith("\x1b[4F\x1b[2Kex-1"), JSON.stringify(written[1]));
  assertMatch(visible(written[1]), /⎋\[2K {2}✓ a {5}delay {2}completed {5}3ms {2}5 records\n/);
  assertMatch(visible(written[1]), /⎋\[2K {2}● b {5}delay {2}running {7}0ms\n/);
  assertMatch(visible(written[1]), / {2}█{10}░{10} 1\/2 nodes · 5 records\n$/);
  const end = view("completed", [node("a", "completed"), node("b", "completed")], { duration: 10 });
  r.view(end);
  r.finish(end, "ended");
  assertEquals(written.slice(-2), [
    "\x1b[?25h",
    "ex-1 completed in 10ms · 2 nodes: 2 completed · 10 records processed\n",
  ]);
});

Deno.test("watch: a foreach node's children as a bar; lines cut to the terminal's width", () => {
  const children = node("each", "running", {
    nodeType: "foreach",
    children: { count: 4, started: 4, running: 2, ended: 2, failed: 0 },
  });
  const lines = frame(view("running", [children]), 1_000_000, 60);
  assertMatch(lines[1], /█{5}░{5} 2\/4$/);
  assert(lines.every((l) => l.length <= 59), lines.join("\n"));
  const { io, written } = fakeIo(false);
  const r = lineRenderer(io);
  const v = view("running", [node("a", "running")]);
  r.view(v);
  r.finish(v, "timeout");
  assertMatch(
    written.at(-1)!,
    /^the wait ran out: ex-1 is still running \(it goes on; follow it with: executions get ex-1 --wait\)\n$/,
  );
});
