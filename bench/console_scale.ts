/**
 * The runs list at scale (issue 18): `--rows` executions (default 1,000,000, made up by
 * `testing/storage/execution_rows.ts`) written in bulk straight into the `executions` table of the SQLite
 * store and of PostgreSQL (`ENGINE_TEST_DATABASE_URL`, a temporary database), then every filter combination
 * of `GET /api/v1/executions` (workflow, status, start-time window, id prefix — none, sparse, dense — and their
 * combinations: 24 cases) listed through the store's `listExecutions`, as the route calls it: the first page
 * and a deep one (a cursor half way down), 50 rows a page, `--repeat` times each after one warm-up call.
 *
 *   deno task bench:console-scale                               # 1,000,000 rows, SQLite and PostgreSQL
 *   deno task bench:console-scale --rows 100000 --storage sqlite --repeat 20
 *
 * Reports per store: the time to seed, the time its migrations take on a store that already holds the rows
 * (`--migrate-after`: the rows are written under the schema before the search indexes, then the store is
 * opened again, as an upgrade does), the size on disk, and per case and page the p50 and p99 latency (ms), the
 * rows answered and whether a next cursor came back. Writes the report as `bench/report_file.ts` says.
 *
 * @module
 */
import { sql } from "npm:kysely@0.29.9";
import { openPostgres } from "../storage/postgres.ts";
import { MIGRATIONS } from "../storage/sql/migrations.ts";
import { SqliteDatabase } from "../storage/sqlite/database.ts";
import { migrateSqlite, SQLITE_MIGRATIONS } from "../storage/sqlite/migrations.ts";
import { openSqlite, sqlitePath } from "../storage/sqlite/open.ts";
import type { Storage } from "../storage/storage.ts";
import { postgresReachable, TEST_DATABASE_URL, withTempDatabase } from "../testing/pg.ts";
import { seedPostgres, seedSqlite } from "../testing/storage/execution_rows.ts";
import { deepCursor, searchCases } from "../testing/storage/execution_search_cases.ts";
import { jsonTarget, writeReport } from "./report_file.ts";

const args = Deno.args;
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const ROWS = Number(opt("rows", "1000000"));
const REPEAT = Number(opt("repeat", "30"));
const STORES = opt("storage", "sqlite,postgres").split(",");
const MIGRATE_AFTER = args.includes("--migrate-after");
const PAGE = 50;

/** A percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return +sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)].toFixed(2);
}

/** Every case's first and deep page, timed. */
async function measure(storage: Storage) {
  const out = [];
  for (const c of searchCases(ROWS)) {
    for (const [page, cursor] of [["first", null], ["deep", deepCursor(ROWS)]] as const) {
      const call = () => storage.listExecutions({ ...c.query, limit: PAGE, cursor });
      const answer = await call(); // warm-up
      const times: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const t0 = performance.now();
        await call();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const row = {
        case: c.name,
        page,
        p50Ms: percentile(times, 0.5),
        p99Ms: percentile(times, 0.99),
        rows: answer.items.length,
        next: answer.next !== null,
      };
      console.error(JSON.stringify(row));
      out.push(row);
    }
  }
  return out;
}

/** Seconds since `t0` (performance.now()). */
const since = (t0: number) => +((performance.now() - t0) / 1000).toFixed(1);

/** Progress on standard error, every 100,000 rows. */
const progress = (store: string) => (done: number) => {
  if (done % 100_000 === 0 || done === ROWS) console.error(`${store}: ${done} rows`);
};

async function sqliteRun() {
  const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-scale-" });
  try {
    await Deno.mkdir(`${dataDir}/sqlite`, { recursive: true });
    const db = new SqliteDatabase(sqlitePath(dataDir), { synchronous: "normal" });
    const search = SQLITE_MIGRATIONS.find((m) => m.name === "execution search indexes")!.version;
    const last = MIGRATE_AFTER ? SQLITE_MIGRATIONS.filter((m) => m.version < search) : SQLITE_MIGRATIONS;
    migrateSqlite(db, Date.now(), last);
    const t0 = performance.now();
    seedSqlite(db, ROWS, 50_000, progress("sqlite"));
    const seedS = since(t0);
    db.close();
    const t1 = performance.now();
    const storage = await openSqlite({ dataDir }); // migrates what is left
    const migrateS = since(t1);
    try {
      const bytes = (await Deno.stat(sqlitePath(dataDir))).size;
      return {
        store: "sqlite",
        seedS,
        migrateS,
        mib: +(bytes / 2 ** 20).toFixed(0),
        pages: await measure(storage),
      };
    } finally {
      await storage.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function postgresRun() {
  if (!(await postgresReachable())) throw new Error(`PostgreSQL is not reachable at ${TEST_DATABASE_URL}`);
  return await withTempDatabase(async (url) => {
    let storage = await openPostgres({ url, poolMax: 4 });
    if (MIGRATE_AFTER) {
      // Back to the schema before the search indexes (migration 6), as a store written by the older code.
      for (const m of MIGRATIONS.filter((m) => m.name === "execution search indexes")) {
        await sql`delete from engine_migrations where version = ${m.version}`.execute(storage.db);
      }
      for (const name of ["executions_by_status", "executions_by_workflow_status", "executions_by_id_c"]) {
        await sql.raw(`drop index if exists ${name}`).execute(storage.db);
      }
    }
    const t0 = performance.now();
    await seedPostgres(storage.db, ROWS, 20_000, progress("postgres"));
    const seedS = since(t0);
    await storage.close();
    const t1 = performance.now();
    storage = await openPostgres({ url, poolMax: 4 }); // migrates what is left
    const migrateS = since(t1);
    try {
      await sql`vacuum analyze executions`.execute(storage.db);
      const size = await sql<{ b: string }>`select pg_total_relation_size('executions') as b`.execute(
        storage.db,
      );
      return {
        store: "postgres",
        seedS,
        migrateS,
        mib: +(Number(size.rows[0].b) / 2 ** 20).toFixed(0),
        pages: await measure(storage),
      };
    } finally {
      await storage.close();
    }
  });
}

if (import.meta.main) {
  const runs = [];
  if (STORES.includes("sqlite")) runs.push(await sqliteRun());
  if (STORES.includes("postgres")) runs.push(await postgresRun());
  await writeReport(
    { bench: "console_scale", rows: ROWS, repeat: REPEAT, pageSize: PAGE, migrateAfter: MIGRATE_AFTER, runs },
    jsonTarget(args),
    "console-scale",
  );
}
