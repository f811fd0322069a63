import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { type Command, type CompleteNodeCommand, decide, type Decision } from "./decide.ts";
import { EVENT_VERSION, type ExecutionEvent } from "./events.ts";
import { compilePlan, type Plan } from "./plan.ts";
import { evolve, type ExecutionState, initialState, replay } from "./state.ts";
import { pendingTimers, pendingWork } from "./timers.ts";
import { validateWorkflow } from "./validate.ts";
import { executionView, type NodeView } from "./view.ts";
import type { RetryPolicy, WorkflowEdge, WorkflowNode } from "./workflow.ts";

// ---- building workflows

const src = (id: string): WorkflowNode => ({
  id,
  type: "source",
  nodeType: "memory.collection",
  config: { data: [1] },
});
const map = (id: string, extra: Partial<WorkflowNode> = {}): WorkflowNode => ({
  id,
  type: "transform",
  nodeType: "map",
  config: { expression: "value" },
  ...extra,
});
const sink = (id: string): WorkflowNode => ({ id, type: "sink", nodeType: "memory.collect", config: {} });
const cond = (id: string): WorkflowNode => ({
  id,
  type: "control",
  nodeType: "condition",
  config: { condition: "true" },
});
const delay = (id: string, config: Record<string, unknown>): WorkflowNode => ({
  id,
  type: "control",
  nodeType: "delay",
  config,
});
const wait = (id: string, name: string): WorkflowNode => ({
  id,
  type: "control",
  nodeType: "signal.wait",
  config: { name },
});
const edge = (source: string, target: string, sourceHandle?: string): WorkflowEdge =>
  sourceHandle === undefined ? { source, target } : { source, target, sourceHandle };

/** Validates (as the API does) and compiles a workflow. */
function plan(nodes: WorkflowNode[], edges: WorkflowEdge[], extra: { timeoutMs?: number } = {}): Plan {
  const result = validateWorkflow({ id: "wf", name: "wf", nodes, edges, ...extra });
  assert(result.ok, result.ok ? "" : JSON.stringify(result.problems));
  return compilePlan(result.workflow, 1);
}

/** `Type(nodeId)` for node events, `Type` otherwise: short enough to compare whole histories. */
function label(e: ExecutionEvent): string {
  return "nodeId" in e ? `${e.type}(${e.nodeId})` : e.type;
}

// ---- a small pure driver that does what the runtime does

/**
 * Mimics the runtime: decides a command at `now`, appends and evolves, then starts
 * every scheduled node at once (unless `autoStart` is off). Task completions,
 * failures and timers are sent by the test.
 */
class Run {
  state: ExecutionState;
  readonly events: ExecutionEvent[] = [];
  now = 1000;

  constructor(readonly plan: Plan, readonly autoStart = true) {
    this.state = initialState("ex-1", plan);
  }

  /** Decides `command` (at `at`, if given), applies the events and starts what got scheduled. */
  send(command: Command, at?: number): Decision {
    if (at !== undefined) {
      assert(at >= this.now, `time goes forward: ${at} < ${this.now}`);
      this.now = at;
    }
    const before = structuredClone(this.state);
    const decision = decide(this.state, command, this.now);
    assertEquals(this.state, before, "decide must not mutate its input");
    if (decision.ok) {
      this.apply(decision.events);
      if (this.autoStart) this.startScheduled();
    }
    return decision;
  }

  /** Sends `command`, asserts it was accepted, and returns the events it caused (auto starts excluded). */
  ok(command: Command, at?: number): ExecutionEvent[] {
    const decision = this.send(command, at);
    assert(
      decision.ok,
      decision.ok ? "" : `rejected: ${decision.rejection.code} ${decision.rejection.message}`,
    );
    return decision.events;
  }

  /** Like `ok`, but returns the labels of the events, auto starts included. */
  labels(command: Command, at?: number): string[] {
    const from = this.events.length;
    this.ok(command, at);
    return this.events.slice(from).map(label);
  }

  rejected(command: Command, at?: number): string {
    const decision = this.send(command, at);
    assert(!decision.ok, `expected a rejection, got ${decision.ok && decision.events.map(label).join()}`);
    return decision.rejection.code;
  }

  startScheduled(): void {
    for (let work = pendingWork(this.state); work.toStart.length > 0; work = pendingWork(this.state)) {
      for (const nodeId of work.toStart) {
        const decision = decide(this.state, { type: "StartNode", nodeId }, this.now);
        assert(decision.ok && decision.events.length > 0, `StartNode ${nodeId}`);
        this.apply(decision.events);
      }
    }
  }

  apply(events: readonly ExecutionEvent[]): void {
    for (const e of events) {
      this.state = evolve(this.state, e);
      this.events.push(e);
    }
  }

