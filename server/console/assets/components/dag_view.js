/**
 * A workflow's DAG as SVG: each node a box with its state's glyph, its id and its kind, coloured by state and
 * outlined when a validation problem concerns it. Keyboard: the graph is one tab stop; arrow keys move between
 * nodes (right: a successor, left: a predecessor, up/down: the neighbour in the column), Enter or Space
 * selects, and every node has an accessible name saying its state.
 *
 * Drawn for speed at thousands of nodes: the layout is computed once per graph (`cachedLayout`); every box
 * and edge is drawn once per layout as one piece of markup (`graphMarkup`), outside Preact's diffing; a change
 * of state, problems, selection or focus (a run page's poll) updates only the boxes it changes, in place; and
 * the boxes' words are drawn for the part in view (and 300 px around it) as the view scrolls.
 *
 * @module
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { cachedLayout, NODE_H, NODE_W, visibleNodes } from "../lib/dag.js";
import { addTitle, applyLook, graphMarkup, labelsMarkup, nodeLook } from "../lib/dag_markup.js";
import { html } from "./ui.js";

/**
 * @typedef {{id: string, label?: string, type?: string, nodeType?: string}} GraphNode
 * @typedef {{source: string, target: string}} GraphEdge
 */

/**
 * Where the arrow keys go from each node.
 *
 * @param {import("../lib/dag.js").Layout} layout
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
    const column = columns.get(key);
    if (column) column.push(n);
    else columns.set(key, [n]);
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
 * first), Enter or Space selects, a click selects, a box gets its tooltip when the pointer comes over it.
 */
function useNavigation({ layout, keys, svg, box, zoom, onSelect }) {
  const [focus, setFocus] = useState(/** @type {string | null} */ (null));
  const byId = useMemo(() => new Map(layout.nodes.map((n) => [n.id, n])), [layout]);
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
    // Every box is drawn: focused now, so a key pressed next goes to it.
    svg.current?.querySelector(`[data-node-id="${CSS.escape(id)}"]`)?.focus();
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
  const onPointerOver = (e) => {
    const box = e.target?.closest?.("[data-node-id]");
    if (box) addTitle(box);
  };
  return { focus, onKey, onClick, onPointerOver };
}

/**
 * Draws the boxes and edges into `layer` once per layout, then keeps each box's look up to date in place.
 *
 * @param {{current: Element | null}} layer
 * @param {import("../lib/dag.js").Layout} layout
 * @param {(id: string) => ReturnType<typeof nodeLook>} lookOf
 * @param {unknown[]} lookDeps what the looks depend on
 */
function useBoxes(layer, layout, lookOf, lookDeps) {
  const drawn = useRef({ layout: /** @type {unknown} */ (null), looks: new Map(), elements: new Map() });
  useLayoutEffect(() => {
    const g = layer.current;
    if (!g) return;
    const d = drawn.current;
    if (d.layout !== layout) {
      const looks = layout.nodes.map((n) => lookOf(n.id));
      g.innerHTML = graphMarkup(layout, looks);
      d.layout = layout;
      d.looks = new Map(looks.map((l) => [l.id, l.signature]));
      d.elements = new Map([...g.querySelectorAll(".nodes > [data-node-id]")].map((el) => [
        el.getAttribute("data-node-id"),
        el,
      ]));
      return;
    }
    for (const n of layout.nodes) {
      const look = lookOf(n.id);
      if (d.looks.get(n.id) === look.signature) continue;
      const el = d.elements.get(n.id);
      if (el) applyLook(el, look);
      d.looks.set(n.id, look.signature);
    }
  }, [layout, ...lookDeps]);
}

/**
 * The DAG: every box drawn with its state and accessible name; the words of a graph of 400 nodes or more drawn
 * for the part in view (and around it) as it scrolls.
 *
 * @example
 * ```js
 * import { DagView } from "./dag_view.js";
 * if (typeof DagView !== "function") throw new Error();
 * ```
 * @param {{nodes: GraphNode[], edges: GraphEdge[], states?: Map<string, string>, problems?: Map<string, unknown[]>, selected?: string | null, onSelect?: (id: string) => void, label: string}} props
 */
export function DagView({ nodes, edges, states, problems, selected, onSelect, label }) {
  const layout = useMemo(() => cachedLayout(nodes, edges), [nodes, edges]);
  const keys = useMemo(() => neighbours(layout), [layout]);
  const info = useMemo(() => new Map(nodes.map((n) => [n.id, n])), [nodes]);
  const [asked, setZoom] = useState(/** @type {number | null} */ (null)); // null: fit the width
  const svg = useRef(null);
  const box = useRef(null);
  const layer = useRef(null);
  const { view, onScroll } = useViewport(box, layout);
  const fit = view.width > 0 && layout.width > 0
    ? Math.min(1, Math.max(0.4, (view.width - 4) / layout.width))
    : 1;
  const zoom = asked ?? fit;
  const nav = useNavigation({ layout, keys, svg, box, zoom, onSelect });
  const current = nav.focus ?? selected ?? layout.nodes[0]?.id ?? null;
  const lookOf = (id) =>
    nodeLook({
      id,
      info: info.get(id),
      status: states?.get(id),
      problems: problems?.get(id)?.length ?? 0,
      selected: selected === id,
      focused: current === id,
    });
  useBoxes(layer, layout, lookOf, [info, states, problems, selected, current]);
  const seen = visibleNodes(layout, view, zoom, 300);
  const words = labelsMarkup(seen, lookOf);
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
        <span class="muted">${nodes.length} nodes · ${layout.engine} layout${seen.length < layout.nodes.length
          ? ` · words drawn for the ${seen.length} around the view`
          : ""}</span>
      </div>
      <div class="dag-scroll" ref=${box} onScroll=${onScroll}>
        <svg ref=${svg} class="dag-svg" role="group" aria-label=${label} data-engine=${layout.engine}
          data-node-total=${layout.nodes.length} width=${Math.max(1, layout.width * zoom)}
          height=${Math.max(1, layout.height * zoom)}
          viewBox=${`0 0 ${Math.max(1, layout.width)} ${Math.max(1, layout.height)}`}
          onKeyDown=${nav.onKey} onClick=${nav.onClick} onPointerOver=${nav.onPointerOver}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"
              orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
            </marker>
          </defs>
          <g class="dag-graph" ref=${layer}></g>
          <g class="dag-labels" aria-hidden="true" dangerouslySetInnerHTML=${{ __html: words }}></g>
        </svg>
      </div>
    </div>
  `;
}
