/**
 * What changed between two versions of a workflow definition, and whether a live execution may move from one
 * to the other. Pure: values are compared as canonical JSON (key order never counts, as in the definition's
 * content hash); the order of nodes and of edges is not part of a diff.
 *
 * - Nodes are matched by `id`: `added` (in `b`'s order), `removed` (in `a`'s order), and `changed` with the
 *   sorted names of the node's keys whose values differ (`config`, `nodeType`, `type`, `label`, `retry`, …).
 * - Edges are matched by their ends: `source`, `target`, `sourceHandle` and `targetHandle` (an absent or
 *   `null` handle counts as absent). An edge whose ends stayed but whose other keys (`label`, `animated`,
 *   `id`, …) changed is in `changed`.
 * - `fields`: the sorted top-level keys, other than `nodes` and `edges`, whose values differ (`name`,
 *   `timeoutMs`, `metadata`, …).
 *
 * @module
 */
import { canonicalJson } from "./json.ts";
import type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from "./workflow.ts";

/** A node present in both versions whose keys `fields` differ. */
export interface NodeChange {
  id: string;
  fields: string[];
}

/** An edge as a diff names it: its ends. */
export interface EdgeEnds {
  source: string;
  target: string;
  sourceHandle?: string;
  targetHandle?: string;
}

/** An edge present in both versions (same ends) whose other keys `fields` differ. */
export interface EdgeChange extends EdgeEnds {
  fields: string[];
}

/** What changed from one definition to another. */
export interface WorkflowDiff {
  nodes: { added: string[]; removed: string[]; changed: NodeChange[] };
  edges: { added: EdgeEnds[]; removed: EdgeEnds[]; changed: EdgeChange[] };
  /** Top-level keys (not `nodes`, `edges`) whose values differ, sorted. */
  fields: string[];
}

/** One reason a live execution cannot move to another version, at its JSON path. */
export interface MigrationProblem {
  /** `$.nodes[i]` into `from` for a removed node, `$.nodes[i].type`/`.nodeType` into `to` for a changed one. */
  path: string;
  code: "node_removed" | "node_kind_changed" | "workflow_mismatch";
  message: string;
}

/** Node statuses whose node a migration must keep as it is: it ran, runs, or waits. */
export const MIGRATION_PINNED_STATUSES: ReadonlySet<string> = new Set(["completed", "running", "waiting"]);

/** The keys of `a` and `b` (but `skip`) whose values differ as canonical JSON, sorted. */
function changedKeys(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  skip: ReadonlySet<string>,
): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const changed: string[] = [];
  for (const key of keys) {
    if (skip.has(key)) continue;
    if (canonicalJson(a[key]) !== canonicalJson(b[key])) changed.push(key);
  }
  return changed.sort();
}

const NODE_SKIP: ReadonlySet<string> = new Set(["id"]);
const EDGE_SKIP: ReadonlySet<string> = new Set(["source", "target", "sourceHandle", "targetHandle"]);
const TOP_SKIP: ReadonlySet<string> = new Set(["nodes", "edges"]);

/** A handle as the diff compares it: absent, `null` and `undefined` alike. */
function handleOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The ends of an edge, handles only when set. */
function endsOf(e: WorkflowEdge): EdgeEnds {
  const ends: EdgeEnds = { source: e.source, target: e.target };
  const sourceHandle = handleOf(e.sourceHandle);
  const targetHandle = handleOf(e.targetHandle);
  if (sourceHandle !== undefined) ends.sourceHandle = sourceHandle;
  if (targetHandle !== undefined) ends.targetHandle = targetHandle;
  return ends;
}

/** The key an edge is matched by. */
function edgeKey(e: WorkflowEdge): string {
  return JSON.stringify([
    e.source,
    e.target,
    handleOf(e.sourceHandle) ?? null,
    handleOf(e.targetHandle) ?? null,
  ]);
}

