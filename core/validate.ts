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
import { CATALOG, findKind, type NodeKindSpec } from "./catalog.ts";
import { findCycle, type GraphEdge } from "./graph.ts";
import { utf8Length } from "./json.ts";
import { checkConfig, type Problem } from "./schema.ts";
import {
  NODE_CATEGORIES,
  type WorkflowDefinition,
  type WorkflowEdge,
  type WorkflowNode,
} from "./workflow.ts";

/** Every code a workflow problem can have. */
export const PROBLEM_CODES = {
  /** Not an object, or a field of the wrong JSON type. */
  type: "type",
  /** A required field is missing. */
  required: "required",
  /** A workflow or node id is not 1..128 characters of `[A-Za-z0-9._:-]`. */
  idFormat: "id_format",
  /** The workflow has no nodes. */
  emptyGraph: "empty_graph",
  /** Two nodes share an id (reported at the second one). */
  duplicateNodeId: "duplicate_node_id",
  /** Two edges share source, target, source handle and target handle. */
  duplicateEdge: "duplicate_edge",
  /** An edge's source or target names no node. */
  unknownNode: "unknown_node",
  /** The edges form a cycle. */
  cycle: "cycle",
  /** The (`type`, `nodeType`) pair is not in the catalog. */
  unknownNodeKind: "unknown_node_kind",
  /** `type` is not one of source, transform, sink, control. */
  unknownNodeType: "unknown_node_type",
  /** A required config field is missing. */
  configMissing: "config_missing",
  /** A config field has the wrong type. */
  configType: "config_type",
  /** A config field is not one of its allowed values. */
  configEnum: "config_enum",
  /** A config field is out of its bounds. */
  configRange: "config_range",
  /** An edge leads into a node kind that takes no input. */
  sourceHasInput: "source_has_input",
  /** An edge leaves a node kind that has no outputs. */
  sinkHasOutput: "sink_has_output",
  /** An edge's source handle is not one of its source kind's outputs. */
  unknownHandle: "unknown_handle",
  /** More nodes than `maxNodes`. */
  tooManyNodes: "too_many_nodes",
  /** More edges than `maxEdges`. */
  tooManyEdges: "too_many_edges",
  /** The JSON text is larger than `maxBytes`. */
  tooLarge: "too_large",
  /** A node's retry policy is malformed. */
  retryPolicy: "retry_policy",
  /** A node's or the workflow's `timeoutMs` is not a positive integer ≤ 7 days. */
  timeout: "timeout",
} as const;

/** A workflow problem code. */
export type ProblemCode = (typeof PROBLEM_CODES)[keyof typeof PROBLEM_CODES];

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

/** The longest `timeoutMs` accepted: 7 days. */
export const MAX_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;

const ID_FORMAT = /^[A-Za-z0-9._:-]{1,128}$/;
const C = PROBLEM_CODES;

/** Known nodeTypes per category, in palette order, for messages. */
const NODE_TYPES_BY_CATEGORY = new Map<string, string[]>();
for (const kind of CATALOG) {
  const list = NODE_TYPES_BY_CATEGORY.get(kind.type) ?? [];
  list.push(kind.nodeType);
  NODE_TYPES_BY_CATEGORY.set(kind.type, list);
}
const CATEGORIES_BY_NODE_TYPE = new Map<string, string[]>();
for (const kind of CATALOG) {
  const list = CATEGORIES_BY_NODE_TYPE.get(kind.nodeType) ?? [];
  list.push(kind.type);
  CATEGORIES_BY_NODE_TYPE.set(kind.nodeType, list);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return typeOf(value);
}

type Expected = "string" | "boolean" | "object" | "array" | "number";

function hasType(value: unknown, expected: Expected): boolean {
  switch (expected) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
  }
}

/** Collects problems; one instance per validation. */
class Problems {
  readonly list: Problem[] = [];

  add(path: string, code: ProblemCode | string, message: string): void {
    this.list.push({ path, code, message });
  }

  /** An optional field: when present, it must have the expected JSON type. */
  optional(obj: Json, key: string, expected: Expected, path: string): boolean {
    const value = obj[key];
    if (value === undefined) return true;
    if (hasType(value, expected)) return true;
    this.add(`${path}.${key}`, C.type, `${key} must be ${article(expected)}, got ${typeOf(value)}`);
    return false;
  }

  /** A required string field: present and a string. Returns it when it is one. */
  requiredString(obj: Json, key: string, path: string, what: string): string | undefined {
    const value = obj[key];
    if (value === undefined || value === null) {
      this.add(`${path}.${key}`, C.required, `${what} is required`);
      return undefined;
    }
    if (typeof value !== "string") {
      this.add(`${path}.${key}`, C.type, `${what} must be a string, got ${typeOf(value)}`);
      return undefined;
    }
    return value;
  }

