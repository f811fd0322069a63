/**
 * The control kinds (`switch`, `terminate`, `workflow.run`, `foreach`) as validation and compilation see
 * them, and the workflow's `concurrency` field.
 */
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { findKind } from "./catalog.ts";
import {
  CONTROL_KINDS,
  FOREACH_MAX_CONCURRENCY,
  FOREACH_MAX_ITEMS,
  MAX_SWITCH_CASES,
  SWITCH_DEFAULT,
  switchHandles,
} from "./catalog_control.ts";
import { compilePlan } from "./plan.ts";
import type { Problem } from "./schema.ts";
import { validateWorkflow } from "./validate.ts";
import type { WorkflowEdge, WorkflowNode } from "./workflow.ts";

const src: WorkflowNode = { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } };
const sink = (id: string): WorkflowNode => ({ id, type: "sink", nodeType: "memory.collect", config: {} });
const control = (id: string, nodeType: string, config: unknown): WorkflowNode =>
  ({ id, type: "control", nodeType, config }) as WorkflowNode;
const sw = (cases: unknown) => control("s", "switch", { cases });

function problems(
  nodes: WorkflowNode[],
  edges: WorkflowEdge[] = [],
  extra: Record<string, unknown> = {},
): string[] {
  const result = validateWorkflow({ id: "w", name: "w", nodes, edges, ...extra });
  return result.ok ? [] : result.problems.map((p: Problem) => `${p.code} @ ${p.path}`);
}

Deno.test("catalog: the four control kinds are known, with their behaviours", () => {
  assertEquals(
    CONTROL_KINDS.map((k) => [k.nodeType, k.behaviour]),
    [["switch", "condition"], ["terminate", "terminate"], ["workflow.run", "children"], [
      "foreach",
      "children",
    ]],
  );
  for (const k of CONTROL_KINDS) assertStrictEquals(findKind("control", k.nodeType), k);
  assertEquals(findKind("control", "terminate")?.outputs, [], "terminate ends a branch");
});

Deno.test("switch: its handles are its cases' in order, then default", () => {
  assertEquals(switchHandles({ cases: [{ handle: "x", when: "1" }, { handle: "y", when: "2" }] }), [
    "x",
    "y",
    SWITCH_DEFAULT,
  ]);
  assertEquals(
    switchHandles({ cases: [{ handle: "x" }, null, "z"] }),
    [SWITCH_DEFAULT],
    "malformed cases drop out",
  );
  assertEquals(switchHandles({}), [SWITCH_DEFAULT]);
});

Deno.test("switch validation: empty cases, too many, a repeated handle, default as a handle, a missing when", () => {
  assertEquals(problems([src, sw([])], [{ source: "a", target: "s" }]), [
    "config_range @ $.nodes[1].config.cases",
  ]);
  const many = Array.from({ length: MAX_SWITCH_CASES + 1 }, (_, i) => ({ handle: `h${i}`, when: "true" }));
  assert(
    problems([src, sw(many)]).some((p) => p.endsWith("$.nodes[1].config.cases")),
    "more than the most cases",
  );
  assertEquals(problems([src, control("s", "switch", {})]), ["config_missing @ $.nodes[1].config.cases"]);
  assertEquals(
    problems([
      src,
      sw([
        { handle: "x", when: "value > 1" },
        { handle: "x", when: "true" },
        { handle: "default", when: "true" },
        { handle: "y" },
        { handle: "bad handle!", when: "true" },
        "no",
        { handle: "z", when: "  " },
      ]),
    ]),
    [
      "config_range @ $.nodes[1].config.cases[1].handle",
      "config_type @ $.nodes[1].config.cases[2].handle",
      "config_type @ $.nodes[1].config.cases[3].when",
      "config_type @ $.nodes[1].config.cases[4].handle",
      "config_type @ $.nodes[1].config.cases[5]",
      "config_type @ $.nodes[1].config.cases[6].when",
    ],
  );
});