  attempt(nodeId: string): number {
    return this.state.nodes[nodeId].attempts;
  }

  complete(nodeId: string, handle?: string): CompleteNodeCommand {
    const command: CompleteNodeCommand = {
      type: "CompleteNode",
      nodeId,
      attempt: this.attempt(nodeId),
      outputRef: `out/${nodeId}/${this.attempt(nodeId)}`,
      recordsProcessed: 3,
      recordsEmitted: 2,
      ...(handle === undefined ? {} : { handle }),
    };
    return command;
  }

  fail(nodeId: string, retryable: boolean, code = "boom"): Command {
    return {
      type: "FailNode",
      nodeId,
      attempt: this.attempt(nodeId),
      error: { code, message: `${nodeId} failed` },
      retryable,
    };
  }

  node(nodeId: string): NodeView {
    const view = executionView(this.state).nodes.find((n) => n.nodeId === nodeId);
    assert(view, `no node ${nodeId} in the view`);
    return view;
  }

  /** The history's invariants: seq 1..n, `at` non-decreasing, schema version, replay equals state. */
  checkHistory(): void {
    this.events.forEach((e, i) => {
      assertStrictEquals(e.seq, i + 1);
      assertStrictEquals(e.v, EVENT_VERSION);
      if (i > 0) assert(e.at >= this.events[i - 1].at, `at goes back at seq ${e.seq}`);
    });
    assertEquals(replay("ex-1", this.plan, this.events), this.state);
  }
}

const fire = (timerId: string): Command => ({ type: "FireTimer", timerId });
const START: Command = { type: "Start", input: { hello: "world" } };

// ---- linear chain

Deno.test("linear chain: runs to ExecutionSucceeded with the exact event sequence", () => {
  const run = new Run(plan([src("a"), map("b"), sink("c")], [edge("a", "b"), edge("b", "c")]));
  const start = run.ok(START);
  assertEquals(start.map(label), ["ExecutionStarted", "NodeScheduled(a)"]);
  assertEquals(start[0], {
    type: "ExecutionStarted",
    v: EVENT_VERSION,
    seq: 1,
    at: 1000,
    executionId: "ex-1",
    workflowId: "wf",
    version: 1,
    input: { hello: "world" },
    timeoutAt: null,
    idempotencyKey: null,
  });
  assertEquals(run.labels(run.complete("a"), 1100), [
    "NodeSucceeded(a)",
    "NodeScheduled(b)",
    "NodeStarted(b)",
  ]);
  assertEquals(run.labels(run.complete("b"), 1200), [
    "NodeSucceeded(b)",
    "NodeScheduled(c)",
    "NodeStarted(c)",
  ]);
  assertEquals(run.labels(run.complete("c"), 1300), ["NodeSucceeded(c)", "ExecutionSucceeded"]);
  assertEquals(run.events.map(label), [
    "ExecutionStarted",
    "NodeScheduled(a)",
    "NodeStarted(a)",
    "NodeSucceeded(a)",
    "NodeScheduled(b)",
    "NodeStarted(b)",
    "NodeSucceeded(b)",
    "NodeScheduled(c)",
    "NodeStarted(c)",
    "NodeSucceeded(c)",
    "ExecutionSucceeded",
  ]);
  const succeeded = run.events.find((e) => e.type === "NodeSucceeded" && e.nodeId === "b");
  assertEquals(succeeded, {
    type: "NodeSucceeded",
    v: EVENT_VERSION,
    seq: 7,
    at: 1200,
    nodeId: "b",
    attempt: 1,
    outputRef: "out/b/1",
    recordsProcessed: 3,
    recordsEmitted: 2,
  });
  run.checkHistory();
  const view = executionView(run.state);
  assertStrictEquals(view.status, "completed");
  assertStrictEquals(view.startTime, 1000);
  assertStrictEquals(view.endTime, 1300);
  assertStrictEquals(view.duration, 300);
  assertStrictEquals(view.error, null);
  assertEquals(view.nodes.map((n) => [n.nodeId, n.status, n.attempts, n.startTime, n.endTime]), [
    ["a", "completed", 1, 1000, 1100],
    ["b", "completed", 1, 1100, 1200],
    ["c", "completed", 1, 1200, 1300],
  ]);
  assertEquals(pendingTimers(run.state), []);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });
});

Deno.test("Start: the idempotency key is recorded and every source is scheduled in node order", () => {
  const run = new Run(plan([map("m"), src("s2"), src("s1")], [edge("s2", "m"), edge("s1", "m")]), false);
  const events = run.ok({ type: "Start", input: null, idempotencyKey: "k-1" });
  assertEquals(events.map(label), ["ExecutionStarted", "NodeScheduled(s2)", "NodeScheduled(s1)"]);
  assertStrictEquals(run.state.idempotencyKey, "k-1");
});

