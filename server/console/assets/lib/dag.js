/**
 * Where each node of a workflow's DAG is drawn, left to right. Up to {@link DAGRE_MAX_NODES} nodes the layout
 * is dagre's (rank assignment, crossing reduction, routed edges); a larger graph gets a linear-time layered
 * layout instead (each node one column right of its furthest input, a column ordered by its inputs' rows, one
 * barycentre sweep), so a 5,000-node run page lays out in about 15 ms where dagre takes seconds. A layout is
 * computed once per graph ({@link cachedLayout}).
 *
 * @module
 */
import dagre from "@dagrejs/dagre";

/** Above this many nodes, the layered layout replaces dagre's. */
export const DAGRE_MAX_NODES = 300;

/** A node's box. */
export const NODE_W = 168;
/** A node's box height. */
export const NODE_H = 44;
const GAP_X = 56;
const GAP_Y = 16;
const MARGIN = 16;

/**
 * @typedef {{id: string, label?: string}} DagNode
 * @typedef {{source: string, target: string}} DagEdge
 * @typedef {{id: string, x: number, y: number, rank: number}} PlacedNode  x, y: the box's top-left corner
 * @typedef {{source: string, target: string, points: {x: number, y: number}[]}} PlacedEdge
 * @typedef {{width: number, height: number, nodes: PlacedNode[], edges: PlacedEdge[], engine: string}} Layout
 */

/**
 * Lays a DAG out (edges naming unknown nodes are left out; a cycle is broken where it is met).
 *
 * @example
 * ```js
 * import { layoutDag } from "./dag.js";
 * const l = layoutDag(
 *   [{ id: "a" }, { id: "b" }, { id: "c" }],
 *   [{ source: "a", target: "b" }, { source: "b", target: "c" }, { source: "a", target: "zz" }],
 * );
 * const x = Object.fromEntries(l.nodes.map((n) => [n.id, n.x]));
 * if (!(x.a < x.b && x.b < x.c) || l.edges.length !== 2 || l.engine !== "dagre") throw new Error(JSON.stringify(l));
 * ```
 * @param {DagNode[]} nodes
 * @param {DagEdge[]} edges
 * @returns {Layout}
 */
export function layoutDag(nodes, edges) {
  const ids = new Set(nodes.map((n) => n.id));
  const known = edges.filter((e) => ids.has(e.source) && ids.has(e.target) && e.source !== e.target);
  return nodes.length <= DAGRE_MAX_NODES ? dagreLayout(nodes, known) : layeredLayout(nodes, known);
}

/**
 * @param {DagNode[]} nodes
 * @param {DagEdge[]} edges
 * @returns {Layout}
 */
function dagreLayout(nodes, edges) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: GAP_Y, ranksep: GAP_X, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  edges.forEach((e, i) => g.setEdge(e.source, e.target, {}, `e${i}`));
  dagre.layout(g);
  const placed = nodes.map((n) => {
    const p = g.node(n.id);
    return { id: n.id, x: p.x - NODE_W / 2, y: p.y - NODE_H / 2, rank: p.rank ?? 0 };
  });
  const placedEdges = edges.map((e, i) => ({
    source: e.source,
    target: e.target,
    points: (g.edge({ v: e.source, w: e.target, name: `e${i}` })?.points ?? []).map((p) => ({
      x: p.x,
      y: p.y,
    })),
  }));
  const graph = g.graph();
  return {
    width: Math.ceil(graph.width ?? 0),
    height: Math.ceil(graph.height ?? 0),
    nodes: placed,
    edges: placedEdges,
    engine: "dagre",
  };
}

/**
 * Each node's column: one past its furthest input (Kahn's order; nodes left on a cycle go after the rest).
 *
 * @param {DagNode[]} nodes
 * @param {DagEdge[]} edges
 * @returns {{rank: Map<string, number>, inputs: Map<string, string[]>}}
 */
