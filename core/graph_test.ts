import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { buildAdjacency, findCycle, type GraphEdge, topologicalOrder } from "./graph.ts";

const e = (source: string, target: string): GraphEdge => ({ source, target });

/** Whether `cycle` is a real cycle of `edges`: consecutive ids (and last → first) are edges. */
function isCycleOf(cycle: string[], edges: GraphEdge[]): boolean {
  const set = new Set(edges.map((x) => `${x.source}\u0000${x.target}`));
  return cycle.length > 0 &&
    cycle.every((id, i) => set.has(`${id}\u0000${cycle[(i + 1) % cycle.length]}`)) &&
    new Set(cycle).size === cycle.length;
}

Deno.test("buildAdjacency: every node, successors in edge order, unknown ids and repeats ignored", () => {
  const adj = buildAdjacency(["a", "b", "c", "a"], [
    e("a", "c"),
    e("a", "b"),
    e("a", "c"),
    e("x", "a"),
    e("b", "y"),
  ]);
  assertEquals([...adj.entries()], [["a", ["c", "b"]], ["b", []], ["c", []]]);
});

Deno.test("findCycle: acyclic graphs have none", () => {
  assertStrictEquals(findCycle([], []), undefined);
  assertStrictEquals(findCycle(["a"], []), undefined);
  assertStrictEquals(
    findCycle(["a", "b", "c", "d"], [e("a", "b"), e("a", "c"), e("b", "d"), e("c", "d")]),
    undefined,
  );
});

Deno.test("findCycle: returns the cycle's nodes in order", () => {
  const edges = [e("s", "a"), e("a", "b"), e("b", "c"), e("c", "a"), e("c", "t")];
  assertEquals(findCycle(["s", "a", "b", "c", "t"], edges), ["a", "b", "c"]);
});

Deno.test("findCycle: self-loop and two-node cycle", () => {
  assertEquals(findCycle(["a", "b"], [e("a", "b"), e("b", "b")]), ["b"]);
  assertEquals(findCycle(["a", "b"], [e("a", "b"), e("b", "a")]), ["a", "b"]);
});

Deno.test("findCycle: finds a cycle not reachable from the first node", () => {
  const edges = [e("a", "b"), e("c", "d"), e("d", "e"), e("e", "c")];
  const cycle = findCycle(["a", "b", "c", "d", "e"], edges);
  assertEquals(cycle, ["c", "d", "e"]);
});

Deno.test("findCycle: ignores edges to unknown nodes", () => {
  assertStrictEquals(findCycle(["a"], [e("a", "x"), e("x", "a")]), undefined);
});

Deno.test("findCycle: deep chain of 50,000 nodes does not overflow the stack", () => {
  const n = 50_000;
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  const edges = ids.slice(1).map((id, i) => e(ids[i], id));
  assertStrictEquals(findCycle(ids, edges), undefined);
  edges.push(e(ids[n - 1], ids[0]));
  const cycle = findCycle(ids, edges)!;
  assertStrictEquals(cycle.length, n);
  assertStrictEquals(cycle[0], "n0");
  assertStrictEquals(cycle[n - 1], `n${n - 1}`);
});

Deno.test("findCycle: a long cycle in a dense graph is a real cycle", () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `n${i}`);
  const edges: GraphEdge[] = [];
  for (let i = 0; i < 1000; i++) {
    for (let k = 1; k <= 5 && i + k < 1000; k++) edges.push(e(ids[i], ids[i + k]));
  }
  edges.push(e("n999", "n500"));
  const cycle = findCycle(ids, edges)!;
  assert(isCycleOf(cycle, edges), cycle.join(","));
  assert(cycle.includes("n500") && cycle.includes("n999"));
});

Deno.test("topologicalOrder: stable, ties broken by declaration order", () => {
  assertEquals(topologicalOrder(["a", "b", "c"], []), ["a", "b", "c"]);
  assertEquals(topologicalOrder(["c", "b", "a"], []), ["c", "b", "a"]);
  // d is ready only after a; b and c are ready from the start and declared before d.
  assertEquals(
    topologicalOrder(["d", "c", "b", "a"], [e("a", "d")]),
    ["c", "b", "a", "d"],
  );
  assertEquals(
    topologicalOrder(["sink", "x", "y", "src"], [
      e("src", "y"),
      e("src", "x"),
      e("x", "sink"),
      e("y", "sink"),
    ]),
    ["src", "x", "y", "sink"],
  );
});

Deno.test("topologicalOrder: respects every edge, counts repeated edges once", () => {
  const ids = ["e", "d", "c", "b", "a"];
  const edges = [e("a", "b"), e("b", "c"), e("a", "c"), e("a", "c"), e("c", "d"), e("d", "e")];
  const order = topologicalOrder(ids, edges)!;
  assertEquals(order, ["a", "b", "c", "d", "e"]);
});

Deno.test("topologicalOrder: undefined when cyclic", () => {
  assertStrictEquals(topologicalOrder(["a", "b", "c"], [e("a", "b"), e("b", "c"), e("c", "b")]), undefined);
});

Deno.test("graph helpers: 1,000 nodes and 5,000 edges (speed is in bench/core_bench.ts)", () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `n${i}`);
  const edges: GraphEdge[] = [];
  for (let i = 0; i < 1000; i++) {
    for (let k = 1; k <= 5 && i + k < 1000; k++) edges.push(e(ids[i], ids[i + k]));
  }
  assertStrictEquals(findCycle(ids, edges), undefined);
  assertEquals(topologicalOrder(ids, edges), ids);
  edges.push(e(ids[999], ids[0]));
  assertStrictEquals(findCycle(ids, edges)?.[0] !== undefined, true);
});
