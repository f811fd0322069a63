/**
 * Child executions decided in the parent (`foreach`, `workflow.run`): PlanChildren, ChildStarted up to the
 * node's concurrency, ChildEnded, failure policies, bounds, pause, and which children to keep or cancel.
 */
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import type { Command } from "./decide.ts";
import { MAX_WORKFLOW_DEPTH } from "./catalog_control.ts";
import { EVENT_VERSION, type ParentLink } from "./events.ts";
import { childExecutionId } from "./ids.ts";
import { replay } from "./state.ts";
import { buildPlan, edge, label, N, Run } from "./testing_plans.ts";
import { isOrphan, liveChildren, pendingTimers, pendingWork } from "./timers.ts";
import { executionView } from "./view.ts";

const START: Command = { type: "Start", input: null };
const plan = (each = N.foreach("f", { maxConcurrency: 2 })) =>
  buildPlan([N.src("a"), each, N.sink("k")], [edge("a", "f"), edge("f", "k")]);

/** A run whose node `f` is running, waiting for its items. */
function expanding(each = N.foreach("f", { maxConcurrency: 2 }), start: Command = START): Run {
  const run = new Run(plan(each));
  run.ok(start);
  run.ok(run.complete("a"), 1100);
  assertStrictEquals(run.state.nodes.f.status, "running");
  return run;
}

const planChildren = (count: number, attempt = 1): Command => ({
  type: "PlanChildren",
  nodeId: "f",
  attempt,
  count,
});
const ended = (index: number, status = "completed", attempt = 1): Command => ({
  type: "ChildEnded",
  nodeId: "f",
  attempt,
  index,
  status,
  ...(status === "completed" ? {} : { error: { code: "boom", message: `child ${index} broke` } }),
});
const startedIndexes = (run: Run) => run.events.flatMap((e) => (e.type === "ChildStarted" ? [e.index] : []));

function checkReplay(run: Run): void {
  assertEquals(replay(run.executionId, run.plan, run.events, run.planOf), run.state);
}

Deno.test("foreach: children start up to maxConcurrency, each end starts the next, then the node is collected", () => {
  const run = expanding();
  assertEquals(pendingWork(run.state).toExpand, [{ nodeId: "f", attempt: 1 }]);
  const events = run.ok(planChildren(5), 1200);
  assertEquals(events.map(label), ["ChildrenPlanned(f)", "ChildStarted(f)", "ChildStarted(f)"]);
  assertEquals(events[1], {
    type: "ChildStarted",
    v: EVENT_VERSION,
    seq: events[1].seq,
    at: 1200,
    nodeId: "f",
    attempt: 1,
    index: 0,
    childId: childExecutionId("ex-1", "f", 1, 0),
  });
  assertEquals(pendingWork(run.state).toExpand, []);
  assertEquals(executionView(run.state).nodes[1].children, {
    count: 5,
    started: 2,
    running: 2,
    ended: 0,
    failed: 0,
  });
  assertEquals(liveChildren(run.state).keep.map((c) => c.index), [0, 1]);

  assertEquals(run.labels(ended(1), 1300), ["ChildEnded(f)", "ChildStarted(f)"]);
  // Stale reports change nothing: an index already counted, one not started, another attempt, a second plan.
  assertEquals(run.ok(ended(1)), []);
  assertEquals(run.ok(ended(4)), []);
  assertEquals(run.ok(ended(0, "completed", 2)), []);
  assertEquals(run.ok(planChildren(5)), []);
  assertEquals(run.ok({ ...planChildren(5), nodeId: "k" } as Command), [], "not a children node");

  for (const i of [0, 2, 3]) run.ok(ended(i), run.now + 10);
  assertEquals(pendingWork(run.state).toCollect, [], "item 4 still runs");
  run.ok(ended(4), 1500);
  assertEquals(pendingWork(run.state).toCollect, [{ nodeId: "f", attempt: 1 }]);
  assertEquals(startedIndexes(run), [0, 1, 2, 3, 4]);
  assertEquals(liveChildren(run.state), { keep: [], cancel: [] });

  assertEquals(run.labels(run.complete("f"), 1600), [
    "NodeSucceeded(f)",
    "NodeScheduled(k)",
    "NodeStarted(k)",
  ]);
  assertEquals(pendingWork(run.state).toCollect, []);
  run.ok(run.complete("k"), 1700);
  assertStrictEquals(run.state.status, "completed");
  assertEquals(run.ok(ended(0)), [], "a report after the end changes nothing");
  checkReplay(run);
});

Deno.test("foreach fail_fast: the first failed child fails the node (not retried); the rest are cancelled", () => {
  const run = expanding({ ...N.foreach("f", { maxConcurrency: 3 }), retry: { maxAttempts: 3 } });
  run.ok(planChildren(4), 1200);
  const events = run.ok(ended(1, "failed"), 1300);
  assertEquals(events.map(label), ["ChildEnded(f)", "NodeFailed(f)", "ExecutionFailed"]);
  const failed = events[1];
  assert(failed.type === "NodeFailed");
  assertEquals([failed.error.code, failed.retryable], ["child_failed", false]);
  assert(failed.error.message.includes("child 1 broke"), failed.error.message);
  assertStrictEquals(run.state.status, "failed");
  const live = liveChildren(run.state);
  assertEquals(live.keep, []);
  assertEquals(live.cancel.map((c) => [c.index, c.childId]), [
    [0, childExecutionId("ex-1", "f", 1, 0)],
    [2, childExecutionId("ex-1", "f", 1, 2)],
  ]);
  checkReplay(run);
});