function ranks(nodes, edges) {
  /** @type {Map<string, string[]>} */
  const out = new Map(nodes.map((n) => [n.id, []]));
  /** @type {Map<string, string[]>} */
  const inputs = new Map(nodes.map((n) => [n.id, []]));
  const indegree = new Map(nodes.map((n) => [n.id, 0]));
  for (const e of edges) {
    out.get(e.source).push(e.target);
    inputs.get(e.target).push(e.source);
    indegree.set(e.target, indegree.get(e.target) + 1);
  }
  const rank = new Map();
  const queue = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const next of out.get(id)) {
      rank.set(next, Math.max(rank.get(next) ?? 0, rank.get(id) + 1));
      indegree.set(next, indegree.get(next) - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  const last = Math.max(0, ...rank.values()) + 1;
  for (const n of nodes) if (!rank.has(n.id)) rank.set(n.id, last);
  return { rank, inputs };
}

/**
 * @param {DagNode[]} nodes
 * @param {DagEdge[]} edges
 * @returns {Layout}
 */
function layeredLayout(nodes, edges) {
  const { rank, inputs } = ranks(nodes, edges);
  /** @type {string[][]} */
  const columns = [];
  for (const n of nodes) (columns[rank.get(n.id)] ??= []).push(n.id);
  /** @type {Map<string, number>} */
  const row = new Map();
  for (const column of columns) {
    if (!column) continue;
    // One barycentre sweep: a node goes near the mean row of its inputs (placed in earlier columns).
    const key = (id) => {
      const from = inputs.get(id).filter((p) => row.has(p));
      return from.length === 0 ? Infinity : from.reduce((s, p) => s + row.get(p), 0) / from.length;
    };
    const keyed = column.map((id, i) => ({ id, k: key(id), i }));
    keyed.sort((a, b) => (a.k - b.k) || (a.i - b.i));
    keyed.forEach((c, i) => row.set(c.id, i));
  }
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = MARGIN * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y;
  const at = (id) => {
    const size = columns[rank.get(id)].length;
    const offset = (tallest - size) * (NODE_H + GAP_Y) / 2;
    return {
      x: MARGIN + rank.get(id) * (NODE_W + GAP_X),
      y: MARGIN + offset + row.get(id) * (NODE_H + GAP_Y),
    };
  };
  const placed = nodes.map((n) => ({ id: n.id, ...at(n.id), rank: rank.get(n.id) }));
  const byId = new Map(placed.map((p) => [p.id, p]));
  const placedEdges = edges.map((e) => {
    const s = byId.get(e.source);
    const t = byId.get(e.target);
    return {
      source: e.source,
      target: e.target,
      points: [{ x: s.x + NODE_W, y: s.y + NODE_H / 2 }, { x: t.x, y: t.y + NODE_H / 2 }],
    };
  });
  return {
    width: MARGIN * 2 + columns.length * (NODE_W + GAP_X) - GAP_X,
    height,
    nodes: placed,
    edges: placedEdges,
    engine: "layered",
  };
}

/** The layouts kept by {@link cachedLayout}. */
const CACHED_LAYOUTS = 8;

/** @type {Map<string, Layout>} */
const layouts = new Map();

/**
 * {@link layoutDag}, computed once per graph: the last {@link CACHED_LAYOUTS} layouts are kept by the graph's
 * shape (its node ids and edges; a workflow version's never changes), so a run page polled every second, or
 * opened again, or another run of the same version, lays nothing out again and gets the same object.
 *
 * @example
 * ```js
 * import { cachedLayout } from "./dag.js";
 * const a = cachedLayout([{ id: "a" }, { id: "b" }], [{ source: "a", target: "b" }]);
 * const b = cachedLayout([{ id: "a", label: "A" }, { id: "b" }], [{ source: "a", target: "b" }]);
 * if (a !== b) throw new Error("the same shape, the same layout");
 * ```
 * @param {DagNode[]} nodes
 * @param {DagEdge[]} edges
 * @returns {Layout}
 */
export function cachedLayout(nodes, edges) {
  const key = JSON.stringify([nodes.map((n) => n.id), edges.map((e) => [e.source, e.target])]);
  const hit = layouts.get(key);
  if (hit) {
    layouts.delete(key); // the most recently used last
    layouts.set(key, hit);
    return hit;
  }
  const layout = layoutDag(nodes, edges);
  layouts.set(key, layout);
  if (layouts.size > CACHED_LAYOUTS) layouts.delete(layouts.keys().next().value);
  return layout;
}

/**
 * From this many nodes on, only the words of the boxes in view (and around it) are drawn, and the edges
 * leaving a column are drawn as one path (`dag_markup.js`).
 */
export const VIRTUAL_MIN = 400;

/**
 * The nodes of a layout within `margin` pixels of a scrolled view (`left`, `top`, `width`, `height` in screen
 * pixels, at `zoom`): all of them in a graph under {@link VIRTUAL_MIN} nodes, none before the view is
 * measured (width 0).
 *
 * @example
 * ```js
 * import { layoutDag, visibleNodes } from "./dag.js";
 * const nodes = Array.from({ length: 1000 }, (_, i) => ({ id: `n${i}` }));
 * const edges = nodes.slice(1).map((n, i) => ({ source: `n${i}`, target: n.id }));
 * const layout = layoutDag(nodes, edges); // one long chain, left to right
 * const seen = visibleNodes(layout, { left: 0, top: 0, width: 1000, height: 600 }, 1, 0);
 * if (seen.length > 10 || seen[0].id !== "n0") throw new Error(String(seen.length));
 * ```
 * @param {Layout} layout
 * @param {{left: number, top: number, width: number, height: number}} view
 * @param {number} zoom
 * @param {number} margin
 * @returns {PlacedNode[]}
 */
export function visibleNodes(layout, view, zoom, margin = 300) {
  if (layout.nodes.length < VIRTUAL_MIN) return layout.nodes;
  if (view.width === 0) return [];
  const x0 = (view.left - margin) / zoom;
  const y0 = (view.top - margin) / zoom;
  const x1 = (view.left + view.width + margin) / zoom;
  const y1 = (view.top + view.height + margin) / zoom;
  return layout.nodes.filter((n) => n.x + NODE_W >= x0 && n.x <= x1 && n.y + NODE_H >= y0 && n.y <= y1);
}

/**
 * The SVG path of an edge through its points: a smooth curve for two points, straight segments otherwise.
 *
 * @example
 * ```js
 * import { edgePath } from "./dag.js";
 * const d = edgePath([{ x: 0, y: 0 }, { x: 100, y: 50 }]);
 * if (!d.startsWith("M0,0 C")) throw new Error(d);
 * ```
 * @param {{x: number, y: number}[]} points
 * @returns {string}
 */
export function edgePath(points) {
  if (points.length === 0) return "";
  const r = (v) => Math.round(v * 10) / 10;
  if (points.length === 2) {
    const [a, b] = points;
    const mx = r((a.x + b.x) / 2);
    return `M${r(a.x)},${r(a.y)} C${mx},${r(a.y)} ${mx},${r(b.y)} ${r(b.x)},${r(b.y)}`;
  }
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${r(p.x)},${r(p.y)}`).join(" ");
}
