/**
 * The workflow definition model. It accepts the old engine's JSON as-is: UI data
 * (`position`, `style`, `label`, `animated`) is kept and round-tripped but never
 * used by execution.
 *
 * @module
 */

/** The four node categories. A node kind is the pair (`type`, `nodeType`). */
export type NodeCategory = "source" | "transform" | "sink" | "control";

/** All node categories, in palette order. */
export const NODE_CATEGORIES: readonly NodeCategory[] = ["source", "transform", "sink", "control"];

/** A node of a workflow graph. */
export interface WorkflowNode {
  id: string;
  type: NodeCategory;
  nodeType: string;
  label?: string;
  position?: { x: number; y: number };
  config: Record<string, unknown>;
  style?: Record<string, unknown>;
  /** Per-node retry policy; missing fields take the defaults in `policy.ts`. */
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs?: number;
  [uiData: string]: unknown;
}

/** A directed edge: the records of `source` flow into `target`. */
export interface WorkflowEdge {
  id?: string;
  source: string;
  target: string;
  sourceHandle?: string;
  targetHandle?: string;
  animated?: boolean;
  label?: string;
  style?: Record<string, unknown>;
  [uiData: string]: unknown;
}

/** How a workflow is scheduled: the old engine's shape plus our fields (core/schedule_spec.ts checks it). */
export interface WorkflowSchedule {
  enabled?: boolean;
  scheduleType?: "fixed_rate" | "fixed_delay" | "cron" | "immediate";
  interval?: string | number;
  cronExpression?: string;
  [extra: string]: unknown;
}

/** A workflow definition, as posted by users. */
export interface WorkflowDefinition {
  id: string;
  name: string;
  description?: string;
  version?: string;
  author?: string;
  tags?: string[];
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
  metadata?: {
    createdAt?: string;
    updatedAt?: string;
    schedule?: WorkflowSchedule;
    [extra: string]: unknown;
  };
  /** Execution timeout in milliseconds for every execution of this workflow. */
  timeoutMs?: number;
  /**
   * At most `limit` executions with the same key run at once; the rest wait, in order. `key` is an
   * expression over the execution's input (`input.customerId`).
   */
  concurrency?: { key: string; limit: number };
  [extra: string]: unknown;
}

/** Retry policy of one node. */
export interface RetryPolicy {
  /** Attempts in total, the first one included (1 = no retry). */
  maxAttempts: number;
  /** Delay before the second attempt. */
  initialIntervalMs: number;
  /** Each further delay is the previous one times this. */
  backoffCoefficient: number;
  /** Upper bound of one delay. */
  maxIntervalMs: number;
}
