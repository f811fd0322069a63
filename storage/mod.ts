/**
 * Storage: the contract every backend implements (one role interface per concern — workflow versions, the
 * execution log and index, shard leases, the cluster registry and event log, API tokens, the audit log,
 * schedules, the lifecycle), its records, and the backends: memory (tests, the simulator), PostgreSQL (`openPostgres`),
 * the local durable default (`openSqlite`, SQLite under a data directory) and PGlite (`openEmbedded`, under a data
 * directory too), plus the commit group that batches appends.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./mod.ts";
 *
 * const storage = new MemoryStorage();
 * const claimed = await storage.claimShard(0, "n1", 0);
 * if (claimed?.epoch !== 1) throw new Error("a first claim takes epoch 1");
 * // A writer holding an older epoch is fenced off.
 * const stale = await storage.claimShard(0, "n2", 0);
 * if (stale !== undefined) throw new Error("a claim at a stale epoch is refused");
 * ```
 *
 * @module
 */
export type {
  ApiTokenStore,
  AppendError,
  AppendRequest,
  AppendResult,
  AuditEvent,
  AuditLog,
  AuditOutcome,
  ClusterEvent,
  ClusterEventLog,
  ClusterRegistry,
  CreateApiTokenResult,
  ExecutionIndex,
  ExecutionLog,
  ExecutionQuery,
  Fence,
  NewApiToken,
  OutputWrite,
  Page,
  PutWorkflowResult,
  ScheduleDeleteResult,
  ScheduleFireWrite,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleStore,
  ScheduleWriteError,
  ScheduleWriteResult,
  ShardLeases,
  ShardRecord,
  Storage,
  StorageLifecycle,
  StoredApiToken,
  StoredExecution,
  StoredWorkflow,
  WorkflowStore,
  WorkflowVersionInfo,
} from "./storage.ts";
export { InvalidCursor, isLiveToken, StorageUnavailable } from "./storage.ts";
export { MemoryStorage } from "./memory.ts";
export { RoleStorage } from "./role_storage.ts";
export { openPostgres, type PostgresOptions } from "./postgres.ts";
export { DataDirLocked, type EmbeddedOptions, openEmbedded } from "./embedded.ts";
export { openSqlite, type SqliteOptions, SqliteStorage } from "./sqlite/mod.ts";
export {
  CommitGroup,
  type CommitGroupClock,
  type CommitGroupObserver,
  type CommitGroupOptions,
  type CommitGroupStats,
  DEFAULT_COMMIT_GROUP,
  DEFAULT_SPACING_MS,
} from "./commit_group.ts";
