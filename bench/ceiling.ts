/**
 * The ceiling: what raw PostgreSQL (postgres.js, no engine, no HTTP) sustains
 * writing exactly the rows one execution of the standard workload writes (see
 * `ceiling_rows.ts`: 1 `executions` row, 1 `event_batches` row of 17 events, 5
 * `outputs` rows, 1 `audit_events` row), in the engine's own schema, with the
 * best batching we know: group commit (`ceiling_group.ts`: one statement, one
 * transaction for many executions' rows, 256 at most, 2 in flight over a pool of
 * 2 connections), offered as `bench:load` offers load: a closed loop of
 * `--concurrency` workers (50 by default), each waiting for its execution's rows
 * to be committed before the next.
 *
 *   deno task bench:ceiling --concurrency 50 --duration 20s
 *   deno task bench:ceiling --fenced            # also the engine's reads: shard fence, workflow head
 *   deno task bench:ceiling --json -            # the report on standard output, one line
 *
 * It prints executions/s, latency (p50/p95/p99/max, from submitting the rows to
 * their commit), commits per execution, the client's CPU and the PostgreSQL
 * backends' CPU per execution, and the rows written per execution (counted), and
 * writes the report as JSON (`--json <path>`; by default under `.data/bench/`).
 * Each run uses a fresh database on `ENGINE_TEST_DATABASE_URL`'s server and drops
 * it. `bench:load --start postgres` runs it after the engine's measurement
 * (`runCeiling`) and reports the engine's fraction of it.
 *
 * @module
 */
import postgres from "npm:postgres@3.4.9";
import { parseDuration } from "../core/duration.ts";
import { createBenchDatabase, pgCounts } from "./bench_database.ts";
import { DEFAULT_ROW_GROUP, RowGroup } from "./ceiling_group.ts";
import { countRows, createEngineSchema, type RowCounts, standardExecutionRows } from "./ceiling_rows.ts";
import { cpuBetween, cpuOf, type LatencySummary, latencySummary, processStats } from "./process_stats.ts";
import { jsonTarget, writeReport } from "./report_file.ts";

/** How the ceiling is measured. */
export interface CeilingOptions {
  /** Closed-loop workers, each with one execution's rows in flight. */
  concurrency: number;
  durationMs: number;
  /** The same load, offered first and not measured. */
  warmupMs: number;
  /** Executions in one statement at most. */
  maxBatch: number;
  /** Statements in flight at once, and connections in the pool. */
  pool: number;
  /** Also the engine's reads (shard fence `for share`, workflow head). */
  fenced: boolean;
}

/** The defaults: `bench:load`'s closed loop (50 workers, 15 s after 5 s), the engine's commit group. */
export const DEFAULT_CEILING: Readonly<CeilingOptions> = Object.freeze({
  concurrency: 50,
  durationMs: 15_000,
  warmupMs: 5_000,
  maxBatch: DEFAULT_ROW_GROUP.maxBatch,
  pool: DEFAULT_ROW_GROUP.maxInFlight,
  fenced: false,
});

/** What a ceiling run measured. */
export interface CeilingReport {
  kind: "ceiling";
  workload: "standard";
  concurrency: number;
  maxBatch: number;
  pool: number;
  fenced: boolean;
  seconds: number;
  completed: number;
  executionsPerSecond: number;
  /** From submitting an execution's rows (built and encoded) to their commit. */
  latencyMs: LatencySummary;
  /** Statements (each one transaction) per execution, and executions per statement. */
  commitsPerExecution: number;
  averageBatch: number;
  cpuMsPerExecution: {
    /** This process: building, encoding and sending the rows, and the loop. */
    client: number;
    /** The PostgreSQL backends serving the pool (the WAL writer and checkpointer not included). */
    postgresBackends: number;
  };
  /** Rows in the database over executions written (warm-up included). */
  rowsPerExecution: RowCounts;
  /** The machine's 1-minute load average before and after the measured period (other work shows here). */
  loadAverage: { before: number; after: number };
}

/**
 * Parses the command line (`--concurrency`, `--duration`, `--warmup`, `--max-batch`, `--pool`,
 * `--fenced`); the rest from `DEFAULT_CEILING`.
 *
 * @example
 * ```ts
 * import { parseCeilingArgs } from "./ceiling.ts";
 * const o = parseCeilingArgs(["--concurrency", "8", "--duration", "2s", "--fenced"]);
 * if (o.concurrency !== 8 || o.durationMs !== 2000 || !o.fenced || o.pool !== 2) throw new Error();
 * ```
 */
