/**
 * The old engine's workflow JSON as its UI sent it: its handle names and its
 * numeric strings are accepted and mapped to ours.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { validateWorkflow } from "./validate.ts";
import { conditionSample, oldEngineSample } from "./samples.ts";
import { CATALOG } from "./catalog.ts";
import { checkConfig } from "./schema.ts";
import { compilePlan } from "./plan.ts";
import type { Problem } from "./schema.ts";
import type { WorkflowDefinition } from "./workflow.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

function ok(input: unknown): WorkflowDefinition {
  const r = validateWorkflow(input);
  assert(r.ok, r.ok ? "" : r.problems.map((p) => `${p.code} @ ${p.path}`).join("\n"));
  return r.workflow;
}

function problems(input: unknown): Problem[] {
  const r = validateWorkflow(input);
  assert(!r.ok, "expected the workflow to be refused");
  return r.problems;
}

Deno.test("old JSON: sourceHandle output/source and targetHandle input/target are accepted and stored as ours", () => {
  for (const [sh, th] of [["output", "input"], ["source", "target"]]) {
    const input: Loose = oldEngineSample();
    input.edges[0].sourceHandle = sh;
    input.edges[0].targetHandle = th;
    input.edges[1].sourceHandle = sh;
    const def = ok(input);
    assertEquals(def.edges[0].sourceHandle, "out");
    assertEquals(def.edges[0].targetHandle, "in");
    assertEquals(def.edges[1].sourceHandle, "out");
    assertEquals(def.edges[1].targetHandle, undefined);
    // UI fields round-trip untouched.
    assertEquals((def.edges[0] as Loose).animated, false);
    assertEquals((def.edges[0] as Loose).id, "e1");
    // The plan sees our default target handle.
    const plan = compilePlan(def, 1);
    assertEquals(plan.byId.get("n2")!.parents[0].targetHandle, "in");
  }
});

Deno.test("old JSON: an old handle name and ours for the same edge are one edge (duplicate_edge)", () => {
  const input: Loose = oldEngineSample();
  input.edges.push({ id: "e3", source: "n1", target: "n2", sourceHandle: "output", targetHandle: "input" });
  const found = problems(input);
  assertEquals(found.map((p) => [p.code, p.path]), [["duplicate_edge", "$.edges[2]"]]);
});

Deno.test("old JSON: an unknown handle is still refused; a condition still needs true/false", () => {
  const input: Loose = oldEngineSample();
  input.edges[0].sourceHandle = "outputs";
  assertEquals(problems(input).map((p) => [p.code, p.path]), [["unknown_handle", "$.edges[0].sourceHandle"]]);

  const branch: Loose = conditionSample();
  branch.edges[1].sourceHandle = "output";
  branch.edges[2].sourceHandle = "source";
  const found = problems(branch);
  assertEquals(found.map((p) => [p.code, p.path]), [
    ["unknown_handle", "$.edges[1].sourceHandle"],
    ["unknown_handle", "$.edges[2].sourceHandle"],
  ]);
  assertMatch(found[0].message, /unknown sourceHandle "output".*true, false/);
  // A condition's own edge may still use the old target name.
  const fine: Loose = conditionSample();
  fine.edges[1].targetHandle = "input";
  assertEquals(ok(fine).edges[1].targetHandle, "in");
});

Deno.test("old JSON: a switch case named output keeps its own name", () => {
  const def = ok({
    id: "wf-sw",
    name: "switch",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: {} },
      {
        id: "sw",
        type: "control",
        nodeType: "switch",
        config: { cases: [{ handle: "output", when: "value > 5" }] },
      },
      { id: "a", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "src", target: "sw", sourceHandle: "output" }, {
      source: "sw",
      target: "a",
      sourceHandle: "output",
    }],
  });
  assertEquals(def.edges[0].sourceHandle, "out");
  assertEquals(def.edges[1].sourceHandle, "output");
});

Deno.test("old JSON: every numeric config field of every kind takes a numeric string", () => {
  let fields = 0;
  for (const kind of CATALOG) {
    for (const [key, spec] of Object.entries(kind.config)) {
      if (spec.type !== "number" && spec.type !== "integer") continue;
      fields++;
      const where = `${kind.type}/${kind.nodeType}.${key}`;
      assert(spec.coerce === true, `${where} must set coerce: true (the old UI sent numbers as strings)`);
      const n = spec.min ?? (spec.max !== undefined ? Math.min(spec.max, 1) : 1);
      const r = checkConfig({ [key]: spec }, { [key]: String(n) }, "$.config");
      assertEquals(r.problems, [], where);
      assertEquals(r.config[key], n, where);
    }
  }
  assert(fields >= 10, `only ${fields} numeric fields found`);
});

Deno.test("old JSON: the old engine's sample with numeric strings and aggregate.count validates", () => {
  const input: Loose = oldEngineSample();
  input.nodes[0].config = { start: "1", end: "100", step: "1" };
  input.nodes.splice(2, 0, { id: "c", type: "transform", nodeType: "aggregate.count", config: {} });
  input.edges[1] = { id: "e2", source: "n2", target: "c", sourceHandle: "output", targetHandle: "input" };
  input.edges.push({ id: "e3", source: "c", target: "n3" });
  const def = ok(input);
  assertEquals(def.nodes[0].config, { start: 1, end: 100, step: 1 });
  assertEquals(def.nodes[3].config, { limit: 10 });
});
