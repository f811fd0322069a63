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
import { RoleStorage } from "../role_storage.ts";
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
export class SqlStorage extends RoleStorage {
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
    super();
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