Deno.test("foreach continue: fails when failures exceed toleratedFailureCount, else is collected", () => {
  const tolerant = expanding(
    N.foreach("f", { maxConcurrency: 4, failurePolicy: "continue", toleratedFailureCount: 1 }),
  );
  tolerant.ok(planChildren(4), 1200);
  assertEquals(tolerant.labels(ended(0, "failed"), 1300), ["ChildEnded(f)"]);
  tolerant.ok(ended(1), 1310);
  assertEquals(tolerant.labels(ended(2, "cancelled"), 1400), [
    "ChildEnded(f)",
    "NodeFailed(f)",
    "ExecutionFailed",
  ]);

  const ok = expanding(
    N.foreach("f", { maxConcurrency: 4, failurePolicy: "continue", toleratedFailureCount: 2 }),
  );
  ok.ok(planChildren(3), 1200);
  ok.ok(ended(0, "failed"), 1300);
  ok.ok(ended(2, "timed_out"), 1310);
  ok.ok(ended(1), 1320);
  assertStrictEquals(ok.state.nodes.f.status, "running");
  assertEquals(pendingWork(ok.state).toCollect, [{ nodeId: "f", attempt: 1 }]);
  assertEquals(executionView(ok.state).nodes[1].children, {
    count: 3,
    started: 3,
    running: 0,
    ended: 3,
    failed: 2,
  });

  const unlimited = expanding(N.foreach("f", { maxConcurrency: 2, failurePolicy: "continue" }));
  unlimited.ok(planChildren(3), 1200);
  for (const i of [0, 1, 2]) unlimited.ok(ended(i, "failed"), unlimited.now + 1);
  assertEquals(pendingWork(unlimited.state).toCollect, [{ nodeId: "f", attempt: 1 }], "no limit by default");
  checkReplay(tolerant);
  checkReplay(ok);
});

Deno.test("PlanChildren: count 0 completes the node at once with an empty output", () => {
  const run = expanding();
  assertEquals(run.labels(planChildren(0), 1200), [
    "ChildrenPlanned(f)",
    "NodeSucceeded(f)",
    "NodeScheduled(k)",
    "NodeStarted(k)",
  ]);
  assertStrictEquals(run.state.nodes.f.outputRef, null);
  assertEquals(pendingWork(run.state).toCollect, []);
  checkReplay(run);
});

Deno.test("PlanChildren: more items than maxItems fails the node with foreach_too_many_items", () => {
  const run = expanding({ ...N.foreach("f", { maxItems: 3 }), retry: { maxAttempts: 3 } });
  const events = run.ok(planChildren(4), 1200);
  assertEquals(events.map(label), ["NodeFailed(f)", "ExecutionFailed"], "not retried despite the policy");
  assert(events[0].type === "NodeFailed");
  assertEquals([events[0].error.code, events[0].retryable], ["foreach_too_many_items", false]);

  const atMost = expanding(N.foreach("f", { maxItems: 3, maxConcurrency: 5 }));
  assertEquals(atMost.ok(planChildren(3), 1200).map(label).filter((l) => l === "ChildStarted(f)").length, 3);
});

Deno.test("PlanChildren: a child too deep fails with workflow_depth_exceeded", () => {
  const parent = (depth: number): ParentLink => ({
    executionId: "ex-0",
    nodeId: "p",
    attempt: 1,
    index: 0,
    depth,
  });
  const deepest = expanding(N.foreach("f"), {
    type: "Start",
    input: null,
    parent: parent(MAX_WORKFLOW_DEPTH),
  });
  assertEquals(deepest.state.parent, parent(MAX_WORKFLOW_DEPTH));
  assertEquals(executionView(deepest.state).parent, parent(MAX_WORKFLOW_DEPTH));
  const events = deepest.ok(planChildren(2), 1200);
  assertEquals(events.map(label), ["NodeFailed(f)", "ExecutionFailed"]);
  assert(events[0].type === "NodeFailed");
  assertEquals([events[0].error.code, events[0].retryable], ["workflow_depth_exceeded", false]);

  const below = expanding(N.sub("f"), { type: "Start", input: null, parent: parent(MAX_WORKFLOW_DEPTH - 1) });
  assertEquals(below.ok(planChildren(1), 1200).map(label), ["ChildrenPlanned(f)", "ChildStarted(f)"]);
  checkReplay(deepest);
  checkReplay(below);
});

