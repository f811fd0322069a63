/**
 * What every SQLite role shares: the database, and the wrapper that runs one storage operation
 * synchronously and answers it as a promise once every commit it depends on is on disk (see wal_sync.ts),
 * its error classified (`StorageUnavailable` when the file cannot be used).
 *
 * @module
 */
import { classifySqliteError, type SqliteDatabase } from "./database.ts";
import { WalSync } from "./wal_sync.ts";

/**
 * The database of the SQLite store, shared by its roles.
 *
 * @example
 * ```ts
 * import { SqliteContext } from "./context.ts";
 * import { SqliteDatabase } from "./database.ts";
 * const dir = await Deno.makeTempDir();
 * const ctx = new SqliteContext(new SqliteDatabase(`${dir}/x.db`, { synchronous: "normal" }));
 * await ctx.write(() => ctx.db.exec("create table t (v integer)"));
 * await ctx.write(() => ctx.db.run("insert into t (v) values (2)")); // answered once the WAL is synced
 * if (ctx.sync.synced !== ctx.db.commits) throw new Error("every commit answered is on disk");
 * ctx.db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteContext {
  /** Syncs the WAL for the commits answers depend on. */
  readonly sync: WalSync;

  constructor(readonly db: SqliteDatabase) {
    this.sync = new WalSync(
      () => db.commits,
      () => db.synchronous === "full" ? Promise.resolve() : db.syncWal(),
    );
  }

  /**
   * Runs one read (or one write statement, which commits on its own); answers once every commit made so far
   * is on disk (what it read may depend on any of them), its error rethrown as classified.
   */
  run<T>(fn: () => T): Promise<T> {
    if (this.sync.broken) return Promise.reject(this.sync.broken);
    let result: T;
    try {
      result = fn();
    } catch (err) {
      return Promise.reject(classifySqliteError(err, this.db.path));
    }
    const seen = this.db.commits;
    return seen <= this.sync.synced ? Promise.resolve(result) : this.sync.after(seen).then(() => result);
  }

  /** Runs `fn` in one write transaction (all or nothing), answered once it is on disk. */
  write<T>(fn: () => T): Promise<T> {
    return this.run(() => this.db.transaction(fn));
  }
}
