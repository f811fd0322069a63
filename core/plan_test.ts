import { assert, assertEquals, assertStrictEquals, assertThrows } from "../testing/assert.ts";
import { compilePlan, DEFAULT_TARGET_HANDLE } from "./plan.ts";
import { DEFAULT_RETRY_POLICY } from "./policy.ts";
import { validateWorkflow } from "./validate.ts";
import type { WorkflowDefinition } from "./workflow.ts";

function definition(): WorkflowDefinition {
  return {
    id: "wf-plan",
    name: "plan",
    timeoutMs: 60_000,
    retentionMs: 0,
    nodes: [
      { id: "s1", type: "source", nodeType: "memory.collection", config: { data: [1] } },
      { id: "s2", type: "source", nodeType: "sequence.numbers", config: { end: 3 } },
      { id: "c", type: "control", nodeType: "condition", config: { condition: "value > 1" } },
      {
        id: "m",
        type: "transform",
        nodeType: "map",
        config: { expression: "value" },
        retry: { maxAttempts: 5 },
        timeoutMs: 2500,
      },
      { id: "d", type: "control", nodeType: "delay", config: { duration: "1m" } },
      { id: "w", type: "control", nodeType: "signal.wait", config: { name: "approve" } },
      { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { id: "e0", source: "s2", target: "m", sourceHandle: "out" },
      { id: "e1", source: "s1", target: "c" },
      { id: "e2", source: "c", target: "m", sourceHandle: "false", targetHandle: "left" },
      { id: "e3", source: "s1", target: "m" },
      { id: "e4", source: "c", target: "d", sourceHandle: "true" },
      { id: "e5", source: "m", target: "k" },
      { id: "e6", source: "d", target: "w" },
      { id: "e7", source: "w", target: "k" },
      { id: "e8", source: "c", target: "k", sourceHandle: "true" },
    ],
  };
}

function compiled() {
  const result = validateWorkflow(definition());
  assert(result.ok, result.ok ? "" : JSON.stringify(result.problems));
  return compilePlan(result.workflow, 7);
}

Deno.test("compilePlan: parents and children in edge order", () => {
  const plan = compiled();
  const m = plan.byId.get("m")!;
  assertEquals(m.parents.map((e) => [e.index, e.source]), [[0, "s2"], [2, "c"], [3, "s1"]]);
  assertEquals(m.children.map((e) => [e.index, e.target]), [[5, "k"]]);
  const c = plan.byId.get("c")!;
  assertEquals(c.children.map((e) => [e.index, e.target]), [[2, "m"], [4, "d"], [8, "k"]]);
  assertEquals(plan.byId.get("s1")!.children.map((e) => e.index), [1, 3]);
  assertEquals(plan.byId.get("k")!.parents.map((e) => [e.index, e.source]), [[5, "m"], [7, "w"], [8, "c"]]);
  assertEquals(plan.byId.get("s2")!.parents, []);
  assertEquals(plan.byId.get("k")!.children, []);
  // One edge object, seen from both ends.
  assertStrictEquals(m.parents[1], c.children[0]);
});

Deno.test("compilePlan: condition edges keep sourceHandle; plain edges get undefined", () => {
  const plan = compiled();
  const edges = plan.nodes.flatMap((n) => n.children).sort((a, b) => a.index - b.index);
  assertEquals(edges.map((e) => [e.source, e.target, e.sourceHandle]), [
    ["s2", "m", undefined], // "out" written out on a plain node
    ["s1", "c", undefined],
    ["c", "m", "false"],
    ["s1", "m", undefined],
    ["c", "d", "true"],
    ["m", "k", undefined],
    ["d", "w", undefined],
    ["w", "k", undefined],
    ["c", "k", "true"],
  ]);
  assertEquals(edges[0], {
    index: 0,
    source: "s2",
    target: "m",
    sourceHandle: undefined,
    targetHandle: "in",
  });
  assertStrictEquals(DEFAULT_TARGET_HANDLE, "in");
  assertStrictEquals(edges[2].targetHandle, "left");
  assert(edges.every((e, i) => i === 2 || e.targetHandle === DEFAULT_TARGET_HANDLE));
});

Deno.test("compilePlan: nodes, behaviours, policies and timeouts", () => {
  const plan = compiled();
  assertStrictEquals(plan.workflowId, "wf-plan");
  assertStrictEquals(plan.version, 7);
  assertStrictEquals(plan.timeoutMs, 60_000);
  assertStrictEquals(plan.retentionMs, 0, "0 (kept forever) is a retention of its own");
  assertEquals(plan.nodes.map((n) => [n.id, n.index, n.behaviour]), [
    ["s1", 0, "task"],
    ["s2", 1, "task"],
    ["c", 2, "condition"],
    ["m", 3, "task"],
    ["d", 4, "delay"],
    ["w", 5, "signal"],
    ["k", 6, "task"],
  ]);
  for (const n of plan.nodes) assertStrictEquals(plan.byId.get(n.id), n);
  const m = plan.byId.get("m")!;
  assertEquals(m.retry, { ...DEFAULT_RETRY_POLICY, maxAttempts: 5 });
  assertStrictEquals(m.timeoutMs, 2500);
  assertStrictEquals(plan.byId.get("k")!.timeoutMs, null);
  assertEquals(plan.byId.get("k")!.retry, DEFAULT_RETRY_POLICY);
  assertStrictEquals(plan.byId.get("d")!.delayMs, 60_000);
  assertStrictEquals(plan.byId.get("m")!.delayMs, 0);
  assertStrictEquals(plan.byId.get("w")!.signalName, "approve");
  assertStrictEquals(plan.byId.get("m")!.signalName, undefined);
  assertEquals([...plan.signals], ["approve"]);
  assertEquals(
    plan.byId.get("s2")!.config,
    { start: 1, end: 3, step: 1 },
    "the validated, normalised config",
  );
});

Deno.test("compilePlan: a delay in durationMs, no workflow timeout or retention", () => {
  const plan = compilePlan({
    id: "wf",
    name: "wf",
    nodes: [
      { id: "s", type: "source", nodeType: "memory.collection", config: { data: [] } },
      { id: "d", type: "control", nodeType: "delay", config: { durationMs: 1500 } },
    ],
    edges: [{ source: "s", target: "d" }],
  }, 1);
  assertStrictEquals(plan.byId.get("d")!.delayMs, 1500);
  assertStrictEquals(plan.timeoutMs, null);
  assertStrictEquals(plan.retentionMs, null, "none of its own: the node's");
  assertEquals([...plan.signals], []);
});

Deno.test("compilePlan: throws on what validation would have rejected", () => {
  assertThrows(
    () =>
      compilePlan({
        id: "wf",
        name: "wf",
        nodes: [{ id: "x", type: "source", nodeType: "nope", config: {} }],
        edges: [],
      }, 1),
    /node kind source\/nope of workflow wf is not defined on this engine/,
  );
  assertThrows(
    () =>
      compilePlan({
        id: "wf",
        name: "wf",
        nodes: [{ id: "s", type: "source", nodeType: "memory.collection", config: { data: [] } }],
        edges: [{ source: "s", target: "ghost" }],
      }, 1),
    /edge 0 names an unknown node/,
  );
});