Deno.test("switch edges: case handles and default are accepted; an unknown or missing handle is refused", () => {
  const s = sw([{ handle: "big", when: "value > 10" }, { handle: "small", when: "value < 2" }]);
  const nodes = [src, s, sink("k1"), sink("k2"), sink("k3")];
  const ok: WorkflowEdge[] = [
    { source: "a", target: "s" },
    { source: "s", target: "k1", sourceHandle: "big" },
    { source: "s", target: "k2", sourceHandle: "small" },
    { source: "s", target: "k3", sourceHandle: "default" },
  ];
  assertEquals(problems(nodes, ok), []);
  assertEquals(problems(nodes, [...ok, { source: "s", target: "k1", sourceHandle: "medium" }]), [
    "unknown_handle @ $.edges[4].sourceHandle",
  ]);
  assertEquals(problems(nodes, [...ok, { source: "s", target: "k2" }]), [
    "unknown_handle @ $.edges[4].sourceHandle",
  ]);
  // A handle of another node's switch is not this one's.
  assertEquals(problems(nodes, [...ok, { source: "s", target: "k1", sourceHandle: "true" }]), [
    "unknown_handle @ $.edges[4].sourceHandle",
  ]);

  const result = validateWorkflow({ id: "w", name: "w", nodes, edges: ok });
  assert(result.ok);
  const plan = compilePlan(result.workflow, 1);
  const node = plan.byId.get("s")!;
  assertEquals([node.behaviour, node.handles], ["condition", ["big", "small", "default"]]);
  assertEquals(
    node.children.map((e) => e.sourceHandle),
    ["big", "small", "default"],
    "edges keep their handle",
  );
});

Deno.test("terminate: status defaults to completed, reason to terminated; no edge may leave it", () => {
  const result = validateWorkflow({
    id: "w",
    name: "w",
    nodes: [
      src,
      control("t", "terminate", {}),
      control("u", "terminate", { status: "failed", reason: "no" }),
    ],
    edges: [{ source: "a", target: "t" }, { source: "a", target: "u" }],
  });
  assert(result.ok, JSON.stringify(!result.ok && result.problems));
  const plan = compilePlan(result.workflow, 1);
  assertEquals(plan.byId.get("t")!.terminate, { status: "completed", reason: "terminated" });
  assertEquals(plan.byId.get("u")!.terminate, { status: "failed", reason: "no" });
  assertEquals(problems([src, control("t", "terminate", { status: "maybe" })]), [
    "config_enum @ $.nodes[1].config.status",
  ]);
  assertEquals(
    problems([src, control("t", "terminate", {}), sink("k")], [{ source: "a", target: "t" }, {
      source: "t",
      target: "k",
    }]),
    ["sink_has_output @ $.edges[1].source"],
  );
});

