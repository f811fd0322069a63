/**
 * The storage contract over SQLite (`node:sqlite`): each role has its own module (workflow_store.ts,
 * execution_log.ts, execution_index.ts, shard_leases.ts, cluster.ts, access.ts, schedules.ts);
 * `SqliteStorage` composes them over one database file and adds the lifecycle.
 *
 * @module
 */
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
import { SqliteApiTokens, SqliteAuditLog } from "./access.ts";
import { SqliteClusterEventLog, SqliteClusterRegistry } from "./cluster.ts";
import { SqliteContext } from "./context.ts";
import type { SqliteDatabase } from "./database.ts";
import { SqliteExecutionIndex } from "./execution_index.ts";
import { SqliteExecutionLog } from "./execution_log.ts";
import { SqliteSchedules } from "./schedules.ts";
import { SqliteShardLeases } from "./shard_leases.ts";
import { SqliteWorkflowStore } from "./workflow_store.ts";

/**
 * The storage contract over SQLite: every role over one database file (`openSqlite` opens one under a data
 * directory, locked and migrated).
 *
 * @example
 * ```ts
 * import { SqliteDatabase } from "./database.ts";
 * import { migrateSqlite } from "./migrations.ts";
 * import { SqliteStorage } from "./sqlite_storage.ts";
 * const dir = await Deno.makeTempDir();
 * const db = new SqliteDatabase(`${dir}/x.db`);
 * migrateSqlite(db, Date.now());
 * const storage = new SqliteStorage(db);
 * await storage.claimShard(1, "node-1", 0);
 * const stale = await storage.claimShard(1, "node-2", 0); // fenced: the shard is at epoch 1
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * if (stale !== undefined) throw new Error("a claim at a stale epoch is refused");
 * ```
 */
export class SqliteStorage implements Storage {
  readonly kind = "sqlite";
  /** The `WorkflowStore` role. */
  readonly workflows: SqliteWorkflowStore;
  /** The `ExecutionLog` role. */
  readonly log: SqliteExecutionLog;
  /** The `ExecutionIndex` role. */
  readonly index: SqliteExecutionIndex;
  /** The `ShardLeases` role. */
  readonly leases: SqliteShardLeases;
  /** The `ClusterRegistry` role. */
  readonly registry: SqliteClusterRegistry;
  /** The `ClusterEventLog` role. */
  readonly clusterEvents: SqliteClusterEventLog;
  /** The `ApiTokenStore` role. */
  readonly tokens: SqliteApiTokens;
  /** The `AuditLog` role. */
  readonly audit: SqliteAuditLog;
  /** The `ScheduleStore` role. */
  readonly schedules: SqliteSchedules;

  /**
   * @param db The database, migrated.
   * @param release Called once by `close`, after the database closed (the data directory's lock).
   */
  readonly #ctx: SqliteContext;

  constructor(readonly db: SqliteDatabase, private readonly release: () => void = () => {}) {
    const ctx = this.#ctx = new SqliteContext(db);
    this.workflows = new SqliteWorkflowStore(ctx);
    this.log = new SqliteExecutionLog(ctx);
    this.index = new SqliteExecutionIndex(ctx);
    this.leases = new SqliteShardLeases(ctx);
    this.registry = new SqliteClusterRegistry(ctx);
    this.clusterEvents = new SqliteClusterEventLog(ctx);
    this.tokens = new SqliteApiTokens(ctx);
    this.audit = new SqliteAuditLog(ctx);
    this.schedules = new SqliteSchedules(ctx);
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
  ping(): Promise<boolean> {
    if (this.#ctx.sync.broken) return Promise.resolve(false);
    try {
      return Promise.resolve(this.db.get<{ one: number }>("select 1 as one")?.one === 1);
    } catch {
      return Promise.resolve(false);
    }
  }

  /**
   * Closes the database (after the fsync in flight, if any; SQLite then checkpoints its WAL into the file) and
   * releases the data directory; later calls fail.
   */
  async close(): Promise<void> {
    if (this.db.closed) return;
    await this.#ctx.sync.after(this.db.commits).catch(() => {});
    if (this.db.closed) return;
    try {
      this.db.close();
    } finally {
      this.release();
    }
  }
}
