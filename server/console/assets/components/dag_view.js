/**
 * A workflow's DAG as SVG: each node a box with its state's glyph, its id and its kind, coloured by state and
 * outlined when a validation problem concerns it. Keyboard: the graph is one tab stop; arrow keys move between
 * nodes (right: a successor, left: a predecessor, up/down: the neighbour in the column), Enter or Space
 * selects, and every node has an accessible name saying its state.
 *
 * @module
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { edgePath, layoutDag, NODE_H, NODE_W, visiblePart } from "../lib/dag.js";
import { statusInfo } from "../lib/format.js";
import { html } from "./ui.js";

/**
 * @typedef {{id: string, label?: string, type?: string, nodeType?: string}} GraphNode
 * @typedef {{source: string, target: string}} GraphEdge
 */

/** The longest label drawn in a box (the full id is in its title and accessible name). */
const MAX_LABEL = 20;

function cut(text) {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

/**
 * Where the arrow keys go from each node.
 *
 * @param {ReturnType<typeof layoutDag>} layout
 */
function neighbours(layout) {
  const next = new Map();
  const prev = new Map();
  for (const e of layout.edges) {
    if (!next.has(e.source)) next.set(e.source, e.target);
    if (!prev.has(e.target)) prev.set(e.target, e.source);
  }
  const columns = new Map();
  for (const n of layout.nodes) {
    const key = Math.round(n.x);
    columns.set(key, [...(columns.get(key) ?? []), n]);
  }
  const up = new Map();
  const down = new Map();
  for (const col of columns.values()) {
    col.sort((a, b) => a.y - b.y);
    col.forEach((n, i) => {
      if (i > 0) up.set(n.id, col[i - 1].id);
      if (i < col.length - 1) down.set(n.id, col[i + 1].id);
    });
  }
  return { ArrowRight: next, ArrowLeft: prev, ArrowUp: up, ArrowDown: down };
}

/**
 * One node's box.
 *
 * @param {{node: {id: string, x: number, y: number}, info: GraphNode | undefined, status: string | undefined, problems: number, selected: boolean, focused: boolean}} p
 */
function NodeBox({ node, info, status, problems, selected, focused }) {
  const s = status === undefined ? null : statusInfo(status);
  const kind = info?.nodeType ?? info?.type ?? "";
  const name = `${node.id}${kind ? ` (${kind})` : ""}${s ? `: ${s.label}` : ""}${
    problems > 0 ? `, ${problems} problem(s)` : ""
  }`;
  const cls = [
    "dag-node",
    s?.className ?? "st-none",
    selected ? "selected" : "",
    problems > 0 ? "has-problem" : "",
  ]
    .filter(Boolean).join(" ");
  return html`
    <g class=${cls} transform=${`translate(${node.x},${node.y})`} data-node-id=${node.id}
      data-status=${status ?? ""} role="button" tabindex=${focused ? 0 : -1} aria-label=${name}
      aria-pressed=${selected ? "true" : "false"}>
      <title>${name}</title>
      <rect width=${NODE_W} height=${NODE_H} rx="6" />
      <text class="glyph" x="10" y="27" aria-hidden="true">${problems > 0 ? "⚠" : s?.glyph ?? "◇"}</text>
      <text class="label" x="30" y="19">${cut(
        info?.label && info.label !== node.id ? info.label : node.id,
      )}</text>
      <text class="kind" x="30" y="35">${cut(kind)}</text>
    </g>
  `;
}

/**
 * The scroll box's view (its scroll offsets and size), measured when the layout changes and, at most once a
 * frame, when it scrolls or the window resizes.
 *
 * @param {{current: HTMLElement | null}} box
 * @param {unknown} layout
 */
function useViewport(box, layout) {
  const [view, setView] = useState({ left: 0, top: 0, width: 0, height: 0 });
  const frame = useRef(0);
  const measure = () => {
    const b = box.current;
    if (b) setView({ left: b.scrollLeft, top: b.scrollTop, width: b.clientWidth, height: b.clientHeight });
  };
  const onScroll = () => {
    if (frame.current === 0) {
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        measure();
      });
    }
  };
  useLayoutEffect(measure, [layout]);
  useEffect(() => {
    globalThis.addEventListener("resize", onScroll);
    return () => globalThis.removeEventListener("resize", onScroll);
  }, []);
  return { view, onScroll };
}

/**
 * Keyboard and pointer handling: arrow keys move the focus along the graph (scrolling the node into view
 * first), Enter or Space selects, a click selects.
 */
