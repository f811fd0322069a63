/**
 * PostgreSQL for tests: the URL to use, whether the tests that need it run, and a
 * throw-away database. With CI=true a missing database fails those tests (never a
 * silent skip). Imported only by tests and benches.
 *
 * @module
 */
import postgres from "npm:postgres@3.4.9";

/** The test database: `ENGINE_TEST_DATABASE_URL`, else the local server's `postgres` database. */
export const TEST_DATABASE_URL = Deno.env.get("ENGINE_TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

let reachable: Promise<boolean> | undefined;

/** Whether the test database answers (asked once per process). */
export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const sql = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql`select 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 1 });
    }
  })();
  return reachable;
}

/**
 * Registers a test that needs PostgreSQL. Without a database it is ignored locally,
 * but under CI=true it runs and fails loudly.
 */
export function pgTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (!(await postgresReachable())) {
        if (Deno.env.get("CI") === "true") {
          throw new Error(
            `PostgreSQL is not reachable at ${TEST_DATABASE_URL} (CI=true: this must not skip)`,
          );
        }
        console.warn(`skipped locally: PostgreSQL not reachable at ${TEST_DATABASE_URL}`);
        return;
      }
      await fn(t);
    },
  });
}

/**
 * Creates a fresh database on the test server, runs `fn` with its URL, then
 * drops it (forcing out any connection left open).
 */
export async function withTempDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `flowmesh_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    return await fn(url.toString());
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end({ timeout: 2 });
  }
}
