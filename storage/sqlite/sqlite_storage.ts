/**
 * The storage contract over SQLite (`node:sqlite`): each role has its own module (workflow_store.ts,
 * execution_log.ts, execution_index.ts, shard_leases.ts, cluster.ts, access.ts, schedules.ts);
 * `SqliteStorage` composes them over one database file and adds the lifecycle.
 *
 * @module
 */
import { RoleStorage } from "../role_storage.ts";
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
export class SqliteStorage extends RoleStorage {
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
    super();
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