// ---- fan-out / fan-in

Deno.test("fan-out/fan-in: the join is scheduled only after both parents completed", () => {
  const run = new Run(
    plan(
      [src("s"), map("l"), map("r"), map("j"), sink("k")],
      [edge("s", "l"), edge("s", "r"), edge("l", "j"), edge("r", "j"), edge("j", "k")],
    ),
  );
  run.ok(START);
  assertEquals(run.labels(run.complete("s")), [
    "NodeSucceeded(s)",
    "NodeScheduled(l)",
    "NodeScheduled(r)",
    "NodeStarted(l)",
    "NodeStarted(r)",
  ]);
  assertEquals(pendingWork(run.state).toRun, [{ nodeId: "l", attempt: 1 }, { nodeId: "r", attempt: 1 }]);
  // The right branch finishes first: the join still waits for the left one.
  assertEquals(run.labels(run.complete("r"), 1500), ["NodeSucceeded(r)"]);
  assertStrictEquals(run.state.nodes.j.status, "pending");
  assertEquals(run.labels(run.complete("l"), 1600), [
    "NodeSucceeded(l)",
    "NodeScheduled(j)",
    "NodeStarted(j)",
  ]);
  assertEquals(run.labels(run.complete("j")), ["NodeSucceeded(j)", "NodeScheduled(k)", "NodeStarted(k)"]);
  assertEquals(run.labels(run.complete("k")), ["NodeSucceeded(k)", "ExecutionSucceeded"]);
  run.checkHistory();
});

// ---- condition routing

function branchPlan(): Plan {
  // s → c; c(true) → yes → join; c(false) → no → join; no → noOnly → out; join → out.
  return plan(
    [src("s"), cond("c"), map("yes"), map("no"), map("noOnly"), map("join"), sink("out")],
    [
      edge("s", "c"),
      edge("c", "yes", "true"),
      edge("c", "no", "false"),
      edge("yes", "join"),
      edge("no", "join"),
      edge("no", "noOnly"),
      edge("noOnly", "out"),
      edge("join", "out"),
    ],
  );
}

Deno.test("condition: the true branch runs, false-only nodes are skipped, a half-live join runs", () => {
  const run = new Run(branchPlan());
  run.ok(START);
  run.ok(run.complete("s"));
  assertEquals(run.labels(run.complete("c", "true")), [
    "NodeSucceeded(c)",
    "NodeScheduled(yes)",
    "NodeSkipped(no)",
    "NodeSkipped(noOnly)",
    "NodeStarted(yes)",
  ]);
  const skipped = run.events.find((e) => e.type === "NodeSkipped" && e.nodeId === "no");
  assert(skipped?.type === "NodeSkipped" && skipped.reason.length > 0);
  // The join has one skipped parent and one still running: it waits.
  assertStrictEquals(run.state.nodes.join.status, "pending");
  assertEquals(run.labels(run.complete("yes")), [
    "NodeSucceeded(yes)",
    "NodeScheduled(join)",
    "NodeStarted(join)",
  ]);
  // out: parent noOnly skipped, parent join live.
  assertEquals(run.labels(run.complete("join")), [
    "NodeSucceeded(join)",
    "NodeScheduled(out)",
    "NodeStarted(out)",
  ]);
  assertEquals(run.labels(run.complete("out")), ["NodeSucceeded(out)", "ExecutionSucceeded"]);
  run.checkHistory();
  const view = executionView(run.state);
  assertStrictEquals(view.status, "completed");
  assertEquals(Object.fromEntries(view.nodes.map((n) => [n.nodeId, n.status])), {
    s: "completed",
    c: "completed",
    yes: "completed",
    no: "skipped",
    noOnly: "skipped",
    join: "completed",
    out: "completed",
  });
  assertStrictEquals(run.node("c").branch, "true");
  assertStrictEquals(run.node("yes").branch, undefined);
  const succeeded = run.events.find((e) => e.type === "NodeSucceeded" && e.nodeId === "c");
  assert(succeeded?.type === "NodeSucceeded" && succeeded.handle === "true");
});