/** Edges grouped by key, in order (a repeated key keeps every edge, matched in order). */
function edgesByKey(edges: readonly WorkflowEdge[]): Map<string, WorkflowEdge[]> {
  const byKey = new Map<string, WorkflowEdge[]>();
  for (const e of edges) {
    const k = edgeKey(e);
    const list = byKey.get(k);
    if (list) list.push(e);
    else byKey.set(k, [e]);
  }
  return byKey;
}

function diffNodes(a: readonly WorkflowNode[], b: readonly WorkflowNode[]): WorkflowDiff["nodes"] {
  const before = new Map(a.map((n) => [n.id, n]));
  const after = new Map(b.map((n) => [n.id, n]));
  const added = b.filter((n) => !before.has(n.id)).map((n) => n.id);
  const removed = a.filter((n) => !after.has(n.id)).map((n) => n.id);
  const changed: NodeChange[] = [];
  for (const n of b) {
    const old = before.get(n.id);
    if (old === undefined) continue;
    const fields = changedKeys(old, n, NODE_SKIP);
    if (fields.length > 0) changed.push({ id: n.id, fields });
  }
  return { added, removed, changed };
}

function diffEdges(a: readonly WorkflowEdge[], b: readonly WorkflowEdge[]): WorkflowDiff["edges"] {
  const before = edgesByKey(a);
  const seen = new Map<string, number>();
  const added: EdgeEnds[] = [];
  const changed: EdgeChange[] = [];
  for (const e of b) {
    const k = edgeKey(e);
    const i = seen.get(k) ?? 0;
    seen.set(k, i + 1);
    const old = before.get(k)?.[i];
    if (old === undefined) {
      added.push(endsOf(e));
      continue;
    }
    const fields = changedKeys(old, e, EDGE_SKIP);
    if (fields.length > 0) changed.push({ ...endsOf(e), fields });
  }
  const removed: EdgeEnds[] = [];
  for (const [k, list] of before) {
    for (const e of list.slice(seen.get(k) ?? 0)) removed.push(endsOf(e));
  }
  return { added, removed, changed };
}

/**
 * What changed from definition `a` to definition `b`.
 *
 * @example
 * ```ts
 * import { diffDefinitions } from "./workflow_diff.ts";
 * const a = {
 *   id: "w", name: "one", edges: [{ source: "s", target: "t" }],
 *   nodes: [
 *     { id: "s", type: "source" as const, nodeType: "sequence.numbers", config: { end: 3 } },
 *     { id: "t", type: "sink" as const, nodeType: "memory.collect", config: {} },
 *   ],
 * };
 * const b = {
 *   ...a, name: "two", timeoutMs: 5000, edges: [{ source: "s", target: "u" }],
 *   nodes: [{ ...a.nodes[0], config: { end: 4 } }, { id: "u", type: "sink" as const, nodeType: "console.log", config: {} }],
 * };
 * const d = diffDefinitions(a, b);
 * if (d.nodes.added.join() !== "u" || d.nodes.removed.join() !== "t") throw new Error("nodes");
 * if (d.nodes.changed[0].id !== "s" || d.nodes.changed[0].fields.join() !== "config") throw new Error("changed");
 * if (d.edges.added[0].target !== "u" || d.edges.removed[0].target !== "t") throw new Error("edges");
 * if (d.fields.join() !== "name,timeoutMs") throw new Error("fields");
 * ```
 */
export function diffDefinitions(a: WorkflowDefinition, b: WorkflowDefinition): WorkflowDiff {
  return {
    nodes: diffNodes(a.nodes, b.nodes),
    edges: diffEdges(a.edges, b.edges),
    fields: changedKeys(a, b, TOP_SKIP),
  };
}

/**
 * Whether a diff found nothing.
 *
 * @example
 * ```ts
 * import { diffDefinitions, isEmptyDiff } from "./workflow_diff.ts";
 * const w = { id: "w", name: "w", edges: [], nodes: [{ id: "s", type: "source" as const, nodeType: "sequence.numbers", config: {} }] };
 * if (!isEmptyDiff(diffDefinitions(w, structuredClone(w)))) throw new Error("a copy is unchanged");
 * ```
 */
