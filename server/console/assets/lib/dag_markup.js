/**
 * A DAG's SVG as markup text, built in one pass: every node's box (one `rect`: its state as a class,
 * `data-status` and its accessible name) and every edge (from {@link VIRTUAL_MIN} nodes on, the edges leaving one column as one
 * path and their arrowheads as another: a few hundred elements instead of thousands), drawn once per layout;
 * each node's look, compared by its signature, so
 * a later change of state, problems, selection or focus updates only the boxes it concerns, in place; and the
 * boxes' words (glyph, id, kind), drawn for the part of the graph in view. Every text from a definition is
 * escaped.
 *
 * @module
 */
import { edgePath, NODE_H, NODE_W, VIRTUAL_MIN } from "./dag.js";
import { statusInfo } from "./format.js";

/** The longest label drawn in a box (the full id is in its tooltip and accessible name). */
const MAX_LABEL = 20;

/**
 * @typedef {{id: string, label?: string, type?: string, nodeType?: string}} GraphNode
 * @typedef {{id: string, x: number, y: number}} PlacedNode
 * @typedef {{
 *   id: string, status: string, className: string, stateClass: string, name: string, glyph: string,
 *   label: string, kind: string, selected: boolean, focused: boolean, signature: string,
 * }} NodeLook
 */

const ESCAPES = /** @type {Record<string, string>} */ ({
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
});

/**
 * Text made safe for markup, in an element or an attribute.
 *
 * @example
 * ```js
 * import { escapeMarkup } from "./dag_markup.js";
 * const got = escapeMarkup(`<a href="x">'&'</a>`);
 * if (got !== "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;") throw new Error(got);
 * ```
 * @param {string} text
 * @returns {string}
 */