Deno.test("condition: the false branch mirrors it; a node whose every parent is skipped is skipped", () => {
  const run = new Run(branchPlan());
  run.ok(START);
  run.ok(run.complete("s"));
  assertEquals(run.labels(run.complete("c", "false")), [
    "NodeSucceeded(c)",
    "NodeSkipped(yes)",
    "NodeScheduled(no)",
    "NodeStarted(no)",
  ]);
  assertEquals(run.labels(run.complete("no")), [
    "NodeSucceeded(no)",
    "NodeScheduled(join)",
    "NodeScheduled(noOnly)",
    "NodeStarted(noOnly)",
    "NodeStarted(join)",
  ]);
  run.ok(run.complete("noOnly"));
  run.ok(run.complete("join"));
  assertEquals(run.labels(run.complete("out")), ["NodeSucceeded(out)", "ExecutionSucceeded"]);
  assertStrictEquals(run.state.nodes.yes.status, "skipped");
  run.checkHistory();
});

Deno.test("condition: when every node after it is routed away, the execution succeeds at once", () => {
  const run = new Run(plan([src("s"), cond("c"), sink("t")], [edge("s", "c"), edge("c", "t", "true")]));
  run.ok(START);
  run.ok(run.complete("s"));
  assertEquals(run.labels(run.complete("c", "false")), [
    "NodeSucceeded(c)",
    "NodeSkipped(t)",
    "ExecutionSucceeded",
  ]);
  assertStrictEquals(run.state.status, "completed");
  run.checkHistory();
});

// ---- retries

const RETRY: Partial<RetryPolicy> = {
  maxAttempts: 3,
  initialIntervalMs: 100,
  backoffCoefficient: 3,
  maxIntervalMs: 250,
};

Deno.test("retry: backoff dueAt, an early timer does nothing, new attempts, then ExecutionFailed", () => {
  const run = new Run(
    plan([src("s"), map("m", { retry: RETRY }), sink("k")], [edge("s", "m"), edge("m", "k")]),
  );
  run.ok(START);
  run.ok(run.complete("s"));
  assertStrictEquals(run.attempt("m"), 1);

  const first = run.ok(run.fail("m", true), 2000);
  assertEquals(first.map(label), ["NodeFailed(m)", "NodeRetryScheduled(m)"]);
  assertEquals(first[0], {
    type: "NodeFailed",
    v: EVENT_VERSION,
    seq: first[0].seq,
    at: 2000,
    nodeId: "m",
    attempt: 1,
    error: { code: "boom", message: "m failed" },
    retryable: true,
  });
  assertEquals(first[1], {
    type: "NodeRetryScheduled",
    v: EVENT_VERSION,
    seq: first[0].seq + 1,
    at: 2000,
    nodeId: "m",
    attempt: 2,
    dueAt: 2100,
  });
  assertEquals(pendingTimers(run.state), [{ id: "retry:m:2", kind: "retry", dueAt: 2100, nodeId: "m" }]);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });

  assertEquals(run.ok(fire("retry:m:2"), 2099), [], "an early timer does nothing");
  assertStrictEquals(run.state.nodes.m.status, "waiting_retry");
  assertEquals(run.labels(fire("retry:m:2"), 2100), ["TimerFired", "NodeScheduled(m)", "NodeStarted(m)"]);
  assertStrictEquals(run.attempt("m"), 2);
  const started = run.events.at(-1);
  assert(started?.type === "NodeStarted" && started.attempt === 2);
  assertEquals(pendingWork(run.state).toRun, [{ nodeId: "m", attempt: 2 }]);
  assertEquals(run.ok(fire("retry:m:2"), 2100), [], "a fired timer is gone");

  // Second failure: 100 × 3 = 300, capped at 250.
  const second = run.ok(run.fail("m", true), 3000);
  assert(second[1].type === "NodeRetryScheduled");
  assertStrictEquals(second[1].attempt, 3);
  assertStrictEquals(second[1].dueAt, 3250);
  assertEquals(run.labels(fire("retry:m:3"), 3250), ["TimerFired", "NodeScheduled(m)", "NodeStarted(m)"]);
  assertStrictEquals(run.attempt("m"), 3);

  // Third failure: attempts exhausted.
  const last = run.ok(run.fail("m", true, "still_broken"), 4000);
  assertEquals(last.map(label), ["NodeFailed(m)", "ExecutionFailed"]);
  assert(last[1].type === "ExecutionFailed");
  assertEquals(last[1].error, { code: "still_broken", message: "m failed", nodeId: "m" });
  run.checkHistory();

  const view = executionView(run.state);
  assertStrictEquals(view.status, "failed");
  assertEquals(view.error, { code: "still_broken", message: "m failed", nodeId: "m" });
  assertEquals(run.node("m").status, "failed");
  assertEquals(run.node("m").attempts, 3);
  assertEquals(run.node("m").startTime, 1000, "a node's start time is its first attempt's");
  assertEquals(run.node("k").status, "cancelled");
  assertEquals(run.node("k").endTime, null, "a node that never started has no end time");
  assertEquals(pendingTimers(run.state), []);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });
  // Late results of a finished execution are ignored.
  assertEquals(run.ok(run.complete("m"), 5000), []);
});

