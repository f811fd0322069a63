/**
 * PostgreSQL storage: Kysely over postgres.js (`kysely-postgres-js`), with a
 * bounded pool, migrations at start-up, and driver errors that mean "the
 * database is not there" turned into `StorageUnavailable`.
 *
 * @module
 */
import { Kysely } from "kysely";
import { PostgresJSDialect } from "kysely-postgres-js";
import postgres from "postgres";
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

/**
 * Connects, migrates, and returns PostgreSQL storage. Rejects with a one-line
 * `StorageUnavailable` when the database cannot be reached in time.
 */
export async function openPostgres(opts: PostgresOptions): Promise<SqlStorage> {
  const client = postgres(opts.url, {
    max: opts.poolMax ?? 10,
    connect_timeout: opts.connectTimeoutSeconds ?? 5,
    idle_timeout: 60,
    onnotice: () => {},
    connection: { application_name: "flowmesh" },
  });
  const db = new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: client }) });
  const classify = (err: unknown) =>
    isUnavailable(err)
      ? new StorageUnavailable(
        `PostgreSQL at ${redactUrl(opts.url)} is unavailable: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
      : err;
  const storage = new SqlStorage(db, { kind: "postgres", classify, close: () => db.destroy() });
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