Deno.test("foreach and workflow.run: defaults, bounds, failure policy, a required workflow", () => {
  const result = validateWorkflow({
    id: "w",
    name: "w",
    nodes: [
      src,
      control("f", "foreach", { workflow: "child" }),
      control("g", "foreach", {
        workflow: "child",
        version: 3,
        maxConcurrency: 50,
        maxItems: 1000,
        failurePolicy: "continue",
        toleratedFailureCount: 5,
      }),
      control("h", "foreach", { workflow: "child", failurePolicy: "continue" }),
      control("r", "workflow.run", { workflow: "child", version: 2 }),
    ],
    edges: [{ source: "a", target: "f" }, { source: "a", target: "g" }, { source: "a", target: "h" }, {
      source: "a",
      target: "r",
    }],
  });
  assert(result.ok, JSON.stringify(!result.ok && result.problems));
  const plan = compilePlan(result.workflow, 1);
  assertEquals(plan.byId.get("f")!.subflow, {
    each: true,
    workflowId: "child",
    version: null,
    maxConcurrency: FOREACH_MAX_CONCURRENCY.default,
    maxItems: FOREACH_MAX_ITEMS.default,
    toleratedFailures: 0,
  });
  assertEquals(plan.byId.get("g")!.subflow, {
    each: true,
    workflowId: "child",
    version: 3,
    maxConcurrency: 50,
    maxItems: 1000,
    toleratedFailures: 5,
  });
  assertStrictEquals(
    plan.byId.get("h")!.subflow!.toleratedFailures,
    Number.MAX_SAFE_INTEGER,
    "continue: no limit",
  );
  assertEquals(plan.byId.get("r")!.subflow, {
    each: false,
    workflowId: "child",
    version: 2,
    maxConcurrency: 1,
    maxItems: 1,
    toleratedFailures: 0,
  });
  assertStrictEquals(plan.allLocal, false, "children nodes are not local");

  assertEquals(problems([src, control("f", "foreach", {})]), ["config_missing @ $.nodes[1].config.workflow"]);
  assertEquals(problems([src, control("f", "foreach", { workflow: "c", maxConcurrency: 0 })]), [
    "config_range @ $.nodes[1].config.maxConcurrency",
  ]);
  assertEquals(
    problems([
      src,
      control("f", "foreach", { workflow: "c", maxConcurrency: FOREACH_MAX_CONCURRENCY.max + 1 }),
    ]),
    ["config_range @ $.nodes[1].config.maxConcurrency"],
  );
  assertEquals(
    problems([src, control("f", "foreach", { workflow: "c", maxItems: FOREACH_MAX_ITEMS.max + 1 })]),
    [
      "config_range @ $.nodes[1].config.maxItems",
    ],
  );
  assertEquals(problems([src, control("f", "foreach", { workflow: "c", failurePolicy: "sometimes" })]), [
    "config_enum @ $.nodes[1].config.failurePolicy",
  ]);
  assertEquals(
    problems([
      src,
      control("f", "foreach", { workflow: "c", failurePolicy: "fail_fast", toleratedFailureCount: 1 }),
    ]),
    ["config_range @ $.nodes[1].config.toleratedFailureCount"],
  );
  assertEquals(problems([src, control("r", "workflow.run", { workflow: "c", version: 0 })]), [
    "config_range @ $.nodes[1].config.version",
  ]);
});

Deno.test("workflow concurrency: {key, limit} is checked and compiled into the plan", () => {
  const ok = validateWorkflow({
    id: "w",
    name: "w",
    nodes: [src],
    edges: [],
    concurrency: { key: "input.c", limit: 3 },
  });
  assert(ok.ok);
  assertEquals(compilePlan(ok.workflow, 1).concurrency, { key: "input.c", limit: 3 });
  const none = validateWorkflow({ id: "w", name: "w", nodes: [src], edges: [] });
  assert(none.ok);
  assertStrictEquals(compilePlan(none.workflow, 1).concurrency, null);

  const bad = (concurrency: unknown) => problems([src], [], { concurrency });
  assertEquals(bad("input.c"), ["type @ $.concurrency"]);
  assertEquals(bad({ key: "", limit: 0 }), [
    "config_range @ $.concurrency.key",
    "config_range @ $.concurrency.limit",
  ]);
  assertEquals(bad({ limit: 1 }), ["required @ $.concurrency.key"]);
  assertEquals(bad({ key: "input.c" }), ["config_range @ $.concurrency.limit"]);
  assertEquals(bad({ key: "input.c", limit: 1.5 }), ["config_range @ $.concurrency.limit"]);
  assertEquals(bad({ key: "input.c", limit: 10_001 }), ["config_range @ $.concurrency.limit"]);
  assertEquals(bad({ key: "x".repeat(1001), limit: 1 }), ["config_range @ $.concurrency.key"]);
  assertEquals(bad({ key: 7, limit: 1 }).map((p) => p.split(" @ ")[1]), ["$.concurrency.key"]);
});
