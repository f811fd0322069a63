/**
 * MySQL / MariaDB for tests: the URL to use, whether the tests that need it run, and a throw-away database.
 * With CI=true a missing server fails those tests (never a silent skip). Imported only by tests.
 *
 * @module
 */
import mysql from "npm:mysql2@3.26.1/promise";

/** The test server: `ENGINE_TEST_MYSQL_URL`, else the local MariaDB's `flowmesh_test` database as root. */
export const TEST_MYSQL_URL = Deno.env.get("ENGINE_TEST_MYSQL_URL") ??
  "mysql://root@127.0.0.1:3306/flowmesh_test";

/** The connection options of a `mysql://` URL (for the tests' own statements). */
function optionsOf(url: string, database?: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port === "" ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: database ?? (u.pathname.replace(/^\//, "") || undefined),
    connectTimeout: 3000,
  };
}

let reachable: Promise<boolean> | undefined;

/** Whether the test server answers (asked once per process). */
export function mysqlReachable(): Promise<boolean> {
  reachable ??= (async () => {
    try {
      const conn = await mysql.createConnection(optionsOf(TEST_MYSQL_URL, ""));
      await conn.end();
      return true;
    } catch {
      return false;
    }
  })();
  return reachable;
}

/**
 * Registers a test that needs MySQL / MariaDB. Without a server it is ignored locally (with a line saying
 * so), but under CI=true it runs and fails loudly.
 */
export function mysqlTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (!(await mysqlReachable())) {
        if (Deno.env.get("CI") === "true") {
          throw new Error(
            `MySQL/MariaDB is not reachable at ${TEST_MYSQL_URL} (CI=true: this must not skip)`,
          );
        }
        console.warn(`skipped locally: MySQL/MariaDB not reachable at ${TEST_MYSQL_URL}`);
        return;
      }
      await fn(t);
    },
  });
}

/** A connection to a database of the test server, for a test's own statements. */
export interface TestMysql {
  /** The `mysql://` URL of the database. */
  url: string;
  /** Runs one statement (with `?` parameters) and returns its rows. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** Creates a fresh database on the test server, runs `fn` with it, then drops it. */
export async function withTempMysqlDatabase<T>(fn: (db: TestMysql) => Promise<T>): Promise<T> {
  const name = `flowmesh_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = await mysql.createConnection(optionsOf(TEST_MYSQL_URL, ""));
  try {
    await admin.query(`create database \`${name}\``);
    const url = new URL(TEST_MYSQL_URL);
    url.pathname = `/${name}`;
    const conn = await mysql.createConnection(optionsOf(url.toString()));
    try {
      return await fn({
        url: url.toString(),
        query: async (sql, params = []) => (await conn.query(sql, params))[0] as Record<string, unknown>[],
      });
    } finally {
      await conn.end().catch(() => {});
    }
  } finally {
    await admin.query(`drop database if exists \`${name}\``).catch(() => {});
    await admin.end().catch(() => {});
  }
}
