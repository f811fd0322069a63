import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../testing/assert.ts";
import { canonicalJson } from "./json.ts";
import type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from "./workflow.ts";
import { diffDefinitions, isEmptyDiff, migrationProblems, type WorkflowDiff } from "./workflow_diff.ts";

function node(id: string, nodeType = "map", extra: Partial<WorkflowNode> = {}): WorkflowNode {
  const type = nodeType === "sequence.numbers"
    ? "source"
    : nodeType === "memory.collect"
    ? "sink"
    : "transform";
  return { id, type, nodeType, config: {}, ...extra };
}

function def(nodes: WorkflowNode[], edges: WorkflowEdge[], extra: Partial<WorkflowDefinition> = {}) {
  return { id: "w", name: "w", nodes, edges, ...extra } as WorkflowDefinition;
}

const base = def(
  [
    node("s", "sequence.numbers", { config: { end: 3 } }),
    node("m", "map", { config: { expression: "value" } }),
    node("t", "memory.collect"),
  ],
  [{ source: "s", target: "m" }, { source: "m", target: "t" }],
  { description: "d", metadata: { a: 1 } },
);

/** A deep copy with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]));
}

Deno.test("diffDefinitions: added, removed and changed nodes with the keys that changed", () => {
  const next = def(
    [
      node("s", "sequence.numbers", { config: { end: 4 }, label: "Numbers" }),
      node("m", "filter", { config: { expression: "value" } }),
      node("u", "memory.collect"),
      node("v", "map"),
    ],
    base.edges,
    { description: "d", metadata: { a: 1 } },
  );
  const d = diffDefinitions(base, next);
  assertEquals(d.nodes, {
    added: ["u", "v"],
    removed: ["t"],
    changed: [{ id: "s", fields: ["config", "label"] }, { id: "m", fields: ["nodeType"] }],
  });
  // The same diff the other way: added and removed swap, the changed keys stay.
  const back = diffDefinitions(next, base);
  assertEquals(back.nodes.added, ["t"]);
  assertEquals(back.nodes.removed, ["u", "v"]);
  assertEquals(back.nodes.changed.map((c) => c.id).sort(), ["m", "s"]);
});

Deno.test("diffDefinitions: edges by their ends (null handles as absent); other edge keys are changes", () => {
  const next = def(base.nodes, [
    { source: "s", target: "m", sourceHandle: null as unknown as string, label: "numbers" },
    { source: "s", target: "t", sourceHandle: "out" },
  ]);
  const d = diffDefinitions(base, next);
  assertEquals(d.edges, {
    added: [{ source: "s", target: "t", sourceHandle: "out" }],
    removed: [{ source: "m", target: "t" }],
    changed: [{ source: "s", target: "m", fields: ["label"] }],
  });
  assertEquals(d.nodes, { added: [], removed: [], changed: [] });
  // A handle given or not is another edge.
  const handled = def(base.nodes, [{ source: "s", target: "m", sourceHandle: "out" }, base.edges[1]]);
  assertEquals(diffDefinitions(base, handled).edges.added, [{
    source: "s",
    target: "m",
    sourceHandle: "out",
  }]);
  assertEquals(diffDefinitions(base, handled).edges.removed, [{ source: "s", target: "m" }]);
});

Deno.test("diffDefinitions: top-level fields, key order and node order do not count", () => {
  const next = def([...base.nodes].reverse(), [...base.edges].reverse(), {
    name: "renamed",
    timeoutMs: 5000,
    metadata: { a: 1 },
  });
  assertEquals(diffDefinitions(base, next).fields, ["description", "name", "timeoutMs"]);
  const reordered = reversedKeys(base) as WorkflowDefinition;
  assertEquals(Object.keys(reordered)[0], "metadata");
  assert(isEmptyDiff(diffDefinitions(base, reordered)), JSON.stringify(diffDefinitions(base, reordered)));
  assert(!isEmptyDiff(diffDefinitions(base, next)));
});

Deno.test("migrationProblems: a completed, running or waiting node must stay, with its type and nodeType", () => {
  const to = def(
    [node("s", "random.numbers", { type: "source" }), node("m", "filter", { config: { x: 1 } })],
    [{ source: "s", target: "m" }],
  );
  const problems = migrationProblems(base, to, { s: "completed", m: "running", t: "waiting" });
  assertEquals(problems.map((p) => [p.path, p.code]), [
    ["$.nodes[0].nodeType", "node_kind_changed"],
    ["$.nodes[1].nodeType", "node_kind_changed"],
    ["$.nodes[2]", "node_removed"],
  ]);
  assert(
    problems[0].message.includes('"sequence.numbers"') && problems[0].message.includes('"random.numbers"'),
  );
  assert(problems[2].message.includes('"t"'), problems[2].message);

  // A type change is named too; pending, skipped, failed and cancelled nodes may go or change.
  const retyped = def([node("s", "sequence.numbers", { type: "transform" }), base.nodes[1]], []);
  assertEquals(migrationProblems(base, retyped, { s: "completed" }).map((p) => p.path), ["$.nodes[0].type"]);
  assertEquals(migrationProblems(base, to, { s: "pending", m: "skipped", t: "failed" }), []);
  assertEquals(migrationProblems(base, def([], []), { s: "cancelled" }), []);
  // A completed node whose config changed keeps its kind: allowed.
  const reconfigured = def(
    [node("s", "sequence.numbers", { config: { end: 99 } }), ...base.nodes.slice(1)],
    [],
  );
  assertEquals(migrationProblems(base, reconfigured, { s: "completed", m: "completed", t: "running" }), []);
});

Deno.test("migrationProblems: another workflow, and nodes the execution names that `from` lacks", () => {
  const other = { ...base, id: "x" };
  assertEquals(migrationProblems(base, other, {}).map((p) => [p.path, p.code]), [[
    "$.id",
    "workflow_mismatch",
  ]]);
  assertEquals(migrationProblems(base, base, { ghost: "completed" }).map((p) => [p.path, p.code]), [
    ["$.nodes", "node_removed"],
  ]);
  // Only own keys of the status map count.
  assertEquals(migrationProblems(base, def([], []), Object.create({ s: "completed" })), []);
});

// ---- properties

const ID = fc.constantFrom("a", "b", "c", "d", "e", "f");
const nodeArb = fc.record({
  id: ID,
  nodeType: fc.constantFrom("map", "filter", "memory.collect"),
  config: fc.dictionary(fc.constantFrom("x", "y"), fc.oneof(fc.integer(), fc.string({ maxLength: 3 }))),
  label: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
}).map(({ label, ...n }) =>
  node(n.id, n.nodeType, { config: n.config, ...(label !== undefined && { label }) })
);
const edgeArb = fc.record({
  source: ID,
  target: ID,
  sourceHandle: fc.option(fc.constantFrom("true", "false"), { nil: undefined }),
  label: fc.option(fc.constantFrom("l1", "l2"), { nil: undefined }),
}).map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as WorkflowEdge);
const defArb = fc.record({
  nodes: fc.uniqueArray(nodeArb, { selector: (n) => n.id, maxLength: 6 }),
  edges: fc.array(edgeArb, { maxLength: 8 }),
  name: fc.constantFrom("one", "two"),
  timeoutMs: fc.option(fc.constantFrom(1000, 2000), { nil: undefined }),
}).map(({ nodes, edges, name, timeoutMs }) =>
  def(nodes, edges, { name, ...(timeoutMs !== undefined && { timeoutMs }) })
);

/** A diff with its lists sorted, to compare diffs whose arguments came in another order. */
function sortedKeys(d: WorkflowDiff) {
  const ends = (e: object) => JSON.stringify(e);
  return {
    added: [...d.nodes.added].sort(),
    removed: [...d.nodes.removed].sort(),
    changed: d.nodes.changed.map((c) => `${c.id}:${c.fields.join()}`).sort(),
    edgesAdded: d.edges.added.map(ends).sort(),
    edgesRemoved: d.edges.removed.map(ends).sort(),
    edgesChanged: d.edges.changed.map(ends).sort(),
    fields: d.fields,
  };
}