Deno.test("retry: a retried attempt that succeeds carries its attempt number", () => {
  const run = new Run(plan([src("s"), map("m", { retry: RETRY })], [edge("s", "m")]));
  run.ok(START);
  run.ok(run.complete("s"));
  run.ok(run.fail("m", true), 2000);
  run.ok(fire("retry:m:2"), 2100);
  assertEquals(run.labels(run.complete("m"), 2200), ["NodeSucceeded(m)", "ExecutionSucceeded"]);
  const succeeded = run.events.find((e) => e.type === "NodeSucceeded" && e.nodeId === "m");
  assert(succeeded?.type === "NodeSucceeded");
  assertStrictEquals(succeeded.attempt, 2);
  assertStrictEquals(run.node("m").attempts, 2);
  assertStrictEquals(run.node("m").error, null, "a later success clears the error");
  run.checkHistory();
});

Deno.test("retry: with no policy the defaults apply (3 attempts, 1 s then 2 s)", () => {
  const run = new Run(plan([src("s")], []));
  run.ok(START);
  const first = run.ok(run.fail("s", true), 1000);
  assert(first[1].type === "NodeRetryScheduled" && first[1].dueAt === 2000);
  run.ok(fire("retry:s:2"), 2000);
  const second = run.ok(run.fail("s", true), 2000);
  assert(second[1].type === "NodeRetryScheduled" && second[1].dueAt === 4000);
  run.ok(fire("retry:s:3"), 4000);
  assertEquals(run.ok(run.fail("s", true), 4000).map(label), ["NodeFailed(s)", "ExecutionFailed"]);
});

Deno.test("retry: a non-retryable failure fails the execution at once", () => {
  const run = new Run(plan([src("s"), map("m", { retry: RETRY })], [edge("s", "m")]));
  run.ok(START);
  run.ok(run.complete("s"));
  const events = run.ok(run.fail("m", false, "bad_input"), 1500);
  assertEquals(events.map(label), ["NodeFailed(m)", "ExecutionFailed"]);
  assert(events[0].type === "NodeFailed" && events[0].retryable === false);
  assert(events[1].type === "ExecutionFailed");
  assertEquals(events[1].error, { code: "bad_input", message: "m failed", nodeId: "m" });
  assertStrictEquals(run.state.status, "failed");
  assertEquals(pendingTimers(run.state), []);
  run.checkHistory();
});

Deno.test("retry: a stale or duplicate completion is ignored", () => {
  const run = new Run(plan([src("s"), map("m", { retry: RETRY })], [edge("s", "m")]));
  run.ok(START);
  run.ok(run.complete("s"));
  const staleComplete = run.complete("m");
  run.ok(run.fail("m", true), 2000);
  assertEquals(run.ok(staleComplete, 2050), [], "attempt 1 completing while waiting for the retry");
  run.ok(fire("retry:m:2"), 2100);
  assertEquals(run.ok(staleComplete, 2150), [], "attempt 1 completing while attempt 2 runs");
  assertEquals(run.ok({ ...staleComplete, attempt: 3 }, 2150), [], "an attempt that has not started");
  const done = run.complete("m");
  assertEquals(run.ok(done, 2200).map(label), ["NodeSucceeded(m)", "ExecutionSucceeded"]);
  assertEquals(run.ok(done, 2300), [], "a duplicate completion");
  run.checkHistory();
});

// ---- node timeout

Deno.test("node timeout: the timer fails the attempt with node_timeout; a late completion is ignored", () => {
  const run = new Run(
    plan(
      [src("s"), map("m", { timeoutMs: 500, retry: { maxAttempts: 2, initialIntervalMs: 0 } })],
      [edge("s", "m")],
    ),
  );
  run.ok(START);
  run.ok(run.complete("s"), 1000);
  const started = run.events.at(-1);
  assert(started?.type === "NodeStarted");
  assertStrictEquals(started.timeoutAt, 1500);
  assertEquals(pendingTimers(run.state), [{
    id: "node-timeout:m:1",
    kind: "node-timeout",
    dueAt: 1500,
    nodeId: "m",
  }]);
  const late = run.complete("m");

  assertEquals(run.ok(fire("node-timeout:m:1"), 1499), []);
  const timedOut = run.ok(fire("node-timeout:m:1"), 1500);
  assertEquals(timedOut.map(label), ["TimerFired", "NodeFailed(m)", "NodeRetryScheduled(m)"]);
  assert(timedOut[0].type === "TimerFired" && timedOut[0].timerId === "node-timeout:m:1");
  assert(timedOut[1].type === "NodeFailed");
  assertStrictEquals(timedOut[1].error.code, "node_timeout");
  assertStrictEquals(timedOut[1].attempt, 1);
  assertStrictEquals(timedOut[1].retryable, true);
  assert(timedOut[2].type === "NodeRetryScheduled" && timedOut[2].dueAt === 1500);

  assertEquals(run.ok(late, 1501), [], "the old attempt's late completion");
  run.ok(fire("retry:m:2"), 1600);
  const restarted = run.events.at(-1);
  assert(restarted?.type === "NodeStarted" && restarted.attempt === 2 && restarted.timeoutAt === 2100);
  assertEquals(run.ok(late, 1700), [], "still stale while attempt 2 runs");
  assertEquals(run.ok(fire("node-timeout:m:1"), 1700), [], "the old attempt's timer is gone");
  assertEquals(run.labels(run.complete("m"), 1800), ["NodeSucceeded(m)", "ExecutionSucceeded"]);
  assertEquals(run.ok(fire("node-timeout:m:2"), 2100), [], "no timeout after completion");
  run.checkHistory();
});

