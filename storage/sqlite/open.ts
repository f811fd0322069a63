/**
 * Opening the SQLite store: the data directory's lock first (one process per data directory, as for every
 * embedded store), then `<dataDir>/sqlite/flowmesh.db` in WAL mode, migrated. Its commits are answered only
 * once the WAL is fsynced (wal_sync.ts).
 *
 * @module
 */
import { lockDataDir } from "../data_dir_lock.ts";
import { SqliteDatabase } from "./database.ts";
import { migrateSqlite } from "./migrations.ts";
import { SqliteStorage } from "./sqlite_storage.ts";

/** Options of {@link openSqlite}. */
export interface SqliteOptions {
  /** The data directory: the database is `<dataDir>/sqlite/flowmesh.db`, the lock `<dataDir>/LOCK`. */
  dataDir: string;
  now?: () => number;
  /** How long to wait for the data directory's lock before refusing (ms; default 500). */
  lockWaitMs?: number;
}

/**
 * The database file of a data directory.
 *
 * @example
 * ```ts
 * import { sqlitePath } from "./open.ts";
 * if (sqlitePath("/var/lib/flowmesh") !== "/var/lib/flowmesh/sqlite/flowmesh.db") throw new Error("its file");
 * ```
 */
export function sqlitePath(dataDir: string): string {
  return `${dataDir}/sqlite/flowmesh.db`;
}

/**
 * Opens (creating on first use) the SQLite store under `dataDir`, locked to this process: rejects with
 * `DataDirLocked` when another process holds the directory.
 *
 * @example
 * ```ts
 * import { openSqlite } from "./open.ts";
 * const dataDir = await Deno.makeTempDir();
 * const storage = await openSqlite({ dataDir });
 * const shard = await storage.claimShard(0, "node-1", 0);
 * await storage.close();
 * await Deno.remove(dataDir, { recursive: true });
 * if (shard?.epoch !== 1 || storage.kind !== "sqlite") throw new Error("a first claim takes epoch 1");
 * ```
 */
export async function openSqlite(opts: SqliteOptions): Promise<SqliteStorage> {
  const lock = await lockDataDir(opts.dataDir, opts.lockWaitMs);
  let db: SqliteDatabase | undefined;
  try {
    await Deno.mkdir(`${opts.dataDir}/sqlite`, { recursive: true });
    // NORMAL: commits do not wait for the disk; the store syncs the WAL before it answers (wal_sync.ts).
    db = new SqliteDatabase(sqlitePath(opts.dataDir), { synchronous: "normal" });
    migrateSqlite(db, (opts.now ?? Date.now)());
    await db.syncWal();
    return new SqliteStorage(db, () => lock.close());
  } catch (err) {
    db?.close();
    lock.close();
    throw err;
  }
}
