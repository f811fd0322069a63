/**
 * The load harness: drives real nodes over HTTP and reports completed
 * executions/s, end-to-end latency (submit → finished: p50/p95/p99/max), engine
 * overhead per node transition, CPU per execution (the nodes, the generator,
 * PostgreSQL's backends), resident memory, PostgreSQL commits and rows per
 * execution, and on PostgreSQL the ceiling measured in the same run (raw
 * PostgreSQL writing the same rows, `ceiling.ts`) and the engine's fraction of it.
 *
 *   deno task bench:load --start postgres --workload standard --mode closed --concurrency 50 --duration 20s
 *   deno task bench:load --start memory --mode rate --rate 500 --duration 20s
 *   deno task bench:load --start postgres --nodes 3 --kill-one --duration 30s
 *   deno task bench:load --target http://127.0.0.1:8080 --mode closed
 *   deno task bench:load --start memory --http-workers 2 --duration 20s
 *
 * Each run first offers the same load for `--warmup` (5 s by default, unmeasured).
 * `--start` spawns the nodes as real processes (`server/main.ts`) on free ports
 * and a fresh database or data directory; `--target` drives a running node.
 * Closed-loop mode (`--concurrency` workers, 50 by default, each waiting for its
 * execution to finish) finds the sustainable rate; rate mode submits open-loop at
 * `--rate` per second (at most `--max-in-flight` outstanding; beyond it a
 * submission is counted as dropped) and measures latency at that load.
 *
 * `--ceiling` (on by default with `--start postgres` and the standard workload;
 * `--no-ceiling` turns it off) runs the ceiling after the nodes are stopped, with
 * the same concurrency, warm-up and duration, in a fresh database.
 * `--profile-server <dir>` runs the nodes under `--cpu-prof` (profiles written to
 * `dir` when they stop; see `profile_summary.ts`). `--http-workers N` starts the
 * nodes with N HTTP workers in front of the engine (`server/http_workers/`).
 *
 * The report is printed and written as JSON: `--json <path>`, `--json -` for
 * standard output only (one line), by default `.data/bench/load-<storage>-<workload>-<time>.json`.
 *
 * @module
 */
import { parseDuration } from "../core/duration.ts";
import { type BenchDatabase, createBenchDatabase, pgCounts } from "./bench_database.ts";
import { type CeilingReport, runCeiling } from "./ceiling.ts";
import { LoadGenerator, NodePools, warmUpPlans } from "./load_generator.ts";
import {
  buildReport,
  type Measurement,
  serverHistogram,
  type Snapshot,
  type TimelinePoint,
} from "./load_report.ts";
import { type Server, startServers, stopServers } from "./load_servers.ts";
import { cpuOf, processStats } from "./process_stats.ts";
import { jsonTarget, writeReport } from "./report_file.ts";
import { WORKLOADS } from "./workloads.ts";

export { WORKLOADS } from "./workloads.ts";

/** The harness's options (see the module's documentation for the flags). */
export interface LoadOptions {
  target?: string;
  start?: "memory" | "embedded" | "postgres";
  nodes: number;
  workload: string;
  mode: "closed" | "rate";
  concurrency: number;
  rate: number;
  maxInFlight: number;
  durationMs: number;
  /** Load offered before measuring, the same as measured, its samples discarded. */
  warmupMs: number;
  killOne: boolean;
  /** Measure the ceiling after the engine (PostgreSQL, standard workload only). */
  ceiling: boolean;
  /** Where the nodes' CPU profiles go (`--cpu-prof`), if anywhere. */
  profileDir?: string;
  /** HTTP workers each started node has (`--http-workers`; 0: none). */
  httpWorkers: number;
}

/**
 * Parses the command line.
 *
 * @example
 * ```ts
 * import { parseLoadArgs } from "./load.ts";
 * const o = parseLoadArgs(["--start", "postgres", "--duration", "20s"]);
 * if (!o.ceiling || o.concurrency !== 50 || o.durationMs !== 20_000) throw new Error(JSON.stringify(o));
 * if (parseLoadArgs(["--start", "postgres", "--no-ceiling"]).ceiling) throw new Error("--no-ceiling");
 * if (parseLoadArgs(["--start", "memory"]).ceiling) throw new Error("memory: no ceiling");
 * if (parseLoadArgs(["--start", "memory", "--http-workers", "2"]).httpWorkers !== 2) throw new Error("workers");
 * ```
 */
export function parseLoadArgs(args: readonly string[]): LoadOptions {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const start = get("start") as LoadOptions["start"];
  if (start !== undefined && !["memory", "embedded", "postgres"].includes(start)) {
    throw new Error(`--start must be memory, embedded or postgres (not ${start})`);
  }
  const httpWorkers = Number(get("http-workers") ?? 0);
  if (!Number.isInteger(httpWorkers) || httpWorkers < 0 || httpWorkers > 64) {
    throw new Error(`--http-workers must be an integer from 0 to 64 (not ${get("http-workers")})`);
  }
  const workload = get("workload") ?? "standard";
  const ceiling = args.includes("--ceiling") ||
    (start === "postgres" && workload === "standard" && !args.includes("--no-ceiling"));
  return {
    target: get("target"),
    start,
    nodes: Number(get("nodes") ?? 1),
    workload,
    mode: (get("mode") ?? "closed") as LoadOptions["mode"],
    concurrency: Number(get("concurrency") ?? 50),
    rate: Number(get("rate") ?? 200),
    maxInFlight: Number(get("max-in-flight") ?? 2000),
    durationMs: parseDuration(get("duration") ?? "15s") ?? 15_000,
    warmupMs: parseDuration(get("warmup") ?? "5s") ?? 5_000,
    killOne: args.includes("--kill-one"),
    ceiling,
    profileDir: get("profile-server"),
    httpWorkers,
  };
}

