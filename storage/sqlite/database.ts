/**
 * One SQLite database file through `node:sqlite` (`DatabaseSync`), as the SQLite store uses it: WAL journal,
 * `synchronous=FULL` (every commit fsyncs the WAL before it returns) or `NORMAL` with the WAL synced by the
 * caller (`syncWal`, off the event loop: see wal_sync.ts), a busy timeout, prepared statements cached by their
 * text, write transactions (`BEGIN IMMEDIATE`) that run to the end synchronously, so no other JavaScript
 * interleaves with them, and a count of the commits made. Driver errors that mean "the file cannot be used"
 * (I/O, disk full, busy, corrupt, closed) become `StorageUnavailable`.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StorageUnavailable } from "../storage.ts";

/** A value SQLite binds or returns. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** A row as `node:sqlite` returns it. */
export type SqlRow = Record<string, SqlValue>;

/** SQLite's primary result codes that mean the file cannot be used now (busy, I/O, full, corrupt, ...). */
const UNAVAILABLE_CODES = new Set([
  5, // SQLITE_BUSY
  6, // SQLITE_LOCKED
  7, // SQLITE_NOMEM
  8, // SQLITE_READONLY
  10, // SQLITE_IOERR
  11, // SQLITE_CORRUPT
  13, // SQLITE_FULL
  14, // SQLITE_CANTOPEN
  15, // SQLITE_PROTOCOL
  26, // SQLITE_NOTADB
]);

/** The most prepared statements kept (the SQLite roles use a few dozen texts). */
const MAX_STATEMENTS = 256;

/** Options of {@link SqliteDatabase}. */
export interface SqliteDatabaseOptions {
  /** How long a statement waits for a lock held by another connection (ms; default 5,000). */
  busyTimeoutMs?: number;
  /**
   * `full` (the default): every commit fsyncs the WAL before it returns. `normal`: it does not; whoever
   * answers for a commit calls `syncWal` first (the store does, through `WalSync`).
   */
  synchronous?: "full" | "normal";
}

/** `pragma synchronous`'s value of each mode. */
const SYNCHRONOUS = { normal: 1, full: 2 } as const;