Deno.test("node timeout: on the last attempt it fails the execution with node_timeout", () => {
  const run = new Run(
    plan([src("s"), map("m", { timeoutMs: 100, retry: { maxAttempts: 1 } })], [edge("s", "m")]),
  );
  run.ok(START);
  run.ok(run.complete("s"));
  const events = run.ok(fire("node-timeout:m:1"), 1100);
  assertEquals(events.map(label), ["TimerFired", "NodeFailed(m)", "ExecutionFailed"]);
  assert(events[2].type === "ExecutionFailed");
  assertStrictEquals(events[2].error.code, "node_timeout");
  assertStrictEquals(events[2].error.nodeId, "m");
});

// ---- execution timeout

Deno.test("execution timeout: ExecutionTimedOut at due; unfinished nodes show as cancelled", () => {
  const run = new Run(
    plan([src("s"), map("m"), sink("k")], [edge("s", "m"), edge("m", "k")], { timeoutMs: 5000 }),
  );
  const started = run.ok(START, 1000);
  assert(started[0].type === "ExecutionStarted" && started[0].timeoutAt === 6000);
  run.ok(run.complete("s"), 2000);
  assertEquals(pendingTimers(run.state), [{
    id: "execution-timeout",
    kind: "execution-timeout",
    dueAt: 6000,
  }]);
  assertEquals(run.ok(fire("execution-timeout"), 5999), []);
  assertEquals(run.labels(fire("execution-timeout"), 6000), ["TimerFired", "ExecutionTimedOut"]);
  run.checkHistory();

  const view = executionView(run.state);
  assertStrictEquals(view.status, "timed_out");
  assertEquals(view.endTime, 6000);
  assertStrictEquals(view.error?.code, "execution_timeout");
  assertEquals(view.nodes.map((n) => [n.nodeId, n.status, n.endTime]), [
    ["s", "completed", 2000],
    ["m", "cancelled", 6000],
    ["k", "cancelled", null],
  ]);
  assertEquals(pendingTimers(run.state), []);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });
  assertEquals(run.ok(run.complete("m"), 6001), [], "a late result after the timeout");
  assertStrictEquals(run.rejected({ type: "Cancel", reason: "too late" }), "execution_terminal");
});

Deno.test("execution timeout: Start's timeoutMs overrides the workflow's", () => {
  const p = plan([src("s")], [], { timeoutMs: 5000 });
  const run = new Run(p);
  const events = run.ok({ type: "Start", input: null, timeoutMs: 100 }, 1000);
  assert(events[0].type === "ExecutionStarted" && events[0].timeoutAt === 1100);
  const none = new Run(plan([src("s")], []));
  const started = none.ok(START);
  assert(started[0].type === "ExecutionStarted" && started[0].timeoutAt === null);
  assertEquals(pendingTimers(none.state), []);
});

// ---- cancel

Deno.test("cancel: ExecutionCancelled; a second cancel is rejected with execution_terminal", () => {
  const run = new Run(
    plan([src("s"), map("m", { retry: RETRY }), sink("k")], [edge("s", "m"), edge("m", "k")]),
  );
  run.ok(START);
  run.ok(run.complete("s"), 1500);
  const cancelled = run.ok({ type: "Cancel", reason: "user asked" }, 2000);
  assertEquals(cancelled.map(label), ["ExecutionCancelled"]);
  assert(cancelled[0].type === "ExecutionCancelled" && cancelled[0].reason === "user asked");
  const view = executionView(run.state);
  assertStrictEquals(view.status, "cancelled");
  assertEquals(view.error, { code: "cancelled", message: "user asked" });
  assertEquals(view.nodes.map((n) => n.status), ["completed", "cancelled", "cancelled"]);

  assertStrictEquals(run.rejected({ type: "Cancel", reason: "again" }, 2100), "execution_terminal");
  assertStrictEquals(run.rejected({ type: "Signal", name: "x", payload: null }), "execution_terminal");
  assertEquals(run.ok(run.complete("m")), [], "late results are ignored");
  assertEquals(run.ok(fire("retry:m:2")), []);
  assertEquals(run.ok({ type: "StartNode", nodeId: "k" }), []);
  assertStrictEquals(run.rejected(START), "already_started");
  run.checkHistory();
});