/** Looks up the workload by name and registers its workflow through `url`. */
async function registerWorkload(name: string, url: string): Promise<Record<string, unknown>> {
  const wf = WORKLOADS[name];
  if (!wf) throw new Error(`unknown workload ${name} (${Object.keys(WORKLOADS).join(", ")})`);
  await fetch(`${url}/api/v1/workflows`, { method: "POST", body: JSON.stringify(wf) }).then((r) =>
    r.body?.cancel()
  );
  return wf;
}

/**
 * Reads every server's process, this process, every node's metrics and the database; the backends' CPU for
 * those connected now and those in `known` (the snapshot before).
 */
async function snapshot(
  servers: Server[],
  urls: string[],
  databaseUrl: string | undefined,
  known?: Snapshot,
): Promise<Snapshot> {
  const stats = await Promise.all(servers.map((s) => processStats(s.child.pid)));
  const generator = await processStats(Deno.pid);
  const hist = await Promise.all(urls.map(serverHistogram));
  const pg = databaseUrl ? await pgCounts(databaseUrl) : undefined;
  const pids = new Set([...(pg?.backends ?? []), ...(known?.backends.keys() ?? [])]);
  return { servers: stats, generator, hist, pg, backends: await cpuOf([...pids]), load: Deno.loadavg()[0] };
}

/**
 * Measures `o.durationMs` of load: snapshots before and after, a completion timeline, and with `--kill-one`
 * the last node killed a third of the way in (and taken out of `urls`).
 */
async function measure(
  o: LoadOptions,
  load: LoadGenerator,
  servers: Server[],
  urls: string[],
  databaseUrl: string | undefined,
): Promise<Measurement> {
  const before = await snapshot(servers, urls, databaseUrl);
  const started = performance.now();
  const end = started + o.durationMs;
  const timeline: TimelinePoint[] = [];
  let killedAt: number | null = null;
  const ticker = setInterval(
    () => timeline.push({ t: performance.now() - started, completed: load.samples.length }),
    500,
  );
  if (o.killOne && servers.length > 1) {
    setTimeout(() => {
      killedAt = performance.now() - started;
      servers[servers.length - 1].child.kill("SIGKILL");
      urls.pop();
    }, o.durationMs / 3);
  }
  await load.drive(end);
  clearInterval(ticker);
  const seconds = (performance.now() - started) / 1000;
  const after = await snapshot(servers, urls, databaseUrl, before);
  return { seconds, before, after, timeline, killedAt };
}

/** Stops everything a run started: pools, server processes, the database, the data directory. */
async function teardown(
  pools: NodePools,
  servers: Server[],
  db: BenchDatabase | undefined,
  dataDir: string,
  graceful: boolean,
): Promise<void> {
  pools.close();
  await stopServers(servers, graceful);
  if (db) await db.drop();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}

/** Runs the load against the nodes (started or targeted); returns the engine's report. */
async function runEngine(o: LoadOptions): Promise<Record<string, unknown>> {
  const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-bench-" });
  const db = o.start === "postgres" ? await createBenchDatabase() : undefined;
  const pools = new NodePools(o.mode === "closed" ? o.concurrency : Math.min(o.maxInFlight, 512));
  let servers: Server[] = [];
  try {
    if (o.start) {
      servers = await startServers(
        { start: o.start, nodes: o.nodes, profileDir: o.profileDir, httpWorkers: o.httpWorkers },
        db?.url,
        dataDir,
      );
    }
    const urls = o.target ? [o.target] : servers.map((s) => s.url);
    const wf = await registerWorkload(o.workload, urls[0]);
    // Warm-up: compile plans and expressions, fill pools.
    await warmUpPlans(pools, urls, wf.id as string);
    const load = new LoadGenerator(pools, urls, wf.id as string, o);
    // Warm-up at the same load (the JIT, the pools, PostgreSQL's caches), not measured.
    if (o.warmupMs > 0) await load.drive(performance.now() + o.warmupMs);
    load.reset();
    const m = await measure(o, load, servers, urls, db?.url);
    return buildReport(o, load, (wf.nodes as unknown[]).length + 1, m);
  } finally {
    await teardown(pools, servers, db, dataDir, o.profileDir !== undefined);
  }
}

/**
 * Runs the load; then, with `o.ceiling`, the ceiling at the same concurrency, warm-up and duration (the
 * nodes stopped by then), and the engine's throughput as a fraction of it. Returns the report.
 *
 * @example
 * ```ts ignore
 * const report = await runLoad(parseLoadArgs(["--start", "postgres", "--duration", "20s"]));
 * console.log(report.executionsPerSecond, report.fractionOfCeiling);
 * ```
 */
export async function runLoad(o: LoadOptions): Promise<Record<string, unknown>> {
  const startedAt = new Date().toISOString();
  const report: Record<string, unknown> = { startedAt, ...(await runEngine(o)) };
  if (!o.ceiling) return report;
  if (o.workload !== "standard") throw new Error("the ceiling is measured for the standard workload only");
  const ceiling: CeilingReport = await runCeiling({
    concurrency: o.concurrency,
    durationMs: o.durationMs,
    warmupMs: o.warmupMs,
    maxBatch: 256,
    pool: 2,
    fenced: false,
  });
  report.ceiling = ceiling;
  report.fractionOfCeiling = +((report.executionsPerSecond as number) / ceiling.executionsPerSecond).toFixed(
    3,
  );
  return report;
}

if (import.meta.main) {
  const o = parseLoadArgs(Deno.args);
  const report = await runLoad(o);
  await writeReport(report, jsonTarget(Deno.args), `load-${o.start ?? "target"}-${o.workload}`);
}