export function escapeMarkup(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function cut(text) {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

/**
 * How one node looks: its classes, state, accessible name (its id, kind, state in words and problems), glyph
 * and words, and a signature that changes whenever any of them does.
 *
 * @example
 * ```js
 * import { nodeLook } from "./dag_markup.js";
 * const look = nodeLook({ id: "double", info: { id: "double", nodeType: "map" }, status: "failed" });
 * if (look.name !== "double (map): failed" || look.className !== "dag-node st-failed") throw new Error(look.name);
 * const marked = nodeLook({ id: "double", problems: 2, selected: true });
 * if (marked.glyph !== "⚠" || !marked.className.includes("has-problem selected")) throw new Error(marked.className);
 * ```
 * @param {{id: string, info?: GraphNode, status?: string, problems?: number, selected?: boolean, focused?: boolean}} p
 * @returns {NodeLook}
 */
export function nodeLook({ id, info, status, problems = 0, selected = false, focused = false }) {
  const s = status === undefined ? null : statusInfo(status);
  const kind = info?.nodeType ?? info?.type ?? "";
  const name = `${id}${kind ? ` (${kind})` : ""}${s ? `: ${s.label}` : ""}${
    problems > 0 ? `, ${problems} problem(s)` : ""
  }`;
  const stateClass = s?.className ?? "st-none";
  const className = [
    "dag-node",
    stateClass,
    problems > 0 ? "has-problem" : "",
    selected ? "selected" : "",
  ].filter(Boolean).join(" ");
  const glyph = problems > 0 ? "⚠" : s?.glyph ?? "◇";
  const label = cut(info?.label && info.label !== id ? info.label : id);
  return {
    id,
    status: status ?? "",
    className,
    stateClass,
    name,
    glyph,
    label,
    kind: cut(kind),
    selected,
    focused,
    signature: `${className}\n${name}\n${focused}`,
  };
}

/**
 * The markup of a layout's edges and node boxes (no words: see {@link labelsMarkup}).
 *
 * @example
 * ```js
 * import { graphMarkup, nodeLook } from "./dag_markup.js";
 * const layout = {
 *   nodes: [{ id: "a<b", x: 0, y: 0 }, { id: "c", x: 200, y: 0 }],
 *   edges: [{ source: "a<b", target: "c", points: [{ x: 168, y: 22 }, { x: 200, y: 22 }] }],
 * };
 * const looks = layout.nodes.map((n, i) => nodeLook({ id: n.id, status: "completed", focused: i === 0 }));
 * const svg = graphMarkup(layout, looks);
 * if (!svg.includes('data-node-id="a&lt;b"') || !svg.includes('tabindex="0"') || !svg.includes("dag-edge")) {
 *   throw new Error(svg);
 * }
 * // A big graph: the edges leaving a column as one path, their arrowheads as another.
 * import { layoutDag, VIRTUAL_MIN } from "./dag.js";
 * const nodes = Array.from({ length: VIRTUAL_MIN }, (_, i) => ({ id: `n${i}` }));
 * const big = layoutDag(nodes, nodes.slice(1).map((n) => ({ source: "n0", target: n.id })));
 * const grouped = graphMarkup(big, nodes.map((n) => nodeLook({ id: n.id })));
 * if ((grouped.match(/class="dag-edge"/g) ?? []).length !== 1 || !grouped.includes(`data-edges="${VIRTUAL_MIN - 1}"`)) {
 *   throw new Error("one path for the source's column");
 * }
 * ```
 * @param {{nodes: PlacedNode[], edges: {points: {x: number, y: number}[]}[]}} layout
 * @param {NodeLook[]} looks each node's look, in the layout's order
 * @returns {string}
 */
export function graphMarkup(layout, looks) {
  const out = ['<g class="edges" aria-hidden="true">'];
  if (layout.nodes.length < VIRTUAL_MIN) {
    for (const e of layout.edges) {
      out.push(`<path class="dag-edge" d="${edgePath(e.points)}" marker-end="url(#arrow)"/>`);
    }
  } else {
    out.push(...groupedEdges(layout));
  }
  out.push('</g><g class="nodes">');
  layout.nodes.forEach((n, i) => {
    const look = looks[i];
    const name = escapeMarkup(look.name);
    out.push(
      `<rect class="${look.className}" x="${n.x}" y="${n.y}" width="${NODE_W}" height="${NODE_H}" rx="6" ` +
        `data-node-id="${escapeMarkup(n.id)}" data-status="${escapeMarkup(look.status)}" role="button" ` +
        `tabindex="${look.focused ? 0 : -1}" aria-label="${name}" aria-pressed="${look.selected}"/>`,
    );
  });
  out.push("</g>");
  return out.join("");
}

/** One decimal. */
const r1 = (v) => Math.round(v * 10) / 10;

/**
 * The arrowhead at an edge's end, as a closed path: 9 long and 8 wide, along the edge's last direction (a
 * two-point edge's curve ends level).
 *
 * @param {{x: number, y: number}[]} points
 * @returns {string}
 */
function arrowHead(points) {
  const b = points[points.length - 1];
  const a = points.length === 2 ? { x: points[0].x, y: b.y } : points[points.length - 2];
  const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
  const [ux, uy] = [(b.x - a.x) / len, (b.y - a.y) / len];
  const [bx, by] = [b.x - ux * 9, b.y - uy * 9];
  return `M${r1(b.x)},${r1(b.y)} L${r1(bx - uy * 4)},${r1(by + ux * 4)} L${r1(bx + uy * 4)},${
    r1(by - ux * 4)
  } z`;
}

/**
 * A big graph's edges: those leaving one column as one path (`data-edges` says how many), their arrowheads
 * as another.
 *
 * @param {{nodes: {id: string, rank?: number}[], edges: {source: string, points: {x: number, y: number}[]}[]}} layout
 * @returns {string[]}
 */
function groupedEdges(layout) {
  const rank = new Map(layout.nodes.map((n) => [n.id, n.rank ?? 0]));
  /** @type {Map<number, {x: number, y: number}[][]>} */
  const columns = new Map();
  for (const e of layout.edges) {
    if (e.points.length < 2) continue;
    const k = rank.get(e.source) ?? 0;
    const list = columns.get(k);
    if (list) list.push(e.points);
    else columns.set(k, [e.points]);
  }
  const out = [];
  for (const list of columns.values()) {
    out.push(
      `<path class="dag-edge" data-edges="${list.length}" d="${list.map(edgePath).join(" ")}"/>` +
        `<path class="arrow-head" d="${list.map(arrowHead).join(" ")}"/>`,
    );
  }
  return out;
}

/**
 * Gives a drawn node box a new look (its class, state, name, tab stop, pressed state, and tooltip if it has
 * one).
 *
 * @param {Element} el
 * @param {NodeLook} look
 */
export function applyLook(el, look) {
  el.setAttribute("class", look.className);
  el.setAttribute("data-status", look.status);
  el.setAttribute("aria-label", look.name);
  el.setAttribute("aria-pressed", String(look.selected));
  el.setAttribute("tabindex", look.focused ? "0" : "-1");
  const title = el.querySelector(":scope > title");
  if (title && title.textContent !== look.name) title.textContent = look.name;
}

/**
 * Gives a box its tooltip (a `<title>` saying its accessible name) when the pointer first comes over it: the
 * boxes are drawn without one, thousands of elements fewer to build.
 *
 * @example
 * ```js
 * import { addTitle } from "./dag_markup.js";
 * if (typeof addTitle !== "function") throw new Error();
 * ```
 * @param {Element} el a box
 */
export function addTitle(el) {
  if (el.querySelector(":scope > title")) return;
  const title = el.ownerDocument.createElementNS("http://www.w3.org/2000/svg", "title");
  title.textContent = el.getAttribute("aria-label") ?? "";
  el.prepend(title);
}

/**
 * The words of the given boxes (glyph, id or label, kind), drawn over them; the boxes carry the accessible
 * names, so the words are hidden from assistive technology and let pointer events through.
 *
 * @example
 * ```js
 * import { labelsMarkup, nodeLook } from "./dag_markup.js";
 * const look = nodeLook({ id: "n&1", info: { id: "n&1", nodeType: "map" }, status: "running" });
 * const svg = labelsMarkup([{ id: "n&1", x: 10, y: 20 }], () => look);
 * if (!svg.includes(">n&amp;1</text>") || !svg.includes("st-running") || !svg.includes("▶")) throw new Error(svg);
 * ```
 * @param {PlacedNode[]} nodes
 * @param {(id: string) => NodeLook} lookOf
 * @returns {string}
 */
export function labelsMarkup(nodes, lookOf) {
  const out = [];
  for (const n of nodes) {
    const look = lookOf(n.id);
    out.push(
      `<g class="dag-label ${look.stateClass}" transform="translate(${n.x},${n.y})">` +
        `<text class="glyph" x="10" y="27">${escapeMarkup(look.glyph)}</text>` +
        `<text class="label" x="30" y="19">${escapeMarkup(look.label)}</text>` +
        `<text class="kind" x="30" y="35">${escapeMarkup(look.kind)}</text></g>`,
    );
  }
  return out.join("");
}
