/**
 * The roles of the storage contract, one interface per concern, in the spirit of
 * a Kysely dialect's parts: a component that needs only some of storage asks for
 * those roles (`ShardLeases & ExecutionIndex`, say) and a test fake implements
 * only them. `Storage` (storage.ts) is all of them together; every backend
 * implements every role. Every method may reject with `StorageUnavailable` when
 * the backend is down.
 *
 * @module
 */
import type { MemberRecord } from "../core/cluster.ts";
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { AuditEvent, CreateApiTokenResult, NewApiToken, StoredApiToken } from "./access_records.ts";
import type {
  AppendRequest,
  AppendResult,
  ClusterEvent,
  ExecutionQuery,
  Fence,
  Page,
  PutWorkflowResult,
  ShardRecord,
  StoredExecution,
  StoredWorkflow,
} from "./records.ts";
import type { Schedule, ScheduleFire } from "../core/schedule.ts";
import type { WorkflowVersionInfo } from "./workflow_versions.ts";
import type {
  ScheduleDeleteResult,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "./schedule_records.ts";

/**
 * Workflow definitions: numbered versions of each workflow id, and its head (the latest version and
 * whether the workflow is deleted). A put is a compare-and-set on the latest version.
 */
export interface WorkflowStore {
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
  /**
   * The versions of a workflow, deleted or not, newest first, summarised (no definitions); `cursor` is a
   * previous page's `next` (`InvalidCursor` otherwise). A workflow never stored has none.
   */
  listWorkflowVersions(id: string, limit: number, cursor?: string | null): Promise<Page<WorkflowVersionInfo>>;
}

/**
 * The history of executions: appends of events (with the outputs they reference), each fenced by its
 * shard's epoch and checked against the execution's last sequence number, and the reads of what they wrote.
 */
export interface ExecutionLog {
  /** Appends events to an execution, fenced and sequence-checked, with the outputs they reference. */
  append(request: AppendRequest): Promise<AppendResult>;
  /** Appends of several executions, each checked and applied on its own (a commit group). */
  appendMany(requests: AppendRequest[]): Promise<AppendResult[]>;
  /** Events of an execution after `afterSeq`, in order. */
  readEvents(executionId: string, afterSeq?: number): Promise<ExecutionEvent[]>;
  /** A stored output. */
  getOutput(executionId: string, ref: string): Promise<Json[] | undefined>;
}

/**
 * The execution index: each execution's summary as the appends left it, its listings and counts, the
 * running executions and due timers of shards (for recovery and timers), and retention.
 */
export interface ExecutionIndex {
  /** An execution's summary, or undefined when there is none. */
  getExecution(executionId: string): Promise<StoredExecution | undefined>;
  /** Executions newest first, filtered and paged. */
  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>>;
  /** How many executions a workflow has had. */
  countExecutions(workflowId: string): Promise<number>;
  /** Running executions per shard (shards with none are absent). */
  countRunningByShard(): Promise<Map<number, number>>;
  /** Executions still running in the given shards (for recovery). */
  listRunning(shards: readonly number[]): Promise<StoredExecution[]>;
  /** Running executions of the given shards with a timer due at or before `before`, earliest first. */
  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]>;
  /**
   * The node's retention: deletes up to `limit` executions without an `expiresAt` of their own that ended
   * before `before` (history and outputs), oldest first; returns how many.
   */
  deleteFinishedBefore(before: number, limit: number): Promise<number>;
  /**
   * Their workflows' own retention: deletes up to `limit` executions whose `expiresAt` is before `now`
   * (history and outputs), earliest first; returns how many.
   */
  deleteExpired(now: number, limit: number): Promise<number>;
}

/** Shard ownership: who owns each shard, and at which epoch (the fencing token of its writes). */
export interface ShardLeases {
  /** Takes a shard for `owner` if its epoch is still `expectedEpoch`, bumping the epoch. */
  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined>;
  /** Every shard claimed so far, by shard number. */
  getShards(): Promise<ShardRecord[]>;
}

/** Cluster membership: the members and their heartbeats, and the cluster's write-once metadata. */
export interface ClusterRegistry {
  /** Stores `value` under `key` unless a value is there already; returns the stored value (cluster metadata). */
  claimClusterMeta(key: string, value: string): Promise<string>;
  /** Records a member's heartbeat (registering it on the first one; `joinedAt` is kept from then). */
  heartbeat(member: MemberRecord): Promise<void>;
  /** Every registered member, by id. */
  listMembers(): Promise<MemberRecord[]>;
  /** Forgets a member (long gone). */
  removeMember(id: string): Promise<void>;
}