export function isEmptyDiff(d: WorkflowDiff): boolean {
  return d.nodes.added.length === 0 && d.nodes.removed.length === 0 && d.nodes.changed.length === 0 &&
    d.edges.added.length === 0 && d.edges.removed.length === 0 && d.edges.changed.length === 0 &&
    d.fields.length === 0;
}

/**
 * Why a live execution of `from` cannot move to `to`; empty when it may. `nodeStatus` maps node ids to their
 * status in the execution (the view's words). A node that is `completed`, `running` or `waiting`
 * ({@link MIGRATION_PINNED_STATUSES}) must still be in `to` (`node_removed`) with the same `type` and
 * `nodeType` (`node_kind_changed`); other nodes (pending, skipped, failed, cancelled) may change freely, and
 * so may a pinned node's config. Both definitions must be of one workflow (`workflow_mismatch` at `$.id`).
 * Problems come in `from`'s node order.
 *
 * @example
 * ```ts
 * import { migrationProblems } from "./workflow_diff.ts";
 * const from = {
 *   id: "w", name: "w", edges: [{ source: "s", target: "t" }],
 *   nodes: [
 *     { id: "s", type: "source" as const, nodeType: "sequence.numbers", config: {} },
 *     { id: "t", type: "sink" as const, nodeType: "memory.collect", config: {} },
 *   ],
 * };
 * const to = { ...from, edges: [], nodes: [{ ...from.nodes[0], nodeType: "random.numbers" }] };
 * const problems = migrationProblems(from, to, { s: "completed", t: "pending" });
 * if (problems.length !== 1 || problems[0].code !== "node_kind_changed") throw new Error("s changed kind");
 * if (problems[0].path !== "$.nodes[0].nodeType") throw new Error(problems[0].path);
 * if (migrationProblems(from, to, { s: "pending", t: "pending" }).length !== 0) throw new Error("nothing ran");
 * ```
 */
export function migrationProblems(
  from: WorkflowDefinition,
  to: WorkflowDefinition,
  nodeStatus: Readonly<Record<string, string>>,
): MigrationProblem[] {
  const problems: MigrationProblem[] = [];
  if (from.id !== to.id) {
    problems.push({
      path: "$.id",
      code: "workflow_mismatch",
      message: `the target is workflow ${JSON.stringify(to.id)}, not ${JSON.stringify(from.id)}`,
    });
  }
  const source = new Map(from.nodes.map((n, i) => [n.id, { node: n, index: i }]));
  const target = new Map(to.nodes.map((n, i) => [n.id, { node: n, index: i }]));
  // Nodes of `from` first, in order, then any other node the execution names (in the order given).
  const ids = [...source.keys(), ...Object.keys(nodeStatus).filter((id) => !source.has(id))];
  for (const id of ids) {
    const status = Object.hasOwn(nodeStatus, id) ? nodeStatus[id] : undefined;
    if (status === undefined || !MIGRATION_PINNED_STATUSES.has(status)) continue;
    const old = source.get(id);
    const now = target.get(id);
    if (now === undefined) {
      problems.push({
        path: old !== undefined ? `$.nodes[${old.index}]` : "$.nodes",
        code: "node_removed",
        message: `node ${JSON.stringify(id)} is ${status} in the execution but the target version removed it`,
      });
      continue;
    }
    for (const key of ["type", "nodeType"] as const) {
      if (old !== undefined && old.node[key] !== now.node[key]) {
        problems.push({
          path: `$.nodes[${now.index}].${key}`,
          code: "node_kind_changed",
          message: `node ${JSON.stringify(id)} is ${status} in the execution but its ${key} changed from ` +
            `${JSON.stringify(old.node[key])} to ${JSON.stringify(now.node[key])}`,
        });
      }
    }
  }
  return problems;
}
