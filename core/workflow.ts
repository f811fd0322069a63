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
  /** The node's id, unique in the workflow: 1 to 128 of `A-Z a-z 0-9 . _ : -`. */
  id: string;
  /** The node's category. */
  type: NodeCategory;
  /** The node's kind within its category (`filter`, `memory.collect`, …: docs/NODES.md). */
  nodeType: string;
  /** UI data: the node's label, kept but never used by execution. */
  label?: string;
  /** UI data: where the editor draws the node, kept but never used by execution. */
  position?: { x: number; y: number };
  /** The kind's settings, checked against its schema and stored with their defaults filled in. */
  config: Record<string, unknown>;
  /** UI data: how the editor draws the node, kept but never used by execution. */
  style?: Record<string, unknown>;
  /** Per-node retry policy; missing fields take the defaults in `policy.ts`. */
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs?: number;
  /** Any other key (UI data) is kept and round-trips. */
  [uiData: string]: unknown;
}

/** A directed edge: the records of `source` flow into `target`. */
export interface WorkflowEdge {
  /** UI data: the edge's id, kept but never used by execution. */
  id?: string;
  /** The id of the node whose records flow along the edge. */
  source: string;
  /** The id of the node that receives them. */
  target: string;
  /** The source's output: a condition's `true` or `false`, a switch's case or `default`, else `out`. */
  sourceHandle?: string;
  /** The target's input it enters (default `in`; no kind treats handles differently). */
  targetHandle?: string;
  /** UI data: whether the editor animates the edge, kept but never used by execution. */
  animated?: boolean;
  /** UI data: the edge's label, kept but never used by execution. */
  label?: string;
  /** UI data: how the editor draws the edge, kept but never used by execution. */
  style?: Record<string, unknown>;
  /** Any other key (UI data) is kept and round-trips. */
  [uiData: string]: unknown;
}

/** How a workflow is scheduled: the old engine's shape plus our fields (core/schedule_spec.ts checks it). */
export interface WorkflowSchedule {
  /** `false` makes the schedule `paused` (default `true`). */
  enabled?: boolean;
  /** The schedule's kind (docs/SCHEDULES.md). */
  scheduleType?: "fixed_rate" | "fixed_delay" | "cron" | "immediate";
  /** `fixed_rate` and `fixed_delay`: a duration (`30s`, `5m`, `1h`) or ms. */
  interval?: string | number;
  /** `cron`: 5 fields (minute hour day month weekday), 6 (seconds first), or `@hourly`, `@daily`, … */
  cronExpression?: string;
  /** The schedule's other fields (`timezone`, `jitter`, `overlap`, …: docs/API.md, "Schedules"). */
  [extra: string]: unknown;
}

/** A workflow definition, as posted by users. */
export interface WorkflowDefinition {
  /** The workflow's id: 1 to 128 of `A-Z a-z 0-9 . _ : -`. */
  id: string;
  /** Its name (not empty). */
  name: string;
  /** What it does, for people. */
  description?: string;
  /** The author's own version label; not the engine's version number (1, 2, … per stored change). */
  version?: string;
  /** Who wrote it. */
  author?: string;
  /** Free-form tags. */
  tags?: string[];
  /** Its nodes (at least one). */
  nodes: WorkflowNode[];
  /** Its edges; a node's input is the records of its live incoming edges, concatenated in this order. */
  edges: WorkflowEdge[];
  /** The old engine's metadata: its timestamps, kept as given, and `schedule`, the workflow's schedule. */
  metadata?: {
    createdAt?: string;
    updatedAt?: string;
    schedule?: WorkflowSchedule;
    [extra: string]: unknown;
  };
  /** Execution timeout in milliseconds for every execution of this workflow. */
  timeoutMs?: number;
  /**
   * How long an ended execution of this workflow keeps its history, in milliseconds (0 to 10 years); 0 keeps
   * it forever. Absent: the node's `--retention`.
   */
  retentionMs?: number;
  /**
   * At most `limit` executions with the same key run at once; the rest wait, in order. `key` is an
   * expression over the execution's input (`input.customerId`).
   */
  concurrency?: { key: string; limit: number };
  /** Any other key is kept and round-trips. */
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
