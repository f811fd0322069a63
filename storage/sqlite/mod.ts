/**
 * The SQLite store: the storage contract over `node:sqlite` under a data directory (WAL, `synchronous=FULL`,
 * one process per directory). See docs/STORAGE.md.
 *
 * @example
 * ```ts
 * import { openSqlite } from "./mod.ts";
 * const dataDir = await Deno.makeTempDir();
 * const storage = await openSqlite({ dataDir });
 * if (!(await storage.ping())) throw new Error("it answers");
 * await storage.close();
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */
export { openSqlite, type SqliteOptions, sqlitePath } from "./open.ts";
export { SqliteStorage } from "./sqlite_storage.ts";
export { SQLITE_MIGRATIONS } from "./migrations.ts";