Deno.test("cancel: a waiting retry is cancelled too and its timer disappears", () => {
  const run = new Run(plan([src("s")], []));
  run.ok(START);
  run.ok(run.fail("s", true), 1000);
  assertStrictEquals(pendingTimers(run.state).length, 1);
  run.ok({ type: "Cancel", reason: "stop" }, 1001);
  assertEquals(pendingTimers(run.state), []);
  assertStrictEquals(run.node("s").status, "cancelled");
});

// ---- signals

function signalPlan(): Plan {
  return plan([src("s"), wait("w", "approve"), sink("k")], [edge("s", "w"), edge("w", "k")]);
}

Deno.test("signal: a signal.wait node completes on its Signal", () => {
  const run = new Run(signalPlan());
  run.ok(START);
  assertEquals(run.labels(run.complete("s"), 1100), [
    "NodeSucceeded(s)",
    "NodeScheduled(w)",
    "NodeStarted(w)",
  ]);
  const started = run.events.at(-1);
  assert(started?.type === "NodeStarted" && started.awaitSignal === "approve");
  assertEquals(
    pendingWork(run.state),
    { toStart: [], toRun: [], toExpand: [], toCollect: [] },
    "the runtime runs nothing for it",
  );
  assertEquals(pendingTimers(run.state), []);
  const events = run.ok({ type: "Signal", name: "approve", payload: { by: "ann" } }, 1200);
  assertEquals(events.map(label), ["SignalReceived", "NodeSucceeded(w)", "NodeScheduled(k)"]);
  assertEquals(events[0], {
    type: "SignalReceived",
    v: EVENT_VERSION,
    seq: events[0].seq,
    at: 1200,
    name: "approve",
    payload: { by: "ann" },
  });
  assert(events[1].type === "NodeSucceeded" && events[1].outputRef === null && events[1].attempt === 1);
  run.ok(run.complete("k"));
  assertStrictEquals(run.state.status, "completed");
  run.checkHistory();
});

Deno.test("signal: a signal sent before the node starts is remembered", () => {
  const run = new Run(signalPlan());
  run.ok(START);
  assertEquals(run.ok({ type: "Signal", name: "approve", payload: null }, 1050).map(label), [
    "SignalReceived",
  ]);
  assertEquals(run.state.signals, ["approve"]);
  assertEquals(run.labels(run.complete("s"), 1100), [
    "NodeSucceeded(s)",
    "NodeScheduled(w)",
    "NodeStarted(w)",
    "NodeSucceeded(w)",
    "NodeScheduled(k)",
    "NodeStarted(k)",
  ]);
  // A repeated signal is recorded but remembered once.
  run.ok({ type: "Signal", name: "approve", payload: 2 });
  assertEquals(run.state.signals, ["approve"]);
  run.checkHistory();
});

Deno.test("signal: an unknown signal name is rejected with signal_unknown", () => {
  const run = new Run(signalPlan());
  run.ok(START);
  const before = run.events.length;
  assertStrictEquals(run.rejected({ type: "Signal", name: "nope", payload: null }), "signal_unknown");
  assertStrictEquals(run.events.length, before);
  assertEquals(run.state.signals, []);
});

// ---- delay

Deno.test("delay: wakeAt = now + durationMs; it completes only when its timer fires at due", () => {
  const run = new Run(
    plan([src("s"), delay("d", { durationMs: 250 }), sink("k")], [edge("s", "d"), edge("d", "k")]),
  );
  run.ok(START);
  assertEquals(run.labels(run.complete("s"), 2000), [
    "NodeSucceeded(s)",
    "NodeScheduled(d)",
    "NodeStarted(d)",
  ]);
  const started = run.events.at(-1);
  assert(started?.type === "NodeStarted" && started.wakeAt === 2250 && started.timeoutAt === null);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });
  assertEquals(pendingTimers(run.state), [{ id: "delay:d:1", kind: "delay", dueAt: 2250, nodeId: "d" }]);
  assertEquals(run.ok(fire("delay:d:1"), 2249), []);
  assertStrictEquals(run.state.nodes.d.status, "running");
  assertEquals(run.labels(fire("delay:d:1"), 2250), [
    "TimerFired",
    "NodeSucceeded(d)",
    "NodeScheduled(k)",
    "NodeStarted(k)",
  ]);
  const succeeded = run.events.find((e) => e.type === "NodeSucceeded" && e.nodeId === "d");
  assert(succeeded?.type === "NodeSucceeded" && succeeded.outputRef === null);
  assertEquals(run.ok(fire("delay:d:1"), 2300), [], "fires once");
  run.ok(run.complete("k"));
  assertStrictEquals(run.state.status, "completed");
  run.checkHistory();
});