  id(value: string, path: string, what: string): void {
    if (!ID_FORMAT.test(value)) {
      this.add(path, C.idFormat, `${what} ${show(value)} must be 1 to 128 characters of A-Z a-z 0-9 . _ : -`);
    }
  }

  timeout(value: unknown, path: string): void {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > MAX_TIMEOUT_MS) {
      this.add(
        path,
        C.timeout,
        `timeoutMs must be a positive integer of milliseconds ≤ ${MAX_TIMEOUT_MS} (7 days), got ${
          typeof value === "number" ? value : typeOf(value)
        }`,
      );
    }
  }

  retry(value: unknown, path: string): void {
    if (value === undefined) return;
    if (!isObject(value)) {
      this.add(path, C.retryPolicy, `retry must be an object, got ${typeOf(value)}`);
      return;
    }
    const num = (key: string): number | undefined => {
      const v = value[key];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) {
        this.add(`${path}.${key}`, C.retryPolicy, `${key} must be a number, got ${typeOf(v)}`);
        return undefined;
      }
      return v;
    };
    const maxAttempts = num("maxAttempts");
    if (
      maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100)
    ) {
      this.add(
        `${path}.maxAttempts`,
        C.retryPolicy,
        `maxAttempts must be an integer from 1 to 100, got ${maxAttempts}`,
      );
    }
    const initial = num("initialIntervalMs");
    if (initial !== undefined && initial < 0) {
      this.add(`${path}.initialIntervalMs`, C.retryPolicy, `initialIntervalMs must be ≥ 0, got ${initial}`);
    }
    const coefficient = num("backoffCoefficient");
    if (coefficient !== undefined && coefficient < 1) {
      this.add(
        `${path}.backoffCoefficient`,
        C.retryPolicy,
        `backoffCoefficient must be ≥ 1, got ${coefficient}`,
      );
    }
    const max = num("maxIntervalMs");
    if (max !== undefined) {
      if (max < 0) {
        this.add(`${path}.maxIntervalMs`, C.retryPolicy, `maxIntervalMs must be ≥ 0, got ${max}`);
      } else if (initial !== undefined && initial >= 0 && max < initial) {
        this.add(
          `${path}.maxIntervalMs`,
          C.retryPolicy,
          `maxIntervalMs (${max}) must be ≥ initialIntervalMs (${initial})`,
        );
      }
    }
  }
}

function article(expected: Expected): string {
  return expected === "array" || expected === "object" ? `an ${expected}` : `a ${expected}`;
}

/** What the edge checks need to know about a node: its first index and its kind. */
interface NodeInfo {
  index: number;
  kind: NodeKindSpec | undefined;
}

function validateNode(
  node: unknown,
  i: number,
  p: Problems,
  byId: Map<string, NodeInfo>,
): WorkflowNode | undefined {
  const path = `$.nodes[${i}]`;
  if (!isObject(node)) {
    p.add(path, C.type, `node must be an object, got ${typeOf(node)}`);
    return undefined;
  }

  const id = p.requiredString(node, "id", path, "node id");
  let info: NodeInfo | undefined;
  if (id !== undefined) {
    p.id(id, `${path}.id`, "node id");
    const first = byId.get(id);
    if (first !== undefined) {
      p.add(
        `${path}.id`,
        C.duplicateNodeId,
        `duplicate node id ${show(id)}: already used by $.nodes[${first.index}]`,
      );
    } else {
      info = { index: i, kind: undefined };
      byId.set(id, info);
    }
  }

  const type = p.requiredString(node, "type", path, "node type");
  let category: string | undefined;
  if (type !== undefined) {
    if ((NODE_CATEGORIES as readonly string[]).includes(type)) category = type;
    else {
      p.add(
        `${path}.type`,
        C.unknownNodeType,
        `node type must be one of ${NODE_CATEGORIES.join(", ")}, got ${show(type)}`,
      );
    }
  }
  const nodeType = p.requiredString(node, "nodeType", path, "nodeType");

  let kind: NodeKindSpec | undefined;
  if (category !== undefined && nodeType !== undefined) {
    kind = findKind(category, nodeType);
    if (kind === undefined) {
      const known = NODE_TYPES_BY_CATEGORY.get(category) ?? [];
      const elsewhere = CATEGORIES_BY_NODE_TYPE.get(nodeType);
      const hint = elsewhere ? ` (${nodeType} is a ${elsewhere.join(" or a ")} kind)` : "";
      p.add(
        `${path}.nodeType`,
        C.unknownNodeKind,
        `unknown ${category} kind ${show(nodeType)}${hint}; known ${category} nodeTypes: ${known.join(", ")}`,
      );
    }
  }
  if (info) info.kind = kind;

  const configPath = `${path}.config`;
  let config: Record<string, unknown> | undefined;
  if (kind !== undefined) {
    const checked = checkConfig(kind.config, node.config, configPath);
    const before = p.list.length;
    for (const problem of checked.problems) p.list.push(problem);
    const configIsObject = node.config === undefined || node.config === null || isObject(node.config);
    if (kind.check && configIsObject) {
      const seen = new Set(checked.problems.map((q) => `${q.code} ${q.path}`));
      try {
        for (const problem of kind.check(checked.config, configPath)) {
          if (!seen.has(`${problem.code} ${problem.path}`)) p.list.push(problem);
        }
      } catch (error) {
        // A cross-field check may trip over a field already reported as ill-typed.
        if (p.list.length === before) {
          p.add(
            configPath,
            C.configType,
            `config check failed: ${(error as Error)?.message ?? String(error)}`,
          );
        }
      }
    }
    config = checked.config;
  } else if (node.config !== undefined && node.config !== null && !isObject(node.config)) {
    p.add(configPath, C.configType, `config must be an object, got ${typeOf(node.config)}`);
  }

  p.optional(node, "label", "string", path);
  p.optional(node, "style", "object", path);
  if (p.optional(node, "position", "object", path) && node.position !== undefined) {
    const position = node.position as Json;
    for (const axis of ["x", "y"]) {
      if (!hasType(position[axis], "number")) {
        p.add(
          `${path}.position.${axis}`,
          C.type,
          `position.${axis} must be a number, got ${typeOf(position[axis])}`,
        );
      }
    }
  }
  p.retry(node.retry, `${path}.retry`);
  p.timeout(node.timeoutMs, `${path}.timeoutMs`);

  return { ...node, config: config ?? {} } as WorkflowNode;
}

