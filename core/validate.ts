/**
 * Validation of a posted workflow definition. It reports every problem at once,
 * each with a JSON path (`$.nodes[2].config.limit`) and a stable code from
 * {@link PROBLEM_CODES}, and on success returns the normalised workflow: every
 * node's `config` checked against its kind's schema (defaults filled, numeric
 * strings coerced), every other key of the workflow, its nodes and its edges kept
 * as-is so that UI data round-trips.
 *
 * Expression fields are only type-checked here; their syntax is checked by the
 * server layer, which owns the expression library.
 *
 * @module
 */
import { BUILTIN_CATALOG, type Catalog } from "./catalog_set.ts";
import { findCycle } from "./graph.ts";
import { utf8Length } from "./json.ts";
import type { Problem } from "./schema.ts";
import type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from "./workflow.ts";
import { validateEdges } from "./validate_edges.ts";
import { type NodeInfo, validateNode } from "./validate_node.ts";
import { isObject, PROBLEM_CODES as C, Problems, typeOf } from "./validate_problems.ts";

export { MAX_RETENTION_MS, MAX_TIMEOUT_MS, PROBLEM_CODES, type ProblemCode } from "./validate_problems.ts";

/** Size limits of one workflow definition. */
export interface WorkflowLimits {
  /** Most nodes in a workflow. */
  maxNodes: number;
  /** Most edges in a workflow. */
  maxEdges: number;
  /** Most UTF-8 bytes of the workflow's JSON text (`JSON.stringify(input)`). */
  maxBytes: number;
}

/** The default limits: 1,000 nodes, 5,000 edges, 1 MiB. */
export const DEFAULT_WORKFLOW_LIMITS: Readonly<WorkflowLimits> = Object.freeze({
  maxNodes: 1000,
  maxEdges: 5000,
  maxBytes: 1_048_576,
});

/** The outcome of {@link validateWorkflow}. */
export type ValidationResult =
  | { ok: true; workflow: WorkflowDefinition }
  | { ok: false; problems: Problem[] };

/**
 * Validates a workflow definition and normalises it. Every problem is reported at
 * once (the one exception: a definition over `maxBytes` reports only `too_large`).
 * The input is never mutated; on success the workflow, its nodes and edges are
 * fresh objects, each node's `config` is the normalised config, and every other
 * key (UI data included) is kept as-is. Nested values other than `config` (such
 * as `position` or `metadata`) are shared with the input, not copied.
 *
 * @example
 * ```ts
 * import { validateWorkflow } from "./validate.ts";
 * const ok = validateWorkflow({
 *   id: "wf-1",
 *   name: "Print",
 *   nodes: [
 *     { id: "n1", type: "source", nodeType: "sequence.numbers", config: { end: "3" } },
 *     { id: "n2", type: "sink", nodeType: "console.log", position: { x: 1, y: 2 } },
 *   ],
 *   edges: [{ source: "n1", target: "n2", sourceHandle: "out" }],
 * });
 * if (!ok.ok || ok.workflow.nodes[0].config.end !== 3) throw new Error("valid");
 *
 * const bad = validateWorkflow({ id: "wf-2", name: "Loop", nodes: [], edges: [{ source: "a", target: "b" }] });
 * if (bad.ok || bad.problems[0].code !== "empty_graph") throw new Error("invalid");
 * ```
 */
export function validateWorkflow(
  input: unknown,
  limits?: Partial<WorkflowLimits>,
  catalog: Catalog = BUILTIN_CATALOG,
): ValidationResult {
  const max = limitsWith(limits);
  const tooLarge = sizeProblem(input, max.maxBytes);
  if (tooLarge) return tooLarge;

  const p = new Problems();
  if (!isObject(input)) {
    p.add("$", C.type, `workflow must be an object, got ${typeOf(input)}`);
    return { ok: false, problems: p.list };
  }
  checkWorkflowFields(input, p);
  const byId = new Map<string, NodeInfo>();
  const nodes = validateNodeList(input.nodes, max.maxNodes, p, byId, catalog);
  const edges = validateEdgeList(input.edges, max.maxEdges, p, byId, nodes !== undefined);

  if (p.list.length > 0) return { ok: false, problems: p.list };
  return { ok: true, workflow: { ...input, nodes: nodes ?? [], edges } as WorkflowDefinition };
}

/** The default limits with the given ones in their place. */
function limitsWith(limits: Partial<WorkflowLimits> | undefined): WorkflowLimits {
  const max: WorkflowLimits = { ...DEFAULT_WORKFLOW_LIMITS };
  if (limits) {
    for (const key of ["maxNodes", "maxEdges", "maxBytes"] as const) {
      if (limits[key] !== undefined) max[key] = limits[key];
    }
  }
  return max;
}

/** The failure of a definition that is not JSON or whose JSON text is over `maxBytes`, if it is one. */
function sizeProblem(input: unknown, maxBytes: number): ValidationResult | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    return {
      ok: false,
      problems: [{ path: "$", code: C.type, message: `workflow is not JSON: ${(error as Error)?.message}` }],
    };
  }
  if (json !== undefined) {
    const bytes = utf8Length(json, maxBytes);
    if (bytes > maxBytes) {
      return {
        ok: false,
        problems: [{
          path: "$",
          code: C.tooLarge,
          message: `workflow JSON is larger than ${maxBytes} bytes`,
        }],
      };
    }
  }
  return undefined;
}