/** A definition's canonical JSON with its nodes and edges sorted. */
function unordered(d: WorkflowDefinition): string {
  const sorted = (xs: readonly unknown[]) => xs.map((x) => canonicalJson(x)).sort();
  return canonicalJson({ ...d, nodes: sorted(d.nodes), edges: sorted(d.edges) });
}

Deno.test("property: diff(a, a) is empty, also for a copy with keys reordered", () => {
  fc.assert(
    fc.property(defArb, (a) => {
      assert(isEmptyDiff(diffDefinitions(a, a)));
      assert(isEmptyDiff(diffDefinitions(a, reversedKeys(a) as WorkflowDefinition)));
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: swapping the arguments swaps added and removed, and keeps changed and fields", () => {
  fc.assert(
    fc.property(defArb, defArb, (a, b) => {
      const ab = sortedKeys(diffDefinitions(a, b));
      const ba = sortedKeys(diffDefinitions(b, a));
      assertEquals(ab.added, ba.removed);
      assertEquals(ab.removed, ba.added);
      assertEquals(ab.edgesAdded, ba.edgesRemoved);
      assertEquals(ab.edgesRemoved, ba.edgesAdded);
      assertEquals(ab.changed, ba.changed);
      assertEquals(ab.fields, ba.fields);
      // Empty only when the definitions are equal up to key, node and edge order.
      if (isEmptyDiff(diffDefinitions(a, b))) assertEquals(unordered(a), unordered(b));
    }),
    { numRuns: 500 },
  );
});

Deno.test("property: a migration to the same definition, or with nothing pinned, has no problems", () => {
  const statusArb = fc.dictionary(
    ID,
    fc.constantFrom("pending", "completed", "running", "skipped", "failed"),
  );
  fc.assert(
    fc.property(defArb, defArb, statusArb, (a, b, status) => {
      const known = Object.fromEntries(
        Object.entries(status).filter(([id]) => a.nodes.some((n) => n.id === id)),
      );
      assertEquals(migrationProblems(a, a, known), []);
      const unpinned = Object.fromEntries(Object.keys(known).map((id) => [id, "pending"]));
      assertEquals(migrationProblems(a, b, unpinned), []);
      // Every problem names a pinned node the diff removed or changed in type or nodeType.
      const d = diffDefinitions(a, b);
      for (const p of migrationProblems(a, b, known)) {
        const id = /^node "([^"]*)"/.exec(p.message)?.[1] ?? "";
        assert(["completed", "running"].includes(known[id]), p.message);
        const kind = d.nodes.changed.find((c) => c.id === id)?.fields ?? [];
        assert(d.nodes.removed.includes(id) || kind.includes("type") || kind.includes("nodeType"), p.message);
      }
    }),
    { numRuns: 300 },
  );
});
