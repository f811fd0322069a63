/**
 * A storage made of role objects (Kysely's dialect pattern): each method of the contract goes to the role that
 * holds it. The SQL storages (PostgreSQL, PGlite) and the SQLite one extend it with their roles and their
 * lifecycle (`kind`, `ping`, `close`), so the delegation is written once.
 *
 * @module
 */
import type { MemberRecord } from "../core/cluster.ts";
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { Schedule, ScheduleFire } from "../core/schedule.ts";
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
import type {
  ApiTokenStore,
  AuditLog,
  ClusterEventLog,
  ClusterRegistry,
  ExecutionIndex,
  ExecutionLog,
  ScheduleStore,
  ShardLeases,
  WorkflowStore,
} from "./roles.ts";
import type {
  ScheduleDeleteResult,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "./schedule_records.ts";
import type { Storage } from "./storage.ts";
import type { WorkflowVersionInfo } from "./workflow_versions.ts";

/**
 * The contract's methods over its roles; a backend gives the roles and its lifecycle.
 *
 * @example
 * ```ts ignore
 * class MyStorage extends RoleStorage {
 *   readonly kind = "mine";
 *   readonly workflows = new MyWorkflowStore(); // … every role
 *   ping() { return Promise.resolve(true); }
 *   close() { return Promise.resolve(); }
 * }
 * ```
 */
export abstract class RoleStorage implements Storage {
  /** The backend's name (`postgres`, `sqlite`, …). */
  abstract readonly kind: string;
  /** The `WorkflowStore` role. */
  abstract readonly workflows: WorkflowStore;
  /** The `ExecutionLog` role. */
  abstract readonly log: ExecutionLog;
  /** The `ExecutionIndex` role. */
  abstract readonly index: ExecutionIndex;
  /** The `ShardLeases` role. */
  abstract readonly leases: ShardLeases;
  /** The `ClusterRegistry` role. */
  abstract readonly registry: ClusterRegistry;
  /** The `ClusterEventLog` role. */
  abstract readonly clusterEvents: ClusterEventLog;
  /** The `ApiTokenStore` role. */
  abstract readonly tokens: ApiTokenStore;
  /** The `AuditLog` role. */
  abstract readonly audit: AuditLog;
  /** The `ScheduleStore` role. */
  abstract readonly schedules: ScheduleStore;

  /** Whether the backend answers. */
  abstract ping(): Promise<boolean>;
  /** Releases the backend; later calls fail. */
  abstract close(): Promise<void>;

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
  deleteWorkflow(id: string, now: number): Promise<boolean> {
    return this.workflows.deleteWorkflow(id, now);
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
}