/** Checks the workflow's own fields: id, name, the optional descriptive ones, metadata, timeout and retention. */
function checkWorkflowFields(input: Record<string, unknown>, p: Problems): void {
  const id = p.requiredString(input, "id", "$", "workflow id");
  if (id !== undefined) p.id(id, "$.id", "workflow id");
  const name = p.requiredString(input, "name", "$", "workflow name");
  if (name !== undefined && name.trim() === "") {
    p.add("$.name", C.required, "workflow name must not be empty");
  }
  p.optional(input, "description", "string", "$");
  p.optional(input, "version", "string", "$");
  p.optional(input, "author", "string", "$");
  if (p.optional(input, "tags", "array", "$") && Array.isArray(input.tags)) {
    input.tags.forEach((tag, k) => {
      if (typeof tag !== "string") p.add(`$.tags[${k}]`, C.type, `tags must be strings, got ${typeOf(tag)}`);
    });
  }
  if (p.optional(input, "metadata", "object", "$") && isObject(input.metadata)) {
    checkMetadata(input.metadata, p);
  }
  p.timeout(input.timeoutMs, "$.timeoutMs");
  p.retention(input.retentionMs, "$.retentionMs");
  if (p.optional(input, "concurrency", "object", "$") && isObject(input.concurrency)) {
    checkConcurrency(input.concurrency, p);
  }
}

/** The largest concurrency limit of a workflow. */
export const MAX_CONCURRENCY_LIMIT = 10_000;

/** Checks `$.concurrency`: `{key: expression, limit: 1..MAX_CONCURRENCY_LIMIT}`. */
function checkConcurrency(c: Record<string, unknown>, p: Problems): void {
  const key = p.requiredString(c, "key", "$.concurrency", "concurrency key");
  if (key !== undefined && (key.trim() === "" || key.length > 1000)) {
    p.add("$.concurrency.key", C.configRange, "the key is an expression of 1 to 1000 characters");
  }
  const limit = c.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_CONCURRENCY_LIMIT) {
    p.add("$.concurrency.limit", C.configRange, `limit is an integer from 1 to ${MAX_CONCURRENCY_LIMIT}`);
  }
}

/** Checks `$.metadata`: its timestamps and its schedule's fields. */
function checkMetadata(metadata: Record<string, unknown>, p: Problems): void {
  p.optional(metadata, "createdAt", "string", "$.metadata");
  p.optional(metadata, "updatedAt", "string", "$.metadata");
  if (p.optional(metadata, "schedule", "object", "$.metadata") && isObject(metadata.schedule)) {
    const schedule = metadata.schedule;
    const at = "$.metadata.schedule";
    p.optional(schedule, "enabled", "boolean", at);
    p.optional(schedule, "scheduleType", "string", at);
    // A duration ("1h") or ms; the schedule's own checks (core/schedule_spec.ts) run where it is scheduled.
    if (typeof schedule.interval !== "number") p.optional(schedule, "interval", "string", at);
    p.optional(schedule, "cronExpression", "string", at);
  }
}

/**
 * Validates `$.nodes` (present, an array of 1 to `maxNodes` nodes) and each node
 * in it; returns the normalised nodes, or undefined when `nodes` is not an array.
 */
function validateNodeList(
  list: unknown,
  maxNodes: number,
  p: Problems,
  byId: Map<string, NodeInfo>,
  catalog: Catalog,
): WorkflowNode[] | undefined {
  if (list === undefined || list === null) {
    p.add("$.nodes", C.required, "nodes is required");
    return undefined;
  }
  if (!Array.isArray(list)) {
    p.add("$.nodes", C.type, `nodes must be an array, got ${typeOf(list)}`);
    return undefined;
  }
  if (list.length === 0) p.add("$.nodes", C.emptyGraph, "a workflow needs at least one node");
  if (list.length > maxNodes) {
    p.add("$.nodes", C.tooManyNodes, `${list.length} nodes; at most ${maxNodes}`);
  }
  const nodes: WorkflowNode[] = [];
  for (let i = 0; i < list.length; i++) {
    const node = validateNode(list[i], i, p, byId, catalog);
    if (node) nodes.push(node);
  }
  return nodes;
}

/**
 * Validates `$.edges` (present, an array of at most `maxEdges` edges), each edge
 * in it, and that they form no cycle; returns the normalised edges (none when
 * `edges` is not an array).
 */
function validateEdgeList(
  list: unknown,
  maxEdges: number,
  p: Problems,
  byId: Map<string, NodeInfo>,
  nodesKnown: boolean,
): WorkflowEdge[] {
  if (list === undefined || list === null) {
    p.add("$.edges", C.required, "edges is required");
    return [];
  }
  if (!Array.isArray(list)) {
    p.add("$.edges", C.type, `edges must be an array, got ${typeOf(list)}`);
    return [];
  }
  if (list.length > maxEdges) {
    p.add("$.edges", C.tooManyEdges, `${list.length} edges; at most ${maxEdges}`);
  }
  const checked = validateEdges(list, p, byId, nodesKnown);
  const cycle = findCycle([...byId.keys()], checked.graph);
  if (cycle !== undefined) {
    p.add("$.edges", C.cycle, `cycle: ${[...cycle, cycle[0]].join(" → ")}`);
  }
  return checked.normalised;
}