function validateEdges(
  edges: readonly unknown[],
  p: Problems,
  byId: Map<string, NodeInfo>,
  nodesKnown: boolean,
): { normalised: WorkflowEdge[]; graph: GraphEdge[] } {
  const normalised: WorkflowEdge[] = [];
  const graph: GraphEdge[] = [];
  const firstByKey = new Map<string, number>();
  for (let j = 0; j < edges.length; j++) {
    const edge = edges[j];
    const path = `$.edges[${j}]`;
    if (!isObject(edge)) {
      p.add(path, C.type, `edge must be an object, got ${typeOf(edge)}`);
      continue;
    }
    const end = (key: "source" | "target"): { id?: string; info?: NodeInfo } => {
      const id = p.requiredString(edge, key, path, `edge ${key}`);
      if (id === undefined || !nodesKnown) return { id };
      const info = byId.get(id);
      if (info === undefined) p.add(`${path}.${key}`, C.unknownNode, `edge ${key} ${show(id)} names no node`);
      return { id, info };
    };
    const source = end("source");
    const target = end("target");

    // React Flow sends `null` for "no handle": treated (and normalised) as absent.
    const handle = (key: "sourceHandle" | "targetHandle"): string | undefined => {
      const value = edge[key];
      if (value === undefined || value === null) return undefined;
      if (typeof value === "string") return value;
      p.add(`${path}.${key}`, C.type, `${key} must be a string, got ${typeOf(value)}`);
      return undefined;
    };
    const sourceHandle = handle("sourceHandle");
    const targetHandle = handle("targetHandle");
    p.optional(edge, "id", "string", path);
    p.optional(edge, "label", "string", path);
    p.optional(edge, "animated", "boolean", path);
    p.optional(edge, "style", "object", path);

    const sourceKind = source.info?.kind;
    const targetKind = target.info?.kind;
    if (sourceKind !== undefined) {
      const outputs = sourceKind.outputs;
      const node = `${show(source.id)}, a ${sourceKind.type}/${sourceKind.nodeType} node`;
      if (outputs.length === 0) {
        p.add(`${path}.source`, C.sinkHasOutput, `edge leaves ${node}, which has no outputs`);
      } else if (sourceHandle === undefined ? outputs.length > 1 : !outputs.includes(sourceHandle)) {
        const what = sourceHandle === undefined
          ? "a sourceHandle is required"
          : `unknown sourceHandle ${show(sourceHandle)}`;
        p.add(`${path}.sourceHandle`, C.unknownHandle, `${what}: ${node} has outputs ${outputs.join(", ")}`);
      }
    }
    if (targetKind !== undefined && !targetKind.acceptsInput) {
      const node = `${show(target.id)}, a ${targetKind.type}/${targetKind.nodeType} node`;
      p.add(`${path}.target`, C.sourceHasInput, `edge leads into ${node}, which takes no input`);
    }

    if (source.id !== undefined && target.id !== undefined) {
      // A missing sourceHandle is the kind's only output, so it equals "out" written out.
      const effectiveHandle = sourceHandle ??
        (sourceKind !== undefined && sourceKind.outputs.length === 1 ? sourceKind.outputs[0] : null);
      // "\u0000" cannot occur in a valid id; "\u0001" marks an absent handle.
      const key = `${source.id}\u0000${target.id}\u0000${effectiveHandle ?? "\u0001"}\u0000${
        targetHandle ?? "\u0001"
      }`;
      const first = firstByKey.get(key);
      if (first !== undefined) {
        p.add(
          path,
          C.duplicateEdge,
          `duplicate edge ${show(source.id)} → ${show(target.id)}: same as $.edges[${first}]`,
        );
      } else firstByKey.set(key, j);
      if (source.info !== undefined && target.info !== undefined) {
        graph.push({ source: source.id, target: target.id });
      }
    }

    const out: WorkflowEdge = { ...edge } as WorkflowEdge;
    if (out.sourceHandle === null) delete out.sourceHandle;
    if (out.targetHandle === null) delete out.targetHandle;
    normalised.push(out);
  }
  return { normalised, graph };
}

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
export function validateWorkflow(input: unknown, limits?: Partial<WorkflowLimits>): ValidationResult {
  const max: WorkflowLimits = { ...DEFAULT_WORKFLOW_LIMITS };
  if (limits) {
    for (const key of ["maxNodes", "maxEdges", "maxBytes"] as const) {
      if (limits[key] !== undefined) max[key] = limits[key];
    }
  }

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
    const bytes = utf8Length(json, max.maxBytes);
    if (bytes > max.maxBytes) {
      return {
        ok: false,
        problems: [{
          path: "$",
          code: C.tooLarge,
          message: `workflow JSON is larger than ${max.maxBytes} bytes`,
        }],
      };
    }
  }

  const p = new Problems();
  if (!isObject(input)) {
    p.add("$", C.type, `workflow must be an object, got ${typeOf(input)}`);
    return { ok: false, problems: p.list };
  }

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
    const metadata = input.metadata;
    p.optional(metadata, "createdAt", "string", "$.metadata");
    p.optional(metadata, "updatedAt", "string", "$.metadata");
    if (p.optional(metadata, "schedule", "object", "$.metadata") && isObject(metadata.schedule)) {
      const schedule = metadata.schedule;
      const at = "$.metadata.schedule";
      p.optional(schedule, "enabled", "boolean", at);
      p.optional(schedule, "scheduleType", "string", at);
      p.optional(schedule, "interval", "string", at);
      p.optional(schedule, "cronExpression", "string", at);
    }
  }
  p.timeout(input.timeoutMs, "$.timeoutMs");

  const byId = new Map<string, NodeInfo>();
  const nodes: WorkflowNode[] = [];
  let nodesKnown = false;
  if (input.nodes === undefined || input.nodes === null) p.add("$.nodes", C.required, "nodes is required");
  else if (!Array.isArray(input.nodes)) {
    p.add("$.nodes", C.type, `nodes must be an array, got ${typeOf(input.nodes)}`);
  } else {
    nodesKnown = true;
    if (input.nodes.length === 0) p.add("$.nodes", C.emptyGraph, "a workflow needs at least one node");
    if (input.nodes.length > max.maxNodes) {
      p.add("$.nodes", C.tooManyNodes, `${input.nodes.length} nodes; at most ${max.maxNodes}`);
    }
    for (let i = 0; i < input.nodes.length; i++) {
      const node = validateNode(input.nodes[i], i, p, byId);
      if (node) nodes.push(node);
    }
  }

  let edges: WorkflowEdge[] = [];
  if (input.edges === undefined || input.edges === null) p.add("$.edges", C.required, "edges is required");
  else if (!Array.isArray(input.edges)) {
    p.add("$.edges", C.type, `edges must be an array, got ${typeOf(input.edges)}`);
  } else {
    if (input.edges.length > max.maxEdges) {
      p.add("$.edges", C.tooManyEdges, `${input.edges.length} edges; at most ${max.maxEdges}`);
    }
    const checked = validateEdges(input.edges, p, byId, nodesKnown);
    edges = checked.normalised;
    const cycle = findCycle([...byId.keys()], checked.graph);
    if (cycle !== undefined) {
      p.add("$.edges", C.cycle, `cycle: ${[...cycle, cycle[0]].join(" → ")}`);
    }
  }

  if (p.list.length > 0) return { ok: false, problems: p.list };
  return { ok: true, workflow: { ...input, nodes, edges } as WorkflowDefinition };
}