function useNavigation({ layout, keys, svg, box, zoom, onSelect }) {
  const [focus, setFocus] = useState(/** @type {string | null} */ (null));
  const pending = useRef(/** @type {string | null} */ (null));
  const byId = useMemo(() => new Map(layout.nodes.map((n) => [n.id, n])), [layout]);
  useEffect(() => {
    const id = pending.current;
    const el = id === null ? null : svg.current?.querySelector(`[data-node-id="${CSS.escape(id)}"]`);
    if (el) {
      pending.current = null;
      el.focus();
    }
  });
  const moveTo = (id) => {
    const n = byId.get(id);
    const b = box.current;
    if (n && b) {
      const x = n.x * zoom;
      const y = n.y * zoom;
      if (x < b.scrollLeft || x + NODE_W * zoom > b.scrollLeft + b.clientWidth) {
        b.scrollLeft = x - b.clientWidth / 2;
      }
      if (y < b.scrollTop || y + NODE_H * zoom > b.scrollTop + b.clientHeight) {
        b.scrollTop = y - b.clientHeight / 2;
      }
    }
    // Drawn already: focused now (a key pressed next goes to it); else once it is drawn.
    const el = svg.current?.querySelector(`[data-node-id="${CSS.escape(id)}"]`);
    if (el) el.focus();
    else pending.current = id;
    setFocus(id);
  };
  const idOf = (e) => e.target?.closest?.("[data-node-id]")?.getAttribute("data-node-id");
  const onKey = (e) => {
    const id = idOf(e);
    if (!id) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onSelect?.(id);
    } else if (keys[e.key]?.get(id)) {
      e.preventDefault();
      moveTo(keys[e.key].get(id));
    }
  };
  const onClick = (e) => {
    const id = idOf(e);
    if (id) {
      setFocus(id);
      onSelect?.(id);
    }
  };
  return { focus, onKey, onClick };
}

/**
 * The DAG (a graph of 400 nodes or more draws only the part in view, and around it, as it scrolls).
 *
 * @example
 * ```js
 * import { DagView } from "./dag_view.js";
 * if (typeof DagView !== "function") throw new Error();
 * ```
 * @param {{nodes: GraphNode[], edges: GraphEdge[], states?: Map<string, string>, problems?: Map<string, unknown[]>, selected?: string | null, onSelect?: (id: string) => void, label: string}} props
 */
export function DagView({ nodes, edges, states, problems, selected, onSelect, label }) {
  const shape = JSON.stringify([nodes.map((n) => n.id), edges.map((e) => [e.source, e.target])]);
  const layout = useMemo(() => layoutDag(nodes, edges), [shape]);
  const keys = useMemo(() => neighbours(layout), [layout]);
  const info = useMemo(() => new Map(nodes.map((n) => [n.id, n])), [nodes]);
  const [asked, setZoom] = useState(/** @type {number | null} */ (null)); // null: fit the width
  const svg = useRef(null);
  const box = useRef(null);
  const { view, onScroll } = useViewport(box, layout);
  const fit = view.width > 0 && layout.width > 0
    ? Math.min(1, Math.max(0.4, (view.width - 4) / layout.width))
    : 1;
  const zoom = asked ?? fit;
  const nav = useNavigation({ layout, keys, svg, box, zoom, onSelect });
  const current = nav.focus ?? selected ?? layout.nodes[0]?.id ?? null;
  const part = visiblePart(layout, view, zoom, 300, [current, selected].filter(Boolean));
  return html`
    <div class="dag">
      <div class="dag-tools" role="group" aria-label="zoom">
        <button type="button" onClick=${() =>
          setZoom(Math.max(0.2, zoom / 1.25))} aria-label="zoom out">−</button>
        <button type="button" onClick=${() => setZoom(null)} aria-pressed=${asked === null
          ? "true"
          : "false"}>Fit</button>
        <button type="button" onClick=${() => setZoom(1)}>100%</button>
        <button type="button" onClick=${() =>
          setZoom(Math.min(3, zoom * 1.25))} aria-label="zoom in">+</button>
        <span class="muted">${nodes.length} nodes · ${layout
          .engine} layout${part.nodes.length < layout.nodes.length
          ? ` · ${part.nodes.length} drawn around the view`
          : ""}</span>
      </div>
      <div class="dag-scroll" ref=${box} onScroll=${onScroll}>
        <svg ref=${svg} class="dag-svg" role="group" aria-label=${label} data-engine=${layout.engine}
          data-node-total=${layout.nodes.length} width=${Math.max(1, layout.width * zoom)}
          height=${Math.max(1, layout.height * zoom)}
          viewBox=${`0 0 ${Math.max(1, layout.width)} ${Math.max(1, layout.height)}`}
          onKeyDown=${nav.onKey} onClick=${nav.onClick}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"
              orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
            </marker>
          </defs>
          <g class="edges" aria-hidden="true">
              ${part.edges.map((e) =>
                html`<path class="dag-edge" d=${edgePath(e.points)} marker-end="url(#arrow)" />`
              )}
            </g>
          <g class="nodes">
              ${part.nodes.map((n) =>
                html`
                  <${NodeBox} key=${n.id} node=${n} info=${info.get(n.id)} status=${states?.get(n.id)}
                    problems=${problems?.get(n.id)?.length ??
                      0} selected=${selected === n.id} focused=${current === n.id} />
                `
              )}
            </g>
        </svg>
      </div>
    </div>
  `;
}