/** The cluster log behind `/api/v1/events`: membership changes, rebalances, failovers, ... */
export interface ClusterEventLog {
  /** Appends a cluster event (the cluster log behind `/api/v1/events`). */
  appendClusterEvent(event: ClusterEvent): Promise<void>;
  /** Cluster events newest first, optionally of one type; at most `limit`. */
  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]>;
  /** Keeps only the newest `keep` cluster events. */
  trimClusterEvents(keep: number): Promise<void>;
}

/**
 * API tokens made through the API, kept as SHA-256 digests (never the token). Live means neither revoked nor
 * expired. The store stays bounded: a create is refused at `maxLive` live tokens, and it forgets the oldest
 * dead (revoked or expired) tokens beyond `maxLive` of them.
 */
export interface ApiTokenStore {
  /** Stores a token unless `maxLive` tokens are live at `now`. */
  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult>;
  /** The tokens kept (live and dead), newest first, at most `limit`. */
  listApiTokens(limit: number): Promise<StoredApiToken[]>;
  /** The token with this digest (64 lowercase hex digits), live or not; undefined when there is none. */
  findApiToken(digest: string): Promise<StoredApiToken | undefined>;
  /** Revokes a token (a second revoke keeps the first time); the token as it is now, or undefined. */
  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined>;
}

/** The audit log: the state-changing API calls, newest (last recorded) first, trimmed to the newest N. */
export interface AuditLog {
  /** Records calls, in order. */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  /** A page of calls newest first (in the order recorded); `cursor` is a previous page's `next`. */
  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>>;
  /** Keeps only the newest `keep` calls. */
  trimAudit(keep: number): Promise<void>;
}

/**
 * Schedules: their definitions (written through the API on the owner, compare-and-set on `version`), the
 * owner's writes of their state and fires, and the reads the owner's timers and the API need. A schedule
 * lives in the shard `shardOf(id)`; every write carries that shard's epoch as its owner holds it (its fence)
 * and is refused `stale_epoch` when it is stale, so a node that lost the shard without knowing it can neither
 * fire nor change a schedule. Fires are keyed by (schedule id, tick time): a tick is recorded once, whichever
 * member tries.
 */
export interface ScheduleStore {
  /**
   * Stores a new schedule at `version` 1 in `fence.shard` (`shardOf(schedule.id, shardCount)`: the shard whose
   * owner fires it, and whose epoch fences its writes). Refused `stale_epoch` when the shard is not at
   * `fence.epoch` (a shard never claimed is at 0), `schedule_exists` with the stored one when the id is taken.
   */
  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult>;
  /**
   * Replaces a schedule's workflow, spec, status, source, state and `updatedAt` if its version is still
   * `expectedVersion`, bumping it (its `createdAt` and shard stay). Refused, in this order: `stale_epoch` (the
   * shard is not at `fence.epoch`), `schedule_not_found`, `schedule_changed`. Only this write moves the version:
   * the owner's writes of state and fires (`recordScheduleState`, a fire on an append) check it and keep it.
   */
  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult>;
  /** A schedule, or undefined. */
  getSchedule(id: string): Promise<Schedule | undefined>;
  /** Schedules by id, filtered and paged. */
  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>>;
  /**
   * Deletes a schedule and its fires (`deleted: false` when there was none); refused `stale_epoch`, deleting
   * nothing, when the shard `fence.shard` is not at `fence.epoch`.
   */
  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult>;
  /**
   * The owner's write: fires recorded without an execution and the state and status after them, all or
   * nothing. Refused, in this order: `stale_epoch` (the shard's epoch is not `write.fence.epoch`),
   * `schedule_not_found`, `schedule_changed` (the version is not `expectedVersion`), `tick_recorded` (a tick
   * is recorded already, or named twice; a `buffered` tick may be recorded once more with its outcome).
   */
  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult>;
  /** Active schedules of the given shards whose next tick is at or before `before`, earliest first. */
  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]>;
  /** A schedule's fires, newest tick first, at most `limit` (storage keeps the newest `FIRES_KEPT`). */
  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]>;
  /** How many schedules are active (the live schedules gauge). */
  countActiveSchedules(): Promise<number>;
}

/** The backend itself: its name, its health, and its end. */
export interface StorageLifecycle {
  /** A short name for logs and health (`memory`, `postgres`, ...). */
  readonly kind: string;
  /** Whether the backend answers now (health). */
  ping(): Promise<boolean>;
  /** Releases the backend (connections, locks); the storage is not used after. */
  close(): Promise<void>;
}
