/**
 * Validation of one node of a workflow definition: its id (unique in the
 * workflow), its kind in the catalog, its config against the kind's schema and
 * its other fields. Problems go to the validation's {@link Problems}.
 *
 * @module
 */
import type { NodeKindSpec } from "./catalog.ts";
import { BUILTIN_CATALOG, type Catalog } from "./catalog_set.ts";
import { checkConfig } from "./schema.ts";
import { firstSecretRef, secretRefProblems } from "./secret_ref.ts";
import { NODE_CATEGORIES, type WorkflowNode } from "./workflow.ts";
import {
  hasType,
  isObject,
  type Json,
  PROBLEM_CODES as C,
  type Problems,
  show,
  typeOf,
} from "./validate_problems.ts";

/** Known nodeTypes per category (palette order) and categories per nodeType, for messages. */
interface KindIndex {
  byCategory: Map<string, string[]>;
  categoriesOf: Map<string, string[]>;
}

const KIND_INDEXES = new WeakMap<Catalog, KindIndex>();

function kindIndex(catalog: Catalog): KindIndex {
  let index = KIND_INDEXES.get(catalog);
  if (index) return index;
  index = { byCategory: new Map(), categoriesOf: new Map() };
  for (const kind of catalog.kinds) {
    index.byCategory.set(kind.type, [...(index.byCategory.get(kind.type) ?? []), kind.nodeType]);
    index.categoriesOf.set(kind.nodeType, [...(index.categoriesOf.get(kind.nodeType) ?? []), kind.type]);
  }
  KIND_INDEXES.set(catalog, index);
  return index;
}

/** What the edge checks need to know about a node: its first index and its kind. */
export interface NodeInfo {
  index: number;
  kind: NodeKindSpec | undefined;
  /** The node's output handles (its kind's, or those its config gives, for a switch). */
  outputs?: readonly string[];
}

/**
 * Validates the node at `$.nodes[i]`, records its id in `byId` (the first node
 * with an id wins), and returns it normalised (its `config` checked, defaults
 * filled) unless it is not an object.
 */
export function validateNode(
  node: unknown,
  i: number,
  p: Problems,
  byId: Map<string, NodeInfo>,
  catalog: Catalog = BUILTIN_CATALOG,
): WorkflowNode | undefined {
  const path = `$.nodes[${i}]`;
  if (!isObject(node)) {
    p.add(path, C.type, `node must be an object, got ${typeOf(node)}`);
    return undefined;
  }
  const info = registerNodeId(node, i, path, p, byId);
  const kind = resolveKind(node, path, p, catalog);
  if (info) info.kind = kind;
  const config = checkNodeConfig(node, kind, `${path}.config`, p);
  if (info && kind) info.outputs = kind.outputsOf ? kind.outputsOf(config ?? {}) : kind.outputs;
  checkSecretRefs(node.config, kind, `${path}.config`, p);
  checkOtherNodeFields(node, path, p);
  return { ...node, config: config ?? {} } as WorkflowNode;
}

/** Checks a node's id and records it in `byId`, unless it is missing, not a string or a duplicate. */
function registerNodeId(
  node: Json,
  i: number,
  path: string,
  p: Problems,
  byId: Map<string, NodeInfo>,
): NodeInfo | undefined {
  const id = p.requiredString(node, "id", path, "node id");
  if (id === undefined) return undefined;
  p.id(id, `${path}.id`, "node id");
  const first = byId.get(id);
  if (first !== undefined) {
    p.add(
      `${path}.id`,
      C.duplicateNodeId,
      `duplicate node id ${show(id)}: already used by $.nodes[${first.index}]`,
    );
    return undefined;
  }
  const info: NodeInfo = { index: i, kind: undefined };
  byId.set(id, info);
  return info;
}

/** A node's kind in the catalog, from its `type` (category) and `nodeType`, when both name one. */
function resolveKind(node: Json, path: string, p: Problems, catalog: Catalog): NodeKindSpec | undefined {
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
  if (category === undefined || nodeType === undefined) return undefined;
  const kind = catalog.find(category, nodeType);
  if (kind === undefined) {
    const index = kindIndex(catalog);
    const known = index.byCategory.get(category) ?? [];
    const elsewhere = index.categoriesOf.get(nodeType);
    const hint = elsewhere ? ` (${nodeType} is a ${elsewhere.join(" or a ")} kind)` : "";
    p.add(
      `${path}.nodeType`,
      C.unknownNodeKind,
      `unknown ${category} kind ${show(nodeType)}${hint}; known ${category} nodeTypes: ${known.join(", ")}`,
    );
  }
  return kind;
}

/**
 * Checks a node's config against its kind's schema and cross-field check and
 * returns the normalised config; without a kind, only that the config is an object.
 */
function checkNodeConfig(
  node: Json,
  kind: NodeKindSpec | undefined,
  configPath: string,
  p: Problems,
): Record<string, unknown> | undefined {
  if (kind === undefined) {
    if (node.config !== undefined && node.config !== null && !isObject(node.config)) {
      p.add(configPath, C.configType, `config must be an object, got ${typeOf(node.config)}`);
    }
    return undefined;
  }
  const checked = kind.parseConfig
    ? kind.parseConfig(node.config ?? {}, configPath)
    : checkConfig(kind.config, node.config, configPath);
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
  return checked.config;
}

/**
 * Checks the `{"$secret": "NAME"}` references in a node's config: each well-formed, and none in a kind the
 * engine reads itself (delay, signal), since only an executor's config is resolved.
 */
function checkSecretRefs(
  config: unknown,
  kind: NodeKindSpec | undefined,
  configPath: string,
  p: Problems,
): void {
  for (const problem of secretRefProblems(config, configPath)) p.list.push(problem);
  if (kind && kind.behaviour !== "task" && kind.behaviour !== "condition") {
    const at = firstSecretRef(config, configPath);
    if (at !== undefined) {
      p.add(
        at,
        C.secretRef,
        `a ${kind.nodeType} node's config is read by the engine itself, not by an executor: it cannot use a secret`,
      );
    }
  }
}

/** Checks a node's optional fields: label, style, position, retry policy and timeout. */
function checkOtherNodeFields(node: Json, path: string, p: Problems): void {
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
}
