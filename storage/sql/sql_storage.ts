/**
 * The storage contract over PostgreSQL's SQL, through Kysely: the same code
 * serves a PostgreSQL server (postgres.js) and the embedded PGlite. Each role of
 * the contract has its own module (workflow_store.ts, execution_log.ts,
 * execution_index.ts, shard_leases.ts, cluster_registry.ts, cluster_event_log.ts,
 * api_tokens.ts, audit_log.ts, schedules.ts);
 * `SqlStorage` composes them over one database, and adds the lifecycle.
 *
 * @module
 */
import { type Kysely, sql } from "npm:kysely@0.29.9";
import type { MemberRecord } from "../../core/cluster.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { Schedule, ScheduleFire } from "../../core/schedule.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type { AuditEvent, CreateApiTokenResult, NewApiToken, StoredApiToken } from "../access_records.ts";
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
} from "../records.ts";
import type {
  ScheduleDeleteResult,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "../schedule_records.ts";
import type { Storage } from "../storage.ts";
import type { WorkflowVersionInfo } from "../workflow_versions.ts";
import { SqlApiTokens } from "./api_tokens.ts";
import { SqlAuditLog } from "./audit_log.ts";
import { SqlClusterEventLog } from "./cluster_event_log.ts";
import { SqlClusterRegistry } from "./cluster_registry.ts";
import { SqlContext } from "./context.ts";
import { SqlExecutionIndex } from "./execution_index.ts";
import { SqlExecutionLog } from "./execution_log.ts";
import { SqlSchedules } from "./schedules.ts";
import type { Database } from "./schema.ts";
import { SqlShardLeases } from "./shard_leases.ts";
import { SqlWorkflowStore } from "./workflow_store.ts";

/** Options of `SqlStorage`. */
export interface SqlStorageOptions {
  kind: string;
  /** Turns a driver error into `StorageUnavailable` when the backend is unreachable; otherwise returns it. */
  classify: (err: unknown) => unknown;
  /** Closes the underlying driver. */
  close: () => Promise<void>;
}

/** The storage contract over SQL: every role over one database. */
export class SqlStorage implements Storage {
  readonly kind: string;
  /** The `WorkflowStore` role. */
  readonly workflows: SqlWorkflowStore;
  /** The `ExecutionLog` role. */
  readonly log: SqlExecutionLog;
  /** The `ExecutionIndex` role. */
  readonly index: SqlExecutionIndex;
  /** The `ShardLeases` role. */
  readonly leases: SqlShardLeases;
  /** The `ClusterRegistry` role. */
  readonly registry: SqlClusterRegistry;
  /** The `ClusterEventLog` role. */
  readonly clusterEvents: SqlClusterEventLog;
  /** The `ApiTokenStore` role. */
  readonly tokens: SqlApiTokens;
  /** The `AuditLog` role. */
  readonly audit: SqlAuditLog;
  /** The `ScheduleStore` role. */
  readonly schedules: SqlSchedules;

  constructor(readonly db: Kysely<Database>, private readonly opts: SqlStorageOptions) {
    this.kind = opts.kind;
    const ctx = new SqlContext(db, opts.classify);
    this.workflows = new SqlWorkflowStore(ctx);
    this.log = new SqlExecutionLog(ctx);
    this.index = new SqlExecutionIndex(ctx);
    this.leases = new SqlShardLeases(ctx);
    this.registry = new SqlClusterRegistry(ctx);
    this.clusterEvents = new SqlClusterEventLog(ctx);
    this.tokens = new SqlApiTokens(ctx);
    this.audit = new SqlAuditLog(ctx);
    this.schedules = new SqlSchedules(ctx);
  }

  // WorkflowStore
  putWorkflow(
    def: WorkflowDefinition,
    hash: string,
    expected: number,
    now: number,
  ): Promise<PutWorkflowResult> {
    return this.workflows.putWorkflow(def, hash, expected, now);
  }
  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.workflows.getWorkflow(id, version);
  }
  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>> {
    return this.workflows.listWorkflows(limit, cursor);
  }
  deleteWorkflow(id: string): Promise<boolean> {
    return this.workflows.deleteWorkflow(id);
  }
  latestVersion(id: string): Promise<number> {
    return this.workflows.latestVersion(id);
  }
  listWorkflowVersions(
    id: string,
    limit: number,
    cursor?: string | null,
  ): Promise<Page<WorkflowVersionInfo>> {
    return this.workflows.listWorkflowVersions(id, limit, cursor);
  }

  // ExecutionLog
  append(request: AppendRequest): Promise<AppendResult> {
    return this.log.append(request);
  }
  appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    return this.log.appendMany(requests);
  }
  readEvents(executionId: string, afterSeq?: number): Promise<ExecutionEvent[]> {
    return this.log.readEvents(executionId, afterSeq);
  }
  getOutput(executionId: string, ref: string): Promise<Json[] | undefined> {
    return this.log.getOutput(executionId, ref);
  }

  // ExecutionIndex
  getExecution(executionId: string): Promise<StoredExecution | undefined> {
    return this.index.getExecution(executionId);
  }
  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>> {
    return this.index.listExecutions(query);
  }
  countExecutions(workflowId: string): Promise<number> {
    return this.index.countExecutions(workflowId);
  }
  countRunningByShard(): Promise<Map<number, number>> {
    return this.index.countRunningByShard();
  }
  listRunning(shards: readonly number[]): Promise<StoredExecution[]> {
    return this.index.listRunning(shards);
  }
  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]> {
    return this.index.listDueTimers(shards, before, limit);
  }
  deleteFinishedBefore(before: number, limit: number): Promise<number> {
    return this.index.deleteFinishedBefore(before, limit);
  }
  deleteExpired(now: number, limit: number): Promise<number> {
    return this.index.deleteExpired(now, limit);
  }

  // ShardLeases
  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined> {
    return this.leases.claimShard(shard, owner, expectedEpoch);
  }
  getShards(): Promise<ShardRecord[]> {
    return this.leases.getShards();
  }

  // ClusterRegistry
  claimClusterMeta(key: string, value: string): Promise<string> {
    return this.registry.claimClusterMeta(key, value);
  }
  heartbeat(member: MemberRecord): Promise<void> {
    return this.registry.heartbeat(member);
  }
  listMembers(): Promise<MemberRecord[]> {
    return this.registry.listMembers();
  }
  removeMember(id: string): Promise<void> {
    return this.registry.removeMember(id);
  }

  // ClusterEventLog
  appendClusterEvent(event: ClusterEvent): Promise<void> {
    return this.clusterEvents.appendClusterEvent(event);
  }
  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]> {
    return this.clusterEvents.listClusterEvents(limit, type);
  }
  trimClusterEvents(keep: number): Promise<void> {
    return this.clusterEvents.trimClusterEvents(keep);
  }

  // ApiTokenStore
  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult> {
    return this.tokens.createApiToken(token, maxLive, now);
  }
  listApiTokens(limit: number): Promise<StoredApiToken[]> {
    return this.tokens.listApiTokens(limit);
  }
  findApiToken(digest: string): Promise<StoredApiToken | undefined> {
    return this.tokens.findApiToken(digest);
  }
  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined> {
    return this.tokens.revokeApiToken(id, now);
  }

  // AuditLog
  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.audit.appendAudit(events);
  }
  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>> {
    return this.audit.listAudit(limit, cursor);
  }
  trimAudit(keep: number): Promise<void> {
    return this.audit.trimAudit(keep);
  }

  // ScheduleStore
  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult> {
    return this.schedules.createSchedule(schedule, fence);
  }
  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult> {
    return this.schedules.updateSchedule(schedule, expectedVersion, fence);
  }
  getSchedule(id: string): Promise<Schedule | undefined> {
    return this.schedules.getSchedule(id);
  }
  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>> {
    return this.schedules.listSchedules(query);
  }
  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult> {
    return this.schedules.deleteSchedule(id, fence);
  }
  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult> {
    return this.schedules.recordScheduleState(write);
  }
  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]> {
    return this.schedules.listDueSchedules(shards, before, limit);
  }
  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]> {
    return this.schedules.listScheduleFires(scheduleId, limit);
  }
  countActiveSchedules(): Promise<number> {
    return this.schedules.countActiveSchedules();
  }

  // StorageLifecycle
  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.opts.close();
  }
}
