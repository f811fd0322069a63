import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../testing/assert.ts";
import { PROBLEM_CODES, validateWorkflow, type ValidationResult } from "./validate.ts";
import { findCycle, topologicalOrder } from "./graph.ts";
import type { Problem } from "./schema.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

type Kind = "source" | "map" | "filter" | "sink";

const KINDS: Record<Kind, { type: string; nodeType: string; config: Record<string, unknown> }> = {
  source: { type: "source", nodeType: "sequence.numbers", config: { end: 10 } },
  map: { type: "transform", nodeType: "map", config: { expression: "value" } },
  filter: { type: "transform", nodeType: "filter", config: { condition: "true" } },
  sink: { type: "sink", nodeType: "memory.collect", config: {} },
};

interface Dag {
  kinds: Kind[];
  workflow: Loose;
}

/**
 * Random valid DAGs: 1..30 nodes of a few kinds, edges only from a lower to a
 * higher index, never into a source nor out of a sink; with or without UI data.
 */
const dagArb: fc.Arbitrary<Dag> = fc.record({
  kinds: fc.array(fc.constantFrom<Kind>("source", "map", "filter", "sink"), {
    minLength: 1,
    maxLength: 30,
    size: "max",
  }),
  pairs: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 90, size: "max" }),
  ui: fc.boolean(),
  idPrefix: fc.constantFrom("n", "node-", "a.b:", "X_"),
}).map(({ kinds, pairs, ui, idPrefix }) => {
  const n = kinds.length;
  const id = (i: number) => `${idPrefix}${i}`;
  const nodes = kinds.map((kind, i) => ({
    id: id(i),
    type: KINDS[kind].type,
    nodeType: KINDS[kind].nodeType,
    config: { ...KINDS[kind].config },
    ...(ui ? { label: `${kind} ${i}`, position: { x: 100 * i, y: 80 } } : {}),
  }));
  const edges: Loose[] = [];
  const seen = new Set<string>();
  for (const [a, b] of pairs) {
    const lo = Math.min(a % n, b % n);
    const hi = Math.max(a % n, b % n);
    if (lo === hi || kinds[lo] === "sink" || kinds[hi] === "source") continue;
    const key = `${lo}>${hi}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({
      id: `e${edges.length}`,
      source: id(lo),
      target: id(hi),
      ...(ui ? { sourceHandle: "out", targetHandle: "in", animated: false } : {}),
    });
  }
  return { kinds, workflow: { id: "wf-prop", name: "Property", tags: ["prop"], nodes, edges } };
});

function show(result: ValidationResult): string {
  return result.ok ? "ok" : result.problems.map((p) => `${p.code} @ ${p.path}: ${p.message}`).join("\n");
}

function has(problems: Problem[], code: string, path: string): boolean {
  return problems.some((p) => p.code === code && p.path === path);
}

Deno.test("property: random valid DAGs validate, keep their shape, and have a topological order", () => {
  fc.assert(
    fc.property(dagArb, ({ workflow }) => {
      const result = validateWorkflow(workflow);
      assert(result.ok, show(result));
      const out = result.workflow;
      assertEquals(out.nodes.map((n) => n.id), workflow.nodes.map((n: Loose) => n.id));
      assertEquals(out.edges, workflow.edges);
      assertEquals(out.nodes.map((n) => n.position), workflow.nodes.map((n: Loose) => n.position));
      const ids = out.nodes.map((n) => n.id);
      assert(findCycle(ids, out.edges) === undefined);
      const order = topologicalOrder(ids, out.edges)!;
      const rank = new Map(order.map((id, i) => [id, i]));
      assert(out.edges.every((e) => rank.get(e.source)! < rank.get(e.target)!));
    }),
  );
});

type Fault = "cycle" | "duplicate_node_id" | "unknown_node" | "unknown_node_kind" | "source_has_input";

/** Injects one fault into a valid DAG; returns the code and path it must be reported with. */
function inject(
  dag: Dag,
  fault: Fault,
  r1: number,
  r2: number,
): { workflow: Loose; code: string; path: string } {
  const workflow = structuredClone(dag.workflow);
  const kinds = [...dag.kinds];
  const { nodes, edges } = workflow;
  const addNode = (kind: Kind, id: string): number => {
    nodes.push({
      id,
      type: KINDS[kind].type,
      nodeType: KINDS[kind].nodeType,
      config: { ...KINDS[kind].config },
    });
    kinds.push(kind);
    return nodes.length - 1;
  };
  const hasEdge = (s: string, t: string) => edges.some((e: Loose) => e.source === s && e.target === t);
  switch (fault) {
    case "cycle": {
      let transforms = kinds.flatMap((k, i) => (k === "map" || k === "filter" ? [i] : []));
      while (transforms.length < 2) {
        addNode("map", `extra-map-${transforms.length}`);
        transforms = kinds.flatMap((k, i) => (k === "map" || k === "filter" ? [i] : []));
      }
      const a = transforms[r1 % transforms.length];
      const b = transforms[r2 % transforms.length];
      const lo = nodes[Math.min(a, b)].id;
      const hi = nodes[Math.max(a, b)].id;
      if (lo !== hi && !hasEdge(lo, hi)) edges.push({ source: lo, target: hi });
      edges.push({ source: hi, target: lo }); // the back edge (a self-loop when a === b)
      return { workflow, code: "cycle", path: "$.edges" };
    }
    case "duplicate_node_id": {
      const k = r1 % nodes.length;
      nodes.push(structuredClone(nodes[k]));
      return { workflow, code: "duplicate_node_id", path: `$.nodes[${nodes.length - 1}].id` };
    }
    case "unknown_node": {
      const k = r1 % nodes.length;
      const toMissing = r2 % 2 === 0;
      edges.push(
        toMissing
          ? { source: nodes[k].id, target: "missing-node" }
          : { source: "missing-node", target: nodes[k].id },
      );
      return {
        workflow,
        code: "unknown_node",
        path: `$.edges[${edges.length - 1}].${toMissing ? "target" : "source"}`,
      };
    }
    case "unknown_node_kind": {
      const k = r1 % nodes.length;
      nodes[k].nodeType = "no.such.kind";
      return { workflow, code: "unknown_node_kind", path: `$.nodes[${k}].nodeType` };
    }
    case "source_has_input": {
      let sources = kinds.flatMap((k, i) => (k === "source" ? [i] : []));
      if (sources.length === 0) sources = [addNode("source", "extra-source")];
      const target = sources[r1 % sources.length];
      let origins = kinds.flatMap((k, i) => (k !== "sink" && i !== target ? [i] : []));
      if (origins.length === 0) origins = [addNode("source", "extra-origin")];
      const origin = origins[r2 % origins.length];
      edges.push({ source: nodes[origin].id, target: nodes[target].id });
      return { workflow, code: "source_has_input", path: `$.edges[${edges.length - 1}].target` };
    }
  }
}

const faultArb = fc.constantFrom<Fault>(
  "cycle",
  "duplicate_node_id",
  "unknown_node",
  "unknown_node_kind",
  "source_has_input",
);

Deno.test("property: one injected fault is rejected with its code and path", () => {
  fc.assert(
    fc.property(dagArb, faultArb, fc.nat(), fc.nat(), (dag, fault, r1, r2) => {
      const { workflow, code, path } = inject(dag, fault, r1, r2);
      const result = validateWorkflow(workflow);
      assert(!result.ok, `${fault}: expected a rejection`);
      assert(has(result.problems, code, path), `${fault}: expected ${code} @ ${path}, got:\n${show(result)}`);
      if (fault === "cycle") {
        // The message names a real cycle: each consecutive pair is an edge.
        const message = result.problems.find((p) => p.code === "cycle")!.message;
        const names = message.replace(/^cycle: /, "").split(" → ");
        assert(names.length >= 2 && names[0] === names[names.length - 1], message);
        for (let i = 0; i + 1 < names.length; i++) {
          assert(
            workflow.edges.some((e: Loose) => e.source === names[i] && e.target === names[i + 1]),
            `${names[i]} → ${names[i + 1]} is not an edge (${message})`,
          );
        }
      }
    }),
  );
});

/** Valid DAGs with one field somewhere replaced by arbitrary JSON. */
const mutantArb: fc.Arbitrary<unknown> = fc.tuple(
  dagArb,
  fc.constantFrom(
    "id",
    "name",
    "tags",
    "metadata",
    "timeoutMs",
    "retentionMs",
    "nodes",
    "edges",
    "node",
    "node.id",
    "node.type",
    "node.nodeType",
    "node.config",
    "node.retry",
    "node.timeoutMs",
    "node.position",
    "edge",
    "edge.source",
    "edge.target",
    "edge.sourceHandle",
  ),
  fc.nat(),
  fc.jsonValue({ maxDepth: 3 }),
).map(([dag, where, k, value]) => {
  const workflow = structuredClone(dag.workflow);
  const [what, key] = where.split(".");
  if (what === "node" || what === "edge") {
    const list = what === "node" ? workflow.nodes : workflow.edges;
    if (list.length === 0) list.push(value);
    else if (key === undefined) list[k % list.length] = value;
    else if (typeof list[k % list.length] === "object") list[k % list.length][key] = value;
  } else workflow[what] = value;
  return workflow;
});

const inputArb: fc.Arbitrary<unknown> = fc.oneof(
  dagArb.map((d) => d.workflow),
  fc.tuple(dagArb, faultArb, fc.nat(), fc.nat()).map(([d, f, r1, r2]) => inject(d, f, r1, r2).workflow),
  mutantArb,
  fc.jsonValue({ maxDepth: 4 }),
);

const CODES = new Set<string>(Object.values(PROBLEM_CODES));

Deno.test("property: validation is deterministic, total, and does not mutate its input", () => {
  fc.assert(
    fc.property(inputArb, (input) => {
      const before = structuredClone(input);
      const first = validateWorkflow(input);
      const second = validateWorkflow(input);
      assertEquals(input, before);
      assertEquals(first, second);
      assertEquals(validateWorkflow(structuredClone(before)), first);
      if (!first.ok) {
        assert(first.problems.length > 0);
        for (const p of first.problems) {
          assert(CODES.has(p.code), `unknown code ${p.code}`);
          assert(p.path.startsWith("$"), p.path);
          assert(typeof p.message === "string" && p.message.length > 0);
        }
      } else {
        // The normalised workflow is itself valid and normalises to itself.
        const again = validateWorkflow(first.workflow);
        assert(again.ok, show(again));
        assertEquals(again.workflow, first.workflow);
      }
    }),
    { numRuns: 300 },
  );
});
