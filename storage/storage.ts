/**
 * The storage interface: one small contract that memory, PostgreSQL and the
 * embedded store implement, in the spirit of a Kysely dialect. Every write that
 * changes an execution carries the expected last sequence number and the shard's
 * epoch (the fencing token); a stale one is refused atomically, as a value.
 *
 * @module
 */
import type { MemberRecord } from "../core/cluster.ts";
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { ExecutionStatus } from "../core/state.ts";
import type { ExecutionSummary } from "../core/view.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";

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

/** An execution as the index keeps it. */
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
}

/** Why an append was refused. */
export type AppendError =
  | { code: "stale_epoch"; message: string; currentEpoch: number }
  | { code: "sequence_conflict"; message: string; lastSeq: number }
  | { code: "execution_exists"; message: string; existing: StoredExecution }
  | { code: "workflow_changed"; message: string };

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

/** Filters of an execution listing (newest first). */
export interface ExecutionQuery {
  workflowId?: string;
  status?: ExecutionStatus;
  limit: number;
  cursor?: string | null;
}

/** A shard's ownership record. */
export interface ShardRecord {
  shard: number;
  owner: string | null;
  epoch: number;
}

/** The storage contract. Every method may reject with `StorageUnavailable` when the backend is down. */
export interface Storage {
  /** A short name for logs and health (`memory`, `postgres`, ...). */
  readonly kind: string;

  /** Stores a new version of a workflow if its latest version is still `expectedVersion` (0: none yet). */
  putWorkflow(
    definition: WorkflowDefinition,
    hash: string,
    expectedVersion: number,
    now: number,
  ): Promise<PutWorkflowResult>;
  /** The latest live version, or a given version (deleted workflows keep their versions for executions). */
  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined>;
  /** Latest versions of live workflows by id. */
  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>>;
  /** Marks a workflow deleted; false when there was none. */
  deleteWorkflow(id: string, now: number): Promise<boolean>;
  /** The version counter of a workflow, deleted or not (0: never stored). */
  latestVersion(id: string): Promise<number>;

  /** Appends events to an execution, fenced and sequence-checked, with the outputs they reference. */
  append(request: AppendRequest): Promise<AppendResult>;
  /** Appends of several executions, each checked and applied on its own (a commit group). */
  appendMany(requests: AppendRequest[]): Promise<AppendResult[]>;
  /** Events of an execution after `afterSeq`, in order. */
  readEvents(executionId: string, afterSeq?: number): Promise<ExecutionEvent[]>;
  getExecution(executionId: string): Promise<StoredExecution | undefined>;
  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>>;
  /** How many executions a workflow has had. */
  countExecutions(workflowId: string): Promise<number>;
  /** Running executions per shard (shards with none are absent). */
  countRunningByShard(): Promise<Map<number, number>>;
  /** Executions still running in the given shards (for recovery). */
  listRunning(shards: readonly number[]): Promise<StoredExecution[]>;
  /** Running executions of the given shards with a timer due at or before `before`, earliest first. */
  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]>;
  /** Retention: deletes up to `limit` executions that ended before `before` (history and outputs); returns how many. */
  deleteFinishedBefore(before: number, limit: number): Promise<number>;
  /** A stored output. */
  getOutput(executionId: string, ref: string): Promise<Json[] | undefined>;

  /** Takes a shard for `owner` if its epoch is still `expectedEpoch`, bumping the epoch. */
  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined>;
  getShards(): Promise<ShardRecord[]>;

  /** Stores `value` under `key` unless a value is there already; returns the stored value (cluster metadata). */
  claimClusterMeta(key: string, value: string): Promise<string>;
  /** Records a member's heartbeat (registering it on the first one; `joinedAt` is kept from then). */
  heartbeat(member: MemberRecord): Promise<void>;
  listMembers(): Promise<MemberRecord[]>;
  /** Forgets a member (long gone). */
  removeMember(id: string): Promise<void>;
  /** Appends a cluster event (the cluster log behind `/api/v1/events`). */
  appendClusterEvent(event: ClusterEvent): Promise<void>;
  /** Cluster events newest first, optionally of one type; at most `limit`. */
  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]>;
  /** Keeps only the newest `keep` cluster events. */
  trimClusterEvents(keep: number): Promise<void>;

  /** Whether the backend answers now (health). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
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

/** The backend could not be reached; the API answers 503 and nothing is acknowledged. */
export class StorageUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageUnavailable";
  }
}

/** A listing cursor that this storage did not hand out; the API answers 400. */
export class InvalidCursor extends Error {
  constructor(cursor: string) {
    super(`not a cursor of this listing: ${JSON.stringify(cursor.slice(0, 100))}`);
    this.name = "InvalidCursor";
  }
}

/** Execution listings page newest first; a cursor is the last item's `startTime:executionId`. */
export function encodeExecutionCursor(e: { startTime: number; executionId: string }): string {
  return `${e.startTime}:${e.executionId}`;
}

/** Reads an execution cursor, or throws `InvalidCursor`. */
export function decodeExecutionCursor(cursor: string): { time: number; id: string } {
  const at = cursor.indexOf(":");
  const time = Number(cursor.slice(0, at));
  if (at <= 0 || !Number.isSafeInteger(time) || at === cursor.length - 1) throw new InvalidCursor(cursor);
  return { time, id: cursor.slice(at + 1) };
}
