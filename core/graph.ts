/**
 * Pure graph helpers over node ids and edges: adjacency, cycle detection and a
 * stable topological order. Everything is iterative (no recursion), linear or
 * `O((V + E) log V)`, and deterministic: nodes are visited in declaration order
 * and successors in edge order.
 *
 * Conventions shared by every helper:
 * - a node id listed twice counts once, at its first position;
 * - an edge naming an id that is not in `nodeIds` is ignored;
 * - an edge listed twice counts once.
 *
 * @module
 */

/** An edge as the graph helpers see it: only `source` and `target` matter. */
export interface GraphEdge {
  readonly source: string;
  readonly target: string;
}

/** The graph with nodes as indices into `ids` (declaration order). */
interface IndexedGraph {
  ids: string[];
  succ: number[][];
}

function indexGraph(nodeIds: readonly string[], edges: readonly GraphEdge[]): IndexedGraph {
  const index = new Map<string, number>();
  const ids: string[] = [];
  for (const id of nodeIds) {
    if (!index.has(id)) {
      index.set(id, ids.length);
      ids.push(id);
    }
  }
  const all: number[][] = ids.map(() => []);
  for (const edge of edges) {
    const from = index.get(edge.source);
    const to = index.get(edge.target);
    if (from !== undefined && to !== undefined) all[from].push(to);
  }
  // Drop repeated edges: stamp[v] === u + 1 when u → v was already kept.
  const stamp = new Int32Array(ids.length);
  const succ = all.map((targets, u) => {
    const kept: number[] = [];
    for (const v of targets) {
      if (stamp[v] !== u + 1) {
        stamp[v] = u + 1;
        kept.push(v);
      }
    }
    return kept;
  });
  return { ids, succ };
}

/**
 * The successors of every node: a map from each node id (in declaration order) to
 * the ids its edges lead to (in edge order, without repeats).
 *
 * @example
 * ```ts
 * import { buildAdjacency } from "./graph.ts";
 * const adj = buildAdjacency(["a", "b", "c"], [
 *   { source: "a", target: "b" },
 *   { source: "a", target: "c" },
 *   { source: "a", target: "zz" }, // unknown node: ignored
 * ]);
 * if (adj.get("a")?.join() !== "b,c" || adj.get("c")?.length !== 0) throw new Error("adjacency");
 * ```
 */
export function buildAdjacency(
  nodeIds: readonly string[],
  edges: readonly GraphEdge[],
): Map<string, string[]> {
  const { ids, succ } = indexGraph(nodeIds, edges);
  const adjacency = new Map<string, string[]>();
  for (let i = 0; i < ids.length; i++) adjacency.set(ids[i], succ[i].map((j) => ids[j]));
  return adjacency;
}

/**
 * Finds one cycle, or `undefined` when the graph is acyclic. The cycle is the list
 * of its node ids in edge order: `["a", "b", "c"]` means a → b → c → a, and a
 * self-loop on `a` is `["a"]`. Iterative depth-first search from each node in
 * declaration order, so the answer is deterministic.
 *
 * @example
 * ```ts
 * import { findCycle } from "./graph.ts";
 * const ids = ["a", "b", "c", "d"];
 * const edges = [
 *   { source: "a", target: "b" },
 *   { source: "b", target: "c" },
 *   { source: "c", target: "a" },
 *   { source: "c", target: "d" },
 * ];
 * if (findCycle(ids, edges)?.join(" → ") !== "a → b → c") throw new Error("cycle");
 * if (findCycle(ids, edges.slice(0, 2)) !== undefined) throw new Error("acyclic");
 * ```
 */
export function findCycle(nodeIds: readonly string[], edges: readonly GraphEdge[]): string[] | undefined {
  const { ids, succ } = indexGraph(nodeIds, edges);
  const n = ids.length;
  // 0: not visited yet; 1: on the DFS stack; 2: done (no cycle through it).
  const state = new Uint8Array(n);
  const position = new Int32Array(n);
  const stackNode: number[] = [];
  const stackNext: number[] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    position[root] = 0;
    stackNode.push(root);
    stackNext.push(0);
    while (stackNode.length > 0) {
      const top = stackNode.length - 1;
      const u = stackNode[top];
      const k = stackNext[top];
      if (k < succ[u].length) {
        stackNext[top] = k + 1;
        const v = succ[u][k];
        if (state[v] === 0) {
          state[v] = 1;
          position[v] = stackNode.length;
          stackNode.push(v);
          stackNext.push(0);
        } else if (state[v] === 1) {
          return stackNode.slice(position[v]).map((i) => ids[i]);
        }
      } else {
        state[u] = 2;
        stackNode.pop();
        stackNext.pop();
      }
    }
  }
  return undefined;
}

/** A binary min-heap of node indices: the lowest index (earliest declared) first. */
class MinHeap {
  #items: number[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(value: number): void {
    const items = this.#items;
    let i = items.length;
    items.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= value) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.#items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      const n = items.length;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && items[right] < items[left] ? right : left;
        if (items[child] >= last) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * A topological order of the nodes (Kahn's algorithm), or `undefined` when the
 * graph has a cycle. Stable: among the nodes ready at a step, the one declared
 * first comes first, so an already ordered list is returned unchanged.
 *
 * @example
 * ```ts
 * import { topologicalOrder } from "./graph.ts";
 * const order = topologicalOrder(["sink", "a", "b", "src"], [
 *   { source: "src", target: "a" },
 *   { source: "src", target: "b" },
 *   { source: "a", target: "sink" },
 *   { source: "b", target: "sink" },
 * ]);
 * if (order?.join() !== "src,a,b,sink") throw new Error("order");
 * if (topologicalOrder(["a"], [{ source: "a", target: "a" }]) !== undefined) throw new Error("cyclic");
 * ```
 */
export function topologicalOrder(
  nodeIds: readonly string[],
  edges: readonly GraphEdge[],
): string[] | undefined {
  const { ids, succ } = indexGraph(nodeIds, edges);
  const n = ids.length;
  const inDegree = new Int32Array(n);
  for (const targets of succ) for (const v of targets) inDegree[v]++;
  const ready = new MinHeap();
  for (let i = 0; i < n; i++) if (inDegree[i] === 0) ready.push(i);
  const order: string[] = [];
  while (ready.size > 0) {
    const u = ready.pop();
    order.push(ids[u]);
    for (const v of succ[u]) if (--inDegree[v] === 0) ready.push(v);
  }
  return order.length === n ? order : undefined;
}
