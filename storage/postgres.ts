/**
 * PostgreSQL storage: Kysely over postgres.js (`kysely-postgres-js`), with a
 * bounded pool, migrations at start-up, and driver errors that mean "the
 * database is not there" turned into `StorageUnavailable`.
 *
 * @module
 */
import {
  type AbortableOperationOptions,
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  type QueryResult,
  type TransactionSettings,
} from "npm:kysely@0.29.9";
import {
  PostgresJSDialect,
  type PostgresJSDialectConfig,
  PostgresJSDriver,
} from "npm:kysely-postgres-js@5.0.0";
import postgres from "npm:postgres@3.4.9";
import { migrate } from "./sql/migrations.ts";
import type { Database } from "./sql/schema.ts";
import { SqlStorage } from "./sql/sql_storage.ts";
import { StorageUnavailable } from "./storage.ts";

/** Options of `openPostgres`. */
export interface PostgresOptions {
  url: string;
  /** Pool size (default 10). */
  poolMax?: number;
  /** Give up connecting after this many seconds (default 5, so start-up fails within 10 s). */
  connectTimeoutSeconds?: number;
  now?: () => number;
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** Whether a postgres.js error means the database cannot be reached. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; errno?: string; name?: string; message?: string } | null;
  if (!e || typeof e !== "object") return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith("08"))) return true;
  if (e.errno && UNAVAILABLE_CODES.has(e.errno)) return true;
  return /connection (refused|reset|closed|terminated)|ECONNREFUSED|write CONNECTION_CLOSED/i.test(
    e.message ?? "",
  );
}

/** Hides the password of a database URL, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

type PostgresJSConnection = Awaited<ReturnType<PostgresJSDriver["acquireConnection"]>>;

/**
 * A reserved connection that remembers losing its server. postgres.js
 * (3.4.9) keeps a reserved connection pinned after its socket closed: the next
 * query on it writes to a null socket from a `setImmediate` (an uncaught
 * TypeError that kills the process; porsager/postgres#1208), and releasing it
 * puts the dead connection back among the open ones, wedging the pool
 * (porsager/postgres#1199). So once a query fails because the connection is
 * gone, this one refuses further queries with that error and is not released
 * (postgres.js already moved it to its closed connections, to reconnect).
 */
class GuardedConnection implements DatabaseConnection {
  lost: unknown = undefined;
  constructor(readonly inner: PostgresJSConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.lost !== undefined) throw this.lost;
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (err) {
      if (isUnavailable(err)) this.lost ??= err;
      throw err;
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    if (this.lost !== undefined) throw this.lost;
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      if (isUnavailable(err)) this.lost ??= err;
      throw err;
    }
  }
}

/**
 * The postgres.js driver, handing out {@link GuardedConnection}s. Rollback is
 * not the inherited one: on a failed rollback that calls a node-postgres-only
 * method on the connection and throws a TypeError in place of the driver error
 * (a lost connection became a 500, not a 503).
 */
class GuardedDriver implements Driver {
  readonly #inner: PostgresJSDriver;
  readonly #waitMs: number;
  constructor(config: PostgresJSDialectConfig, waitMs: number) {
    this.#inner = new PostgresJSDriver(config);
    this.#waitMs = waitMs;
  }
  init(options?: AbortableOperationOptions): Promise<void> {
    return this.#inner.init(options);
  }
  /**
   * A connection from the pool, or a `CONNECT_TIMEOUT` error after `#waitMs`: postgres.js (3.4.9) can
   * strand a waiting reservation for good when a connection closes and reconnects
   * (porsager/postgres#1195), which left the storage call, and the execution appending through it,
   * waiting forever. One that arrives after the timeout goes back to the pool.
   */
  async acquireConnection(options?: AbortableOperationOptions): Promise<GuardedConnection> {
    const pending = this.#inner.acquireConnection(options);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`no PostgreSQL connection within ${this.#waitMs} ms`);
        reject(Object.assign(err, { code: "CONNECT_TIMEOUT" }));
      }, this.#waitMs);
    });
    try {
      return new GuardedConnection(await Promise.race([pending, timeout]));
    } catch (err) {
      pending.then((late) => this.#inner.releaseConnection(late), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(connection, settings);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(connection);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }
  async releaseConnection(
    connection: DatabaseConnection,
    options?: AbortableOperationOptions,
  ): Promise<void> {
    const guarded = connection as GuardedConnection;
    if (guarded.lost === undefined) await this.#inner.releaseConnection(guarded.inner, options);
  }
  destroy(options?: AbortableOperationOptions): Promise<void> {
    return this.#inner.destroy(options);
  }
}

/** The postgres.js dialect with {@link GuardedDriver}. */
function guardedDialect(config: PostgresJSDialectConfig, acquireWaitMs: number): Dialect {
  const base = new PostgresJSDialect(config);
  return {
    createAdapter: () => base.createAdapter(),
    createDriver: () => new GuardedDriver(config, acquireWaitMs),
    createIntrospector: (db) => base.createIntrospector(db),
    createQueryCompiler: () => base.createQueryCompiler(),
  };
}

/**
 * Connects, migrates, and returns PostgreSQL storage. Rejects with a one-line
 * `StorageUnavailable` when the database cannot be reached in time.
 */
export async function openPostgres(opts: PostgresOptions): Promise<SqlStorage> {
  const connectTimeoutSeconds = opts.connectTimeoutSeconds ?? 5;
  const client = postgres(opts.url, {
    max: opts.poolMax ?? 10,
    connect_timeout: connectTimeoutSeconds,
    idle_timeout: 60,
    // postgres.js waits before each reconnect, by default up to 20 s once connects have failed a few
    // times (the count is shared by the pool and reset only by a success): during and after an outage
    // every query queued behind a reconnect waited that long. At most 0.5 s instead.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    onnotice: () => {},
    connection: { application_name: "flowmesh" },
  });
  const db = new Kysely<Database>({
    dialect: guardedDialect({ postgres: client }, 2 * connectTimeoutSeconds * 1000),
  });
  const classify = (err: unknown) =>
    isUnavailable(err)
      ? new StorageUnavailable(
        `PostgreSQL at ${redactUrl(opts.url)} is unavailable: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
      : err;
  // Bounded: when a connection closes under a query, postgres.js (3.4.9) rejects the query but keeps it
  // as the connection's current one until a reconnect, and `end()` waits for it for good (a node
  // stopping after an outage hung). After the timeout the connections are destroyed.
  const close = async () => {
    await client.end({ timeout: 2 });
    await db.destroy();
  };
  const storage = new SqlStorage(db, { kind: "postgres", classify, close });
  try {
    await migrate(db, (opts.now ?? Date.now)());
  } catch (err) {
    await client.end({ timeout: 1 }).catch(() => {});
    const e = classify(err);
    if (e instanceof StorageUnavailable) throw e;
    throw new StorageUnavailable(`PostgreSQL at ${redactUrl(opts.url)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return storage;
}
