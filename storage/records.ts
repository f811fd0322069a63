/**
 * The records that storage keeps and the requests and answers of its methods:
 * workflow versions, executions and their appends, shard ownership, listings and
 * cluster events. Plain data, shared by every role of the storage contract.
 *
 * @module
 */
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { ExecutionStatus } from "../core/state.ts";
import type { ExecutionSummary } from "../core/view.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { ScheduleFireWrite } from "./schedule_records.ts";

/** One stored version of a workflow definition. */
export interface StoredWorkflow {
  id: string;
  version: number;
  definition: WorkflowDefinition;
  /** A hash of the canonical definition: equal hashes, identical definitions. */
  hash: string;
  createdAt: number;
}

/** The fencing token of a write: the shard written and the epoch its writer holds. */
export interface Fence {
  shard: number;
  epoch: number;
}

/** An execution as the index keeps it (every store reads `expiresAt` back: `null` while it runs). */
export interface StoredExecution extends ExecutionSummary {
  shard: number;
  lastSeq: number;
  idempotencyKey: string | null;
  /** A hash of the submitted request, to tell a retry from a different request with the same key. */
  requestHash: string | null;
  /** The due-time index: the earliest pending timer of a running execution. */
  nextTimerAt: number | null;
}

/** Records stored as a node's output, under a ref unique in the execution. */
export interface OutputWrite {
  ref: string;
  records: Json[];
}

/** One append: events that follow `expectedSeq`, the new summary, and outputs written with them. */
export interface AppendRequest {
  executionId: string;
  /** The last sequence number the writer has seen; 0 creates the execution. */
  expectedSeq: number;
  fence: Fence;
  events: ExecutionEvent[];
  summary: ExecutionSummary;
  outputs?: OutputWrite[];
  /** When the execution's earliest pending timer is due (the due-time index); null: none. */
  nextTimerAt?: number | null;
  /** On creation only. */
  idempotencyKey?: string | null;
  requestHash?: string | null;
  /**
   * On creation only: refuse with `workflow_changed` unless `summary.version` is the latest version of a live
   * (not deleted) workflow as the append's statement sees it. A node can then start executions from a cached
   * workflow without reading it first, and never start one superseded or deleted before the append; an update
   * committing while the append runs is concurrent with it, and ordered after it.
   */
  requireLatestVersion?: boolean;
  /**
   * On creation only: the schedule fire that starts this execution, recorded in the same transaction under
   * the same fence; refused with `tick_recorded` or `schedule_changed` (see `ScheduleFireWrite`).
   */
  scheduleFire?: ScheduleFireWrite;
}

/** Why an append was refused. */
export type AppendError =
  | { code: "stale_epoch"; message: string; currentEpoch: number }
  | { code: "sequence_conflict"; message: string; lastSeq: number }
  | { code: "execution_exists"; message: string; existing: StoredExecution }
  | { code: "workflow_changed"; message: string }
  | { code: "tick_recorded"; message: string }
  | { code: "schedule_changed"; message: string };

/** The result of an append. */
export type AppendResult = { ok: true } | { ok: false; error: AppendError };

/** The result of storing a workflow version. */
export type PutWorkflowResult =
  | { ok: true; workflow: StoredWorkflow }
  | { ok: false; code: "version_conflict"; current: StoredWorkflow | undefined };

/** A page of a listing; `next` is the cursor of the following page. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/**
 * Filters of an execution listing (newest first: by start time, then id), each optional and combined. With
 * `idPrefix`, a SQL store may answer a page of fewer than `limit` items (even none) with a `next` cursor: it
 * examines a bounded number of index entries a call (`storage/execution_search.ts`); follow `next` to go on.
 */
export interface ExecutionQuery {
  workflowId?: string;
  status?: ExecutionStatus;
  /** Started at or after (epoch ms). */
  from?: number;
  /** Started at or before (epoch ms). */
  to?: number;
  /** The id starts with this text (case and every character matter; empty: no filter). */
  idPrefix?: string;
  limit: number;
  cursor?: string | null;
}

/** A shard's ownership record. */
export interface ShardRecord {
  shard: number;
  owner: string | null;
  epoch: number;
}

/** An entry of the cluster log: `member_event`, `shard_rebalance`, `workflow_failover`, ... */
export interface ClusterEvent {
  /** Epoch ms. */
  at: number;
  type: string;
  /** The node that recorded it. */
  node: string;
  details: Record<string, unknown>;
}
