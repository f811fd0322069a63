/**
 * Validation problems on the drawing: which node each problem of a `400 validation_failed` concerns, from its
 * JSON path (`$.nodes[2].config.count` → the third node; `$.edges[1].target` → the edge's ends), and a
 * definition parsed from pasted text for drawing before it is saved.
 *
 * @module
 */

/**
 * @typedef {{path: string, code?: string, message: string}} Problem
 */

/**
 * The problems by node id (`""`: problems of no node: the workflow's own fields, unparsable edges).
 *
 * @example
 * ```js
 * import { problemsByNode } from "./problems.js";
 * const definition = { nodes: [{ id: "a" }, { id: "b" }], edges: [{ source: "b", target: "zz" }] };
 * const by = problemsByNode(definition, [
 *   { path: "$.nodes[1].config.count", code: "config_type", message: "count must be a integer" },
 *   { path: "$.edges[0].target", code: "unknown_node", message: "edge target \"zz\" names no node" },
 *   { path: "$.name", code: "required", message: "workflow name must not be empty" },
 * ]);
 * if (by.get("b")?.length !== 2 || by.get("")?.length !== 1 || by.has("a")) throw new Error([...by.keys()].join());
 * ```
 * @param {{nodes?: unknown, edges?: unknown} | null} definition
 * @param {Problem[]} problems
 * @returns {Map<string, Problem[]>}
 */
export function problemsByNode(definition, problems) {
  const nodes = Array.isArray(definition?.nodes) ? definition.nodes : [];
  const edges = Array.isArray(definition?.edges) ? definition.edges : [];
  /** @type {Map<string, Problem[]>} */
  const by = new Map();
  const add = (id, p) => {
    const list = by.get(id) ?? [];
    list.push(p);
    by.set(id, list);
  };
  for (const p of problems) {
    const node = /^\$\.nodes\[(\d+)\]/.exec(p.path);
    const edge = /^\$\.edges\[(\d+)\]/.exec(p.path);
    const nodeId = node ? nodes[Number(node[1])]?.id : undefined;
    if (typeof nodeId === "string") {
      add(nodeId, p);
    } else if (edge && edges[Number(edge[1])]) {
      const e = edges[Number(edge[1])];
      const ends = [e.source, e.target].filter((id) => nodes.some((n) => n?.id === id));
      if (ends.length === 0) add("", p);
      for (const id of new Set(ends)) add(id, p);
    } else {
      add("", p);
    }
  }
  return by;
}

/**
 * A pasted definition: parsed, or the parse error with its line; only well-formed nodes and edges are kept for
 * the drawing.
 *
 * @example
 * ```js
 * import { parseDefinition } from "./problems.js";
 * const ok = parseDefinition('{"id":"w","nodes":[{"id":"a"},{"x":1}],"edges":[{"source":"a","target":"b"}]}');
 * if (!ok.ok || ok.drawable.nodes.length !== 1 || ok.drawable.edges.length !== 1) throw new Error(JSON.stringify(ok));
 * const bad = parseDefinition('{"id": }');
 * if (bad.ok || !bad.error) throw new Error("not JSON");
 * ```
 * @param {string} text
 * @returns {{ok: true, value: any, drawable: {nodes: {id: string, label?: string, type?: string, nodeType?: string}[], edges: {source: string, target: string}[]}} | {ok: false, error: string}}
 */
export function parseDefinition(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err) };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, error: "a workflow definition is a JSON object" };
  }
  const nodes = (Array.isArray(value.nodes) ? value.nodes : []).filter((n) =>
    n !== null && typeof n === "object" && typeof n.id === "string"
  );
  const edges = (Array.isArray(value.edges) ? value.edges : []).filter((e) =>
    e !== null && typeof e === "object" && typeof e.source === "string" && typeof e.target === "string"
  );
  return { ok: true, value, drawable: { nodes, edges } };
}