Deno.test("delay: a duration string and a zero delay", () => {
  const run = new Run(plan([src("s"), delay("d", { duration: "2s" })], [edge("s", "d")]));
  run.ok(START);
  run.ok(run.complete("s"), 1000);
  assertEquals(pendingTimers(run.state).map((t) => t.dueAt), [3000]);

  const zero = new Run(plan([src("s"), delay("d", { durationMs: 0 })], [edge("s", "d")]));
  zero.ok(START);
  zero.ok(zero.complete("s"), 1000);
  assertEquals(zero.labels(fire("delay:d:1")), ["TimerFired", "NodeSucceeded(d)", "ExecutionSucceeded"]);
});

// ---- rejections

Deno.test("Start twice is rejected with already_started", () => {
  const run = new Run(plan([src("s")], []));
  run.ok(START);
  const before = run.state;
  assertStrictEquals(run.rejected(START), "already_started");
  assertStrictEquals(run.state, before);
});

Deno.test("commands before Start are rejected with not_started", () => {
  const p = plan([src("s"), wait("w", "go")], [edge("s", "w")]);
  const state = initialState("ex-1", p);
  const commands: Command[] = [
    { type: "StartNode", nodeId: "s" },
    {
      type: "CompleteNode",
      nodeId: "s",
      attempt: 1,
      outputRef: null,
      recordsProcessed: 0,
      recordsEmitted: 0,
    },
    { type: "FailNode", nodeId: "s", attempt: 1, error: { code: "x", message: "x" }, retryable: true },
    { type: "FireTimer", timerId: "execution-timeout" },
    { type: "Signal", name: "go", payload: null },
    { type: "Cancel", reason: "no" },
  ];
  for (const command of commands) {
    const decision = decide(state, command, 1000);
    assert(!decision.ok, command.type);
    assertStrictEquals(decision.rejection.code, "not_started", command.type);
  }
});

Deno.test("unknown nodes are rejected with unknown_node; StartNode of an unscheduled node does nothing", () => {
  const run = new Run(plan([src("s"), map("m")], [edge("s", "m")]), false);
  run.ok(START);
  assertStrictEquals(run.rejected({ type: "StartNode", nodeId: "ghost" }), "unknown_node");
  assertStrictEquals(
    run.rejected({
      type: "CompleteNode",
      nodeId: "ghost",
      attempt: 1,
      outputRef: null,
      recordsProcessed: 0,
      recordsEmitted: 0,
    }),
    "unknown_node",
  );
  assertEquals(run.ok({ type: "StartNode", nodeId: "m" }), [], "m is not scheduled yet");
  assertEquals(run.ok({ type: "StartNode", nodeId: "s" }).map(label), ["NodeStarted(s)"]);
  assertEquals(run.ok({ type: "StartNode", nodeId: "s" }), [], "starting twice does nothing");
  assertEquals(run.ok(fire("no-such-timer")), []);
});

// ---- view

Deno.test("view: scheduled shows as pending, waiting_retry as running", () => {
  const run = new Run(plan([src("s"), map("m")], [edge("s", "m")]), false);
  run.ok(START);
  assertStrictEquals(run.state.nodes.s.status, "scheduled");
  assertStrictEquals(run.node("s").status, "pending");
  assertStrictEquals(run.node("m").status, "pending");
  run.ok({ type: "StartNode", nodeId: "s" }, 1010);
  assertStrictEquals(run.node("s").status, "running");
  assertStrictEquals(run.node("s").startTime, 1010);
  run.ok(run.fail("s", true), 1020);
  assertStrictEquals(run.state.nodes.s.status, "waiting_retry");
  const waiting = run.node("s");
  assertStrictEquals(waiting.status, "running");
  assertStrictEquals(waiting.attempts, 1);
  assertEquals(waiting.error, { code: "boom", message: "s failed" });
  assertStrictEquals(waiting.endTime, null);
  assertStrictEquals(executionView(run.state).status, "running");
  run.ok(fire("retry:s:2"), 2020);
  assertStrictEquals(run.state.nodes.s.status, "scheduled");
  assertStrictEquals(run.node("s").status, "pending");
  run.checkHistory();
});
