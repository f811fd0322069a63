/**
 * The benches' PostgreSQL: a fresh database per run on the test server
 * (`ENGINE_TEST_DATABASE_URL`), and the counters read off it — transactions
 * committed, rows of the engine's tables, and the process ids of the backends
 * serving it (whose CPU time `/proc` gives).
 *
 * @module
 */
import postgres from "npm:postgres@3.4.9";
import { TEST_DATABASE_URL } from "../testing/pg.ts";

/** A database made for one run, and how to drop it. */
export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh database on the test server (`prefix` and the time name it).
 *
 * @example
 * ```ts ignore
 * const db = await createBenchDatabase("flowmesh_bench");
 * await db.drop();
 * ```
 */
export async function createBenchDatabase(prefix = "flowmesh_bench"): Promise<BenchDatabase> {
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  const name = `${prefix}_${Date.now()}_${crypto.randomUUID().slice(0, 8)}`;
  await admin.unsafe(`create database ${name}`);
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end();
    },
  };
}

/** PostgreSQL counters: transactions committed, and rows of the engine's tables. */
export interface PgCounts {
  commits: number;
  events: number;
  batches: number;
  outputs: number;
  executions: number;
  audit: number;
  /** The process ids of the other backends connected to the database now. */
  backends: number[];
}

/**
 * The database's counters now (commits from `pg_stat_database`, which a backend reports at most once a
 * second; rows counted).
 *
 * @example
 * ```ts ignore
 * const { commits, backends } = await pgCounts(db.url);
 * ```
 */
export async function pgCounts(url: string): Promise<PgCounts> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [r] = await sql`select xact_commit::bigint as commits,
      (select coalesce(sum(last_seq - first_seq + 1), 0) from event_batches)::int as events,
      (select count(*) from event_batches)::int as batches, (select count(*) from outputs)::int as outputs,
      (select count(*) from executions)::int as executions, (select count(*) from audit_events)::int as audit,
      (select coalesce(array_agg(pid), '{}') from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()) as backends
      from pg_stat_database where datname = current_database()`;
    return {
      commits: Number(r.commits),
      events: r.events as number,
      batches: r.batches as number,
      outputs: r.outputs as number,
      executions: r.executions as number,
      audit: r.audit as number,
      backends: (r.backends as number[]).map(Number),
    };
  } finally {
    await sql.end();
  }
}
