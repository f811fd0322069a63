/**
 * A plan: a validated workflow definition compiled for execution (parents and
 * children per node in edge order, effective policies). Immutable; every
 * execution of one workflow version shares it.
 *
 * @module
 */
import type { NodeCategory, RetryPolicy, WorkflowDefinition } from "./workflow.ts";
import { delayMs, type NodeBehaviour } from "./catalog.ts";
import { BUILTIN_CATALOG, type Catalog } from "./catalog_set.ts";
import { FOREACH_MAX_CONCURRENCY, FOREACH_MAX_ITEMS } from "./catalog_control.ts";
import { retryPolicy } from "./policy.ts";

/** The handle an edge uses when it names none. */
export const DEFAULT_TARGET_HANDLE = "in";

/** An edge of a plan. */
export interface PlanEdge {
  index: number;
  source: string;
  target: string;
  /** `undefined` for the default output. */
  sourceHandle: string | undefined;
  targetHandle: string;
}

/** A node of a plan. */
export interface PlanNode {
  id: string;
  index: number;
  type: NodeCategory;
  nodeType: string;
  behaviour: NodeBehaviour;
  /** The kind runs inside the engine with no outside effect (`NodeKindSpec.local`). */
  local: boolean;
  config: Record<string, unknown>;
  retry: RetryPolicy;
  /** The definition gives the node a `retry` policy of its own (so even a non-idempotent call is retried). */
  retryDeclared: boolean;
  timeoutMs: number | null;
  /** Incoming edges, in edge order. */
  parents: PlanEdge[];
  /** Outgoing edges, in edge order. */
  children: PlanEdge[];
  /** Delay nodes: the delay. */
  delayMs: number;
  /** Signal nodes: the signal awaited. */
  signalName: string | undefined;
  /** The output handles a condition or switch may name. */
  handles: readonly string[];
  /** `workflow.run` and `foreach` nodes: what they run. */
  subflow: ChildrenSpec | undefined;
  /** `terminate` nodes: how the execution ends. */
  terminate: { status: "completed" | "failed"; reason: string } | undefined;
}

/** What a `workflow.run` or `foreach` node runs, and how. */
export interface ChildrenSpec {
  /** `foreach`: one child per record; `workflow.run`: one child with every record. */
  each: boolean;
  workflowId: string;
  /** A pinned version; `null`: the latest when the child starts. */
  version: number | null;
  maxConcurrency: number;
  maxItems: number;
  /** Failed children tolerated before the node fails (fail_fast: 0). */
  toleratedFailures: number;
}

function childrenSpec(nodeType: string, config: Record<string, unknown>): ChildrenSpec {
  const each = nodeType === "foreach";
  const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
  return {
    each,
    workflowId: String(config.workflow),
    version: typeof config.version === "number" ? config.version : null,
    maxConcurrency: each ? num(config.maxConcurrency, FOREACH_MAX_CONCURRENCY.default) : 1,
    maxItems: each ? num(config.maxItems, FOREACH_MAX_ITEMS.default) : 1,
    toleratedFailures: each && config.failurePolicy === "continue"
      ? num(config.toleratedFailureCount, Number.MAX_SAFE_INTEGER)
      : 0,
  };
}

/** A compiled workflow version. */
export interface Plan {
  workflowId: string;
  version: number;
  nodes: readonly PlanNode[];
  byId: ReadonlyMap<string, PlanNode>;
  /** Execution timeout, if any. */
  timeoutMs: number | null;
  /** How long an ended execution keeps its history (0: forever); `null`: the node's `--retention`. */
  retentionMs: number | null;
  /** Signal names some node awaits. */
  signals: ReadonlySet<string>;
  /** The workflow's concurrency key (an expression over the input) and its limit. */
  concurrency: { key: string; limit: number } | null;
  /** Whether every node is local (no effect outside the execution): such a workflow may run inline. */
  allLocal: boolean;
}

/**
 * Compiles a definition that `validateWorkflow` accepted. Asserts what validation
 * guarantees (known kinds, known edge ends) and throws if it does not hold.
 */
export function compilePlan(
  def: WorkflowDefinition,
  version: number,
  catalog: Catalog = BUILTIN_CATALOG,
): Plan {
  const byId = new Map<string, PlanNode>();
  const nodes = def.nodes.map((n, index): PlanNode => {
    const kind = catalog.find(n.type, n.nodeType);
    if (!kind) {
      throw new Error(
        `node kind ${n.type}/${n.nodeType} of workflow ${def.id} is not defined on this engine ` +
          "(an application's kind: pass it to createEngine's nodeKinds on every member)",
      );
    }
    const node: PlanNode = {
      id: n.id,
      index,
      type: n.type,
      nodeType: n.nodeType,
      behaviour: kind.behaviour,
      local: kind.local === true,
      config: n.config,
      retry: retryPolicy(n.retry),
      retryDeclared: n.retry !== undefined,
      timeoutMs: typeof n.timeoutMs === "number" ? n.timeoutMs : null,
      parents: [],
      children: [],
      delayMs: kind.behaviour === "delay" ? delayMs(n.config) : 0,
      signalName: kind.behaviour === "signal" ? String(n.config.name) : undefined,
      handles: kind.outputsOf ? kind.outputsOf(n.config) : kind.outputs,
      subflow: kind.behaviour === "children" ? childrenSpec(n.nodeType, n.config) : undefined,
      terminate: kind.behaviour === "terminate"
        ? {
          status: n.config.status === "failed" ? "failed" : "completed",
          reason: String(n.config.reason ?? "terminated"),
        }
        : undefined,
    };
    byId.set(n.id, node);
    return node;
  });
  def.edges.forEach((e, index) => {
    const source = byId.get(e.source);
    const target = byId.get(e.target);
    if (!source || !target) {
      throw new Error(`assertion: edge ${index} names an unknown node in a validated plan`);
    }
    const edge: PlanEdge = {
      index,
      source: e.source,
      target: e.target,
      sourceHandle: source.behaviour === "condition" ? e.sourceHandle : undefined,
      targetHandle: e.targetHandle ?? DEFAULT_TARGET_HANDLE,
    };
    source.children.push(edge);
    target.parents.push(edge);
  });
  const signals = new Set(nodes.flatMap((n) => (n.signalName === undefined ? [] : [n.signalName])));
  return {
    workflowId: def.id,
    version,
    nodes,
    byId,
    timeoutMs: typeof def.timeoutMs === "number" ? def.timeoutMs : null,
    retentionMs: typeof def.retentionMs === "number" ? def.retentionMs : null,
    signals,
    concurrency: def.concurrency ? { key: def.concurrency.key, limit: def.concurrency.limit } : null,
    allLocal: nodes.every((n) => n.local),
  };
}

/**
 * The node `nodeId` of `plan`, asserted to exist: for ids the plan itself or its committed events produced,
 * where a miss is a broken invariant (the caller's own lookups of user input use `plan.byId.get`).
 *
 * @example
 * ```ts
 * import { compilePlan, planNode } from "./plan.ts";
 * import { oldEngineSample } from "./samples.ts";
 * const plan = compilePlan(oldEngineSample(), 1);
 * if (planNode(plan, plan.nodes[0].id) !== plan.nodes[0]) throw new Error("the same node");
 * ```
 */
export function planNode(plan: Plan, nodeId: string): PlanNode {
  const node = plan.byId.get(nodeId);
  if (node === undefined) {
    throw new Error(`assertion: node ${nodeId} is not in ${plan.workflowId}@${plan.version}`);
  }
  return node;
}
