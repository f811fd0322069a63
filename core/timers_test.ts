import { assert, assertEquals } from "../testing/assert.ts";
import { type Command, decide } from "./decide.ts";
import { compilePlan, type Plan } from "./plan.ts";
import { evolve, type ExecutionState, initialState } from "./state.ts";
import { pendingTimers, pendingWork } from "./timers.ts";
import type { WorkflowDefinition } from "./workflow.ts";

/** s → m (timeout 500, retry 100 ms) → d (delay 300) → w (signal "go"); s → c (condition) → k (on true). */
function timersPlan(timeoutMs?: number): Plan {
  const def: WorkflowDefinition = {
    id: "wf-t",
    name: "timers",
    nodes: [
      { id: "s", type: "source", nodeType: "memory.collection", config: { data: [1] } },
      {
        id: "m",
        type: "transform",
        nodeType: "map",
        config: { expression: "value" },
        timeoutMs: 500,
        retry: { maxAttempts: 3, initialIntervalMs: 100, backoffCoefficient: 2, maxIntervalMs: 1000 },
      },
      { id: "d", type: "control", nodeType: "delay", config: { durationMs: 300 }, timeoutMs: 1000 },
      { id: "w", type: "control", nodeType: "signal.wait", config: { name: "go" } },
      { id: "c", type: "control", nodeType: "condition", config: { condition: "true" } },
      { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "s", target: "m" },
      { source: "m", target: "d" },
      { source: "d", target: "w" },
      { source: "s", target: "c" },
      { source: "c", target: "k", sourceHandle: "true" },
    ],
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
  return compilePlan(def, 1);
}

/** Applies `command` at `now`; asserts it was accepted. */
function step(state: ExecutionState, command: Command, now: number): ExecutionState {
  const decision = decide(state, command, now);
  assert(decision.ok, decision.ok ? "" : decision.rejection.code);
  return decision.events.reduce((s, ev) => evolve(s, ev), state);
}

const complete = (state: ExecutionState, nodeId: string, handle?: string): Command => ({
  type: "CompleteNode",
  nodeId,
  attempt: state.nodes[nodeId].attempts,
  outputRef: null,
  recordsProcessed: 1,
  recordsEmitted: 1,
  ...(handle === undefined ? {} : { handle }),
});

Deno.test("pendingTimers/pendingWork: nothing before Start", () => {
  const state = initialState("ex", timersPlan(5000));
  assertEquals(pendingTimers(state), []);
  assertEquals(pendingWork(state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });
});

Deno.test("pendingWork: scheduled nodes to start, running task and condition nodes to run", () => {
  let state = step(initialState("ex", timersPlan()), { type: "Start", input: null }, 1000);
  assertEquals(pendingWork(state), { toStart: ["s"], toRun: [], toExpand: [], toCollect: [] });
  state = step(state, { type: "StartNode", nodeId: "s" }, 1000);
  assertEquals(pendingWork(state), {
    toStart: [],
    toRun: [{ nodeId: "s", attempt: 1 }],
    toExpand: [],
    toCollect: [],
  });
  state = step(state, complete(state, "s"), 1100);
  assertEquals(
    pendingWork(state),
    { toStart: ["m", "c"], toRun: [], toExpand: [], toCollect: [] },
    "in node order",
  );
  state = step(state, { type: "StartNode", nodeId: "c" }, 1100);
  state = step(state, { type: "StartNode", nodeId: "m" }, 1100);
  assertEquals(pendingWork(state), {
    toStart: [],
    toRun: [{ nodeId: "m", attempt: 1 }, { nodeId: "c", attempt: 1 }],
    toExpand: [],
    toCollect: [],
  });
  state = step(state, complete(state, "m"), 1200);
  state = step(state, { type: "StartNode", nodeId: "d" }, 1200);
  assertEquals(pendingWork(state).toRun, [{ nodeId: "c", attempt: 1 }], "a delay node is not run");
  state = step(state, { type: "FireTimer", timerId: "delay:d:1" }, 1500);
  state = step(state, { type: "StartNode", nodeId: "w" }, 1500);
  assertEquals(pendingWork(state).toRun, [{ nodeId: "c", attempt: 1 }], "a signal node is not run");
  state = step(state, { type: "Cancel", reason: "stop" }, 1600);
  assertEquals(
    pendingWork(state),
    { toStart: [], toRun: [], toExpand: [], toCollect: [] },
    "a finished execution has no work",
  );
});

Deno.test("pendingTimers: execution timeout, node timeout, retry and delay timers, earliest first", () => {
  let state = step(initialState("ex", timersPlan(10_000)), { type: "Start", input: null }, 1000);
  assertEquals(pendingTimers(state), [{ id: "execution-timeout", kind: "execution-timeout", dueAt: 11_000 }]);
  state = step(state, { type: "StartNode", nodeId: "s" }, 1000);
  state = step(state, complete(state, "s"), 1000);
  state = step(state, { type: "StartNode", nodeId: "m" }, 1000);
  assertEquals(pendingTimers(state), [
    { id: "node-timeout:m:1", kind: "node-timeout", dueAt: 1500, nodeId: "m" },
    { id: "execution-timeout", kind: "execution-timeout", dueAt: 11_000 },
  ]);

  // A failure turns the node timeout into a retry timer for the next attempt.
  state = step(state, {
    type: "FailNode",
    nodeId: "m",
    attempt: 1,
    error: { code: "x", message: "x" },
    retryable: true,
  }, 1200);
  assertEquals(pendingTimers(state), [
    { id: "retry:m:2", kind: "retry", dueAt: 1300, nodeId: "m" },
    { id: "execution-timeout", kind: "execution-timeout", dueAt: 11_000 },
  ]);
  state = step(state, { type: "FireTimer", timerId: "retry:m:2" }, 1300);
  assertEquals(pendingTimers(state).map((t) => t.id), ["execution-timeout"], "scheduled: no timer yet");
  state = step(state, { type: "StartNode", nodeId: "m" }, 1300);
  assertEquals(pendingTimers(state)[0], {
    id: "node-timeout:m:2",
    kind: "node-timeout",
    dueAt: 1800,
    nodeId: "m",
  });

  // A delay node with a timeout has both timers.
  state = step(state, complete(state, "m"), 1400);
  state = step(state, { type: "StartNode", nodeId: "d" }, 1400);
  assertEquals(pendingTimers(state), [
    { id: "delay:d:1", kind: "delay", dueAt: 1700, nodeId: "d" },
    { id: "node-timeout:d:1", kind: "node-timeout", dueAt: 2400, nodeId: "d" },
    { id: "execution-timeout", kind: "execution-timeout", dueAt: 11_000 },
  ]);
  state = step(state, { type: "FireTimer", timerId: "execution-timeout" }, 11_000);
  assertEquals(state.status, "timed_out");
  assertEquals(pendingTimers(state), [], "a finished execution waits on nothing");
});

Deno.test("pendingTimers: ties on dueAt are ordered by id; ids are stable across unrelated events", () => {
  const def: WorkflowDefinition = {
    id: "wf-tie",
    name: "tie",
    nodes: [
      { id: "s", type: "source", nodeType: "memory.collection", config: { data: [] } },
      { id: "b", type: "control", nodeType: "delay", config: { durationMs: 100 } },
      { id: "a", type: "control", nodeType: "delay", config: { durationMs: 100 } },
      { id: "t", type: "transform", nodeType: "map", config: { expression: "value" } },
    ],
    edges: [{ source: "s", target: "b" }, { source: "s", target: "a" }, { source: "s", target: "t" }],
  };
  let state = step(initialState("ex", compilePlan(def, 1)), { type: "Start", input: null }, 0);
  state = step(state, { type: "StartNode", nodeId: "s" }, 0);
  state = step(state, complete(state, "s"), 0);
  for (const id of ["b", "a", "t"]) state = step(state, { type: "StartNode", nodeId: id }, 0);
  const before = pendingTimers(state);
  assertEquals(before.map((t) => t.id), ["delay:a:1", "delay:b:1"]);
  state = step(state, complete(state, "t"), 50);
  assertEquals(pendingTimers(state), before);
  state = step(state, { type: "FireTimer", timerId: "delay:b:1" }, 100);
  assertEquals(pendingTimers(state).map((t) => t.id), ["delay:a:1"]);
});

Deno.test("pendingTimers: a signal node waits on no timer unless it has a timeout", () => {
  let state = step(initialState("ex", timersPlan()), { type: "Start", input: null }, 0);
  state = step(state, { type: "StartNode", nodeId: "s" }, 0);
  state = step(state, complete(state, "s"), 0);
  state = step(state, { type: "StartNode", nodeId: "m" }, 0);
  state = step(state, complete(state, "m"), 0);
  state = step(state, { type: "StartNode", nodeId: "d" }, 0);
  state = step(state, { type: "FireTimer", timerId: "delay:d:1" }, 300);
  state = step(state, { type: "StartNode", nodeId: "w" }, 300);
  assertEquals(state.nodes.w.status, "running");
  assertEquals(pendingTimers(state), []);
});