Deno.test("workflow.run: one child at a time, at most one item", () => {
  const run = expanding(N.sub("f"));
  const spec = run.plan.byId.get("f")!.subflow!;
  assertEquals([spec.each, spec.maxConcurrency, spec.maxItems, spec.toleratedFailures], [false, 1, 1, 0]);
  assertStrictEquals(run.ok(planChildren(2), 1200)[0].type, "NodeFailed");
  const one = expanding(N.sub("f"));
  one.ok(planChildren(1), 1200);
  one.ok(ended(0), 1300);
  assertEquals(pendingWork(one.state).toCollect, [{ nodeId: "f", attempt: 1 }]);
});

Deno.test("pause: no child starts while paused (planned or freed); Resume fills the slots", () => {
  const run = expanding(N.foreach("f", { maxConcurrency: 2 }));
  run.ok({ type: "Pause", reason: "wait" }, 1150);
  assertEquals(pendingWork(run.state).toExpand, [{ nodeId: "f", attempt: 1 }], "items are read while paused");
  assertEquals(run.labels(planChildren(4), 1200), ["ChildrenPlanned(f)"]);
  assertEquals(run.labels({ type: "Resume" }, 1300), [
    "ExecutionResumed",
    "ChildStarted(f)",
    "ChildStarted(f)",
  ]);
  run.ok({ type: "Pause", reason: "again" }, 1400);
  assertEquals(run.labels(ended(0), 1500), ["ChildEnded(f)"], "a child's end is recorded, nothing starts");
  assertEquals(liveChildren(run.state).keep.map((c) => c.index), [1], "running children keep running");
  assertEquals(run.labels({ type: "Resume" }, 1600), ["ExecutionResumed", "ChildStarted(f)"]);
  assertEquals(startedIndexes(run), [0, 1, 2]);
  checkReplay(run);
});

Deno.test("liveChildren: kept while the node runs, to cancel once the execution is cancelled", () => {
  const run = expanding();
  run.ok(planChildren(3), 1200);
  assertEquals(liveChildren(run.state).cancel, []);
  assertEquals(liveChildren(run.state).keep.map((c) => c.index), [0, 1]);
  run.ok({ type: "Cancel", reason: "stop" }, 1300);
  const live = liveChildren(run.state);
  assertEquals(live.keep, []);
  assertEquals(
    live.cancel,
    [0, 1].map((index) => ({
      nodeId: "f",
      attempt: 1,
      index,
      childId: childExecutionId("ex-1", "f", 1, index),
    })),
  );
  assertEquals(run.ok(ended(0)), [], "a child's end after the parent ended is ignored");
});

Deno.test("node timeout of a foreach: the attempt's children are cancelled; the next attempt has new ids", () => {
  const run = expanding({
    ...N.foreach("f", { maxConcurrency: 2 }),
    timeoutMs: 500,
    retry: { maxAttempts: 2 },
  });
  run.ok(planChildren(2), 1200);
  const timer = pendingTimers(run.state).find((t) => t.kind === "node-timeout");
  assertEquals(timer?.id, "node-timeout:f:1");
  run.ok({ type: "FireTimer", timerId: timer!.id }, 1600);
  assertStrictEquals(run.state.nodes.f.status, "waiting_retry");
  assertEquals(liveChildren(run.state).cancel.map((c) => c.childId), [
    childExecutionId("ex-1", "f", 1, 0),
    childExecutionId("ex-1", "f", 1, 1),
  ]);
  assertEquals(run.ok(ended(0), 1601), [], "the old attempt's children no longer count");
  const retry = pendingTimers(run.state).find((t) => t.kind === "retry")!;
  run.ok({ type: "FireTimer", timerId: retry.id }, retry.dueAt);
  assertEquals([run.attempt("f"), run.state.nodes.f.children], [2, null]);
  run.ok(planChildren(1, 2), retry.dueAt + 1);
  const started = run.events.at(-1);
  assert(started?.type === "ChildStarted");
  assertStrictEquals(started.childId, childExecutionId("ex-1", "f", 2, 0));
  assert(started.childId !== childExecutionId("ex-1", "f", 1, 0), "another attempt, another child");
  checkReplay(run);
});

Deno.test("isOrphan: a child is an orphan unless its parent runs that node's attempt and counts it live", () => {
  const run = expanding();
  run.ok(planChildren(3), 1200);
  const link = (index: number, attempt = 1, nodeId = "f"): ParentLink => ({
    executionId: "ex-1",
    nodeId,
    attempt,
    index,
    depth: 1,
  });
  assertStrictEquals(isOrphan(run.state, link(0)), false);
  assertStrictEquals(isOrphan(run.state, link(1)), false);
  assertStrictEquals(isOrphan(undefined, link(0)), true, "no parent");
  assertStrictEquals(isOrphan(run.state, link(2)), true, "not started by the parent");
  assertStrictEquals(isOrphan(run.state, link(0, 2)), true, "another attempt");
  assertStrictEquals(isOrphan(run.state, link(0, 1, "k")), true, "a node that is not running");
  assertStrictEquals(isOrphan(run.state, link(0, 1, "nope")), true, "an unknown node");
  run.ok(ended(0), 1300);
  assertStrictEquals(isOrphan(run.state, link(0)), true, "already ended");
  run.ok({ type: "Cancel", reason: "stop" }, 1400);
  assertStrictEquals(isOrphan(run.state, link(1)), true, "the parent ended");
});