export function parseCeilingArgs(args: readonly string[]): CeilingOptions {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const count = (name: string, fallback: number) => {
    const v = Number(get(name) ?? fallback);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
    return v;
  };
  const duration = (name: string, fallback: number) => {
    const v = get(name);
    if (v === undefined) return fallback;
    const ms = parseDuration(v);
    if (ms === undefined) throw new Error(`--${name} must be a duration such as 20s`);
    return ms;
  };
  return {
    concurrency: count("concurrency", DEFAULT_CEILING.concurrency),
    durationMs: duration("duration", DEFAULT_CEILING.durationMs),
    warmupMs: duration("warmup", DEFAULT_CEILING.warmupMs),
    maxBatch: count("max-batch", DEFAULT_CEILING.maxBatch),
    pool: count("pool", DEFAULT_CEILING.pool),
    fenced: args.includes("--fenced"),
  };
}

/** The closed loop: workers writing executions' rows through a group until a deadline. */
class Loop {
  latencies: number[] = [];
  #seq = 0;
  readonly #prefix = `ceiling-${Date.now()}`;

  constructor(private readonly group: RowGroup, private readonly concurrency: number) {}

  /** Runs the workers until `end` (a `performance.now()` time); a failed write stops the run. */
  async drive(end: number): Promise<void> {
    await Promise.all(Array.from({ length: this.concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await this.group.submit(standardExecutionRows(this.#prefix, this.#seq++, Date.now()));
        this.latencies.push(performance.now() - t0);
      }
    }));
  }
}

/**
 * Measures the ceiling in the database at `url` (which must hold the engine's schema and nothing else
 * running against it): a warm-up, then `durationMs` of closed-loop load.
 */
async function measureIn(url: string, o: CeilingOptions): Promise<CeilingReport> {
  const sql = postgres(url, { max: o.pool, onnotice: () => {} });
  try {
    const group = new RowGroup(sql, { maxBatch: o.maxBatch, maxInFlight: o.pool, fenced: o.fenced });
    const loop = new Loop(group, o.concurrency);
    if (o.warmupMs > 0) await loop.drive(performance.now() + o.warmupMs);
    loop.latencies = [];
    const before = { stats: { ...group.stats }, self: await processStats(Deno.pid), pg: await pgCounts(url) };
    const backends0 = await cpuOf(before.pg.backends);
    const load0 = Deno.loadavg()[0];
    const started = performance.now();
    await loop.drive(started + o.durationMs);
    const seconds = (performance.now() - started) / 1000;
    const self = await processStats(Deno.pid);
    const backendCpu = cpuBetween(backends0, await cpuOf(before.pg.backends));
    const rows = await countRows(sql);
    const flushes = group.stats.flushes - before.stats.flushes;
    const completed = loop.latencies.length;
    const n = Math.max(1, completed);
    const written = Math.max(1, group.stats.executions);
    const per = (x: number) => +(x / written).toFixed(2);
    return {
      kind: "ceiling",
      workload: "standard",
      concurrency: o.concurrency,
      maxBatch: o.maxBatch,
      pool: o.pool,
      fenced: o.fenced,
      seconds: +seconds.toFixed(1),
      completed,
      executionsPerSecond: Math.round(completed / seconds),
      latencyMs: latencySummary(loop.latencies),
      commitsPerExecution: +(flushes / n).toFixed(4),
      averageBatch: +((group.stats.executions - before.stats.executions) / Math.max(1, flushes)).toFixed(1),
      cpuMsPerExecution: {
        client: +(((self.cpuSeconds - before.self.cpuSeconds) * 1000) / n).toFixed(3),
        postgresBackends: +((backendCpu * 1000) / n).toFixed(3),
      },
      rowsPerExecution: {
        executions: per(rows.executions),
        eventBatches: per(rows.eventBatches),
        events: per(rows.events),
        outputs: per(rows.outputs),
        auditEvents: per(rows.auditEvents),
      },
      loadAverage: { before: load0, after: Deno.loadavg()[0] },
    };
  } finally {
    await sql.end();
  }
}

/**
 * Runs the ceiling in a fresh database on the test server (made, given the engine's schema, dropped after).
 *
 * @example
 * ```ts
 * import { runCeiling } from "./ceiling.ts";
 * import { postgresReachable } from "../testing/pg.ts";
 * if (await postgresReachable()) {
 *   const r = await runCeiling({ concurrency: 4, durationMs: 300, warmupMs: 0, maxBatch: 256, pool: 2, fenced: false });
 *   if (r.completed < 1 || r.rowsPerExecution.outputs !== 5) throw new Error(JSON.stringify(r));
 * }
 * ```
 */
export async function runCeiling(o: CeilingOptions): Promise<CeilingReport> {
  const db = await createBenchDatabase("flowmesh_ceiling");
  try {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await createEngineSchema(sql);
    } finally {
      await sql.end();
    }
    return await measureIn(db.url, o);
  } finally {
    await db.drop();
  }
}

if (import.meta.main) {
  const o = parseCeilingArgs(Deno.args);
  const report = await runCeiling(o);
  await writeReport(report, jsonTarget(Deno.args), "ceiling-standard");
}