/**
 * A SQLite database file, opened in WAL mode. Writes go through `transaction` (or, one statement on its own,
 * `run`): `commits` counts them; `get` and `all` outside a transaction are reads.
 *
 * @example
 * ```ts
 * import { SqliteDatabase } from "./database.ts";
 * const dir = await Deno.makeTempDir();
 * const db = new SqliteDatabase(`${dir}/x.db`);
 * db.exec("create table t (k text primary key, v integer not null)");
 * db.transaction(() => db.run("insert into t (k, v) values (?, ?)", "a", 1));
 * if (db.get<{ v: number }>("select v from t where k = ?", "a")?.v !== 1) throw new Error("committed");
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #wal: Deno.FsFile;
  readonly synchronous: "full" | "normal";
  #closed = false;
  #inTransaction = false;
  #commits = 0;

  constructor(readonly path: string, options: SqliteDatabaseOptions = {}) {
    this.synchronous = options.synchronous ?? "full";
    this.#db = new DatabaseSync(path);
    try {
      this.exec(`pragma busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5_000))}`);
      const mode = this.get<{ journal_mode: string }>("pragma journal_mode = wal")?.journal_mode;
      if (mode !== "wal") throw new Error(`SQLite at ${path} refused the WAL journal (${mode})`);
      this.exec(`pragma synchronous = ${this.synchronous}`);
      const sync = this.get<{ synchronous: number }>("pragma synchronous")?.synchronous;
      if (sync !== SYNCHRONOUS[this.synchronous]) {
        throw new Error(`SQLite at ${path} refused synchronous=${this.synchronous} (${sync})`);
      }
      // The WAL stays this file while a connection is open (SQLite removes it when the last one closes), so
      // an fsync of this handle is an fsync of the WAL; created here if SQLite has not made it yet.
      this.#wal = Deno.openSync(`${path}-wal`, { read: true, write: true, create: true });
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /** How many write transactions (and writes outside one) have committed since the file was opened. */
  get commits(): number {
    return this.#commits;
  }

  /** Flushes the WAL file to disk (`fdatasync`) on Deno's blocking pool, off the event loop. */
  syncWal(): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageUnavailable(`SQLite at ${this.path} is closed`));
    return this.#wal.syncData();
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The prepared statement of `sql` (prepared once, then kept). */
  #statement(sql: string): StatementSync {
    if (this.#closed) throw new StorageUnavailable(`SQLite at ${this.path} is closed`);
    let s = this.#statements.get(sql);
    if (s === undefined) {
      if (this.#statements.size >= MAX_STATEMENTS) this.#statements.clear();
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** Runs statements without parameters (schema changes, pragmas). */
  exec(sql: string): void {
    if (this.#closed) throw new StorageUnavailable(`SQLite at ${this.path} is closed`);
    this.#db.exec(sql);
  }

  /** The rows of a query. */
  all<T = SqlRow>(sql: string, ...params: SqlValue[]): T[] {
    return this.#statement(sql).all(...params) as T[];
  }

  /** The first row of a query, or undefined. */
  get<T = SqlRow>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#statement(sql).get(...params) as T | undefined;
  }

  /** Runs a statement (outside a transaction, it commits on its own); answers how many rows it changed. */
  run(sql: string, ...params: SqlValue[]): number {
    const changes = Number(this.#statement(sql).run(...params).changes);
    if (!this.#inTransaction) this.#commits++;
    return changes;
  }

  /**
   * Runs `fn` in a write transaction (`BEGIN IMMEDIATE` … `COMMIT`): all of it or, when it throws, none of it.
   * `fn` is synchronous, so nothing else runs in between; transactions do not nest.
   */
  transaction<T>(fn: () => T): T {
    const begin = this.#statement("begin immediate"); // throws StorageUnavailable once closed
    if (this.#inTransaction || this.#db.isTransaction) {
      throw new Error("assertion: SQLite transactions do not nest");
    }
    begin.run();
    this.#inTransaction = true;
    let result: T;
    try {
      result = fn();
      this.#statement("commit").run();
    } catch (err) {
      this.#rollback();
      throw err;
    } finally {
      this.#inTransaction = false;
    }
    this.#commits++;
    return result;
  }

  #rollback(): void {
    try {
      if (!this.#closed && this.#db.isTransaction) this.#db.exec("rollback");
    } catch {
      // The transaction is gone already (SQLite rolls back on some errors by itself).
    }
  }

  /** Closes the file (checkpointing the WAL into it); later calls fail with `StorageUnavailable`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    try {
      this.#db.close(); // the last connection: SQLite checkpoints the WAL into the file, synced, and removes it
    } finally {
      this.#wal.close();
    }
  }
}

/**
 * Turns a driver error meaning "the database cannot be used" into `StorageUnavailable`; returns any other
 * error as it is.
 *
 * @example
 * ```ts
 * import { classifySqliteError } from "./database.ts";
 * import { StorageUnavailable } from "../storage.ts";
 * const full = Object.assign(new Error("database or disk is full"), { code: "ERR_SQLITE_ERROR", errcode: 13 });
 * if (!(classifySqliteError(full, "x.db") instanceof StorageUnavailable)) throw new Error("disk full: 503");
 * const bug = new TypeError("a bug");
 * if (classifySqliteError(bug, "x.db") !== bug) throw new Error("a bug stays a bug");
 * ```
 */
export function classifySqliteError(err: unknown, path: string): unknown {
  if (err instanceof StorageUnavailable) return err;
  const e = err as { code?: string; errcode?: number; message?: string } | null;
  if (!e || typeof e !== "object") return err;
  const closed = e.code === "ERR_INVALID_STATE" || /database is not open/i.test(e.message ?? "");
  const primary = typeof e.errcode === "number" ? e.errcode & 0xff : -1;
  if (closed || (e.code === "ERR_SQLITE_ERROR" && UNAVAILABLE_CODES.has(primary))) {
    return new StorageUnavailable(`SQLite at ${path} is unavailable: ${e.message}`, { cause: err });
  }
  return err;
}
