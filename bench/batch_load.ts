/**
 * Executions per second through the batch route (`POST /api/v1/workflows/{id}/execute/batch?view=id`) of one
 * node on memory storage, over real HTTP: `--in-flight` batches of `--batch` items (each with its own
 * Idempotency-Key) offered closed-loop for `--duration`, for each in-flight count asked for; then, for
 * comparison, the single execute (`?view=id`, no wait) from `--single` closed-loop workers. Every count is
 * of executions acknowledged (201); after each run the node is polled until none is running, so the report
 * also gives the rate of executions ended (acknowledged over the run and its drain).
 *
 *   deno run -A bench/batch_load.ts                                   # batches of 100, 4 then 8 in flight, 10 s each
 *   deno run -A bench/batch_load.ts --batch 500 --in-flight 2,4 --duration 20s --single 0
 *   deno run -A bench/batch_load.ts --target http://127.0.0.1:8080    # a running node
 *
 * The workload is the standard 5-node one (`workloads.ts`), which runs inside its executions' first commits.
 * Without `--target` the node is spawned (`server/main.ts --storage memory`) on a free port and killed after.
 *
 * @module
 */
import { parseDuration } from "../core/duration.ts";
import { freePort } from "../testing/net.ts";
import { spawnServer } from "../testing/process.ts";
import { LeanPool } from "./http_client.ts";
import { WORKLOADS } from "./workloads.ts";

/** What to measure. */
export interface BatchLoadOptions {
  /** Items a batch. */
  batch: number;
  /** Batches in flight, one run each. */
  inFlight: number[];
  /** Single-execute workers of the comparison run (0: none). */
  single: number;
  /** Length of each measured run, ms (each after a warm-up of a fifth of it, at most 5 s). */
  durationMs: number;
}

/** One run's figures. */
export interface RunReport {
  name: string;
  /** Executions acknowledged (201) in the measured window. */
  acknowledged: number;
  /** Items refused (any other status). */
  failed: number;
  seconds: number;
  /** Acknowledged executions a second. */
  perSecond: number;
  /** Executions ended a second: acknowledged over the window and the drain until none was running. */
  endedPerSecond: number;
  /** Milliseconds per request (a batch, or one execute): p50 and p99. */
  requestMs: { p50: number; p99: number };
}

/** Counts of one closed-loop run. */
interface Tally {
  acknowledged: number;
  failed: number;
  latencies: number[];
}

let sequence = 0;

/** One batch of `size` keyed items; counts its 201s and others. */
async function oneBatch(pool: LeanPool, workflowId: string, size: number, tally: Tally): Promise<void> {
  const prefix = `b-${Date.now()}-${sequence++}`;
  const items = Array.from({ length: size }, (_, i) => ({ idempotencyKey: `${prefix}-${i}`, input: { i } }));
  const t0 = performance.now();
  const r = await pool.request(
    "POST",
    `/api/v1/workflows/${workflowId}/execute/batch?view=id`,
    { "content-type": "application/json" },
    JSON.stringify({ items }),
  );
  tally.latencies.push(performance.now() - t0);
  if (r.status !== 200) {
    tally.failed += size;
    return;
  }
  for (const result of JSON.parse(r.body).results as { status: number }[]) {
    if (result.status === 201) tally.acknowledged++;
    else tally.failed++;
  }
}

/** One single execute with its own key. */
async function oneExecute(pool: LeanPool, workflowId: string, tally: Tally): Promise<void> {
  const t0 = performance.now();
  const r = await pool.request(
    "POST",
    `/api/v1/workflows/${workflowId}/execute?view=id`,
    { "content-type": "application/json", "idempotency-key": `s-${Date.now()}-${sequence++}` },
    "{}",
  );
  tally.latencies.push(performance.now() - t0);
  if (r.status === 202) tally.acknowledged++;
  else tally.failed++;
}

/** Runs `workers` closed-loop workers of `one` until `end` (a `performance.now()` time). */
async function closedLoop(
  workers: number,
  end: number,
  one: (tally: Tally) => Promise<void>,
): Promise<Tally> {
  const tally: Tally = { acknowledged: 0, failed: 0, latencies: [] };
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) await one(tally);
  }));
  return tally;
}

/** The `p` quantile of `values` (0 for none). */
function quantile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Polls the workflow's running executions until there are none; returns when it saw none. */
async function drained(pool: LeanPool, workflowId: string): Promise<number> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const r = await pool.request("GET", `/api/v1/workflows/${workflowId}/executions?status=running&limit=1`);
    if (r.status === 200 && JSON.parse(r.body).length === 0) return performance.now();
    if (performance.now() > deadline) throw new Error("executions still running after 2 minutes");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A warm-up of `warmMs`, then the measured run of `durationMs`, then the drain; its report. */
async function measure(
  name: string,
  pool: LeanPool,
  workflowId: string,
  workers: number,
  one: (tally: Tally) => Promise<void>,
  { warmMs, durationMs }: { warmMs: number; durationMs: number },
): Promise<RunReport> {
  await closedLoop(workers, performance.now() + warmMs, one);
  await drained(pool, workflowId);
  const t0 = performance.now();
  const tally = await closedLoop(workers, t0 + durationMs, one);
  const t1 = performance.now();
  const ended = await drained(pool, workflowId);
  const seconds = (t1 - t0) / 1000;
  return {
    name,
    acknowledged: tally.acknowledged,
    failed: tally.failed,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: Math.round(tally.acknowledged / seconds),
    endedPerSecond: Math.round(tally.acknowledged / ((ended - t0) / 1000)),
    requestMs: {
      p50: Math.round(quantile(tally.latencies, 0.5) * 10) / 10,
      p99: Math.round(quantile(tally.latencies, 0.99) * 10) / 10,
    },
  };
}

/**
 * Measures the node at `url` (the standard workflow created there first): one run per in-flight count, then
 * the single-execute comparison.
 *
 * @example
 * ```ts ignore
 * const reports = await runBatchLoad("http://127.0.0.1:8080", { batch: 100, inFlight: [4], single: 0, durationMs: 5_000 });
 * console.log(reports[0].perSecond);
 * ```
 */
export async function runBatchLoad(url: string, options: BatchLoadOptions): Promise<RunReport[]> {
  const workflow = WORKLOADS.standard;
  const workflowId = workflow.id as string;
  const pool = new LeanPool(url, Math.max(options.single, ...options.inFlight) + 1);
  try {
    const made = await pool.request("POST", "/api/v1/workflows", {
      "content-type": "application/json",
    }, JSON.stringify(workflow));
    // 409: a running node (`--target`) has it already.
    if (made.status !== 201 && made.status !== 409) {
      throw new Error(`creating ${workflowId}: ${made.status} ${made.body}`);
    }
    const timing = { warmMs: Math.min(5_000, options.durationMs / 5), durationMs: options.durationMs };
    const reports: RunReport[] = [];
    for (const n of options.inFlight) {
      const one = (tally: Tally) => oneBatch(pool, workflowId, options.batch, tally);
      reports.push(
        await measure(`batch ${options.batch} x ${n} in flight`, pool, workflowId, n, one, timing),
      );
    }
    if (options.single > 0) {
      const one = (tally: Tally) => oneExecute(pool, workflowId, tally);
      reports.push(
        await measure(`single x ${options.single} workers`, pool, workflowId, options.single, one, timing),
      );
    }
    return reports;
  } finally {
    pool.close();
  }
}

/**
 * The options of a command line (`--batch`, `--in-flight a,b`, `--single`, `--duration`) and its `--target`.
 *
 * @example
 * ```ts
 * import { parseBatchLoadArgs } from "./batch_load.ts";
 * const { options } = parseBatchLoadArgs(["--batch", "50", "--in-flight", "2,6", "--duration", "3s"]);
 * if (options.batch !== 50 || options.inFlight.join() !== "2,6" || options.durationMs !== 3_000) throw new Error();
 * ```
 */
export function parseBatchLoadArgs(args: readonly string[]): { options: BatchLoadOptions; target?: string } {
  const options: BatchLoadOptions = { batch: 100, inFlight: [4, 8], single: 64, durationMs: 10_000 };
  let target: string | undefined;
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = (min: number, max: number, text = value) => {
      const v = Number(text);
      if (!Number.isInteger(v) || v < min || v > max) {
        throw new Error(`${flag}: an integer from ${min} to ${max}`);
      }
      return v;
    };
    if (flag === "--batch") options.batch = int(1, 1_000);
    else if (flag === "--in-flight") options.inFlight = value.split(",").map((v) => int(1, 256, v));
    else if (flag === "--single") options.single = int(0, 1_024);
    else if (flag === "--duration") {
      const ms = parseDuration(value);
      if (ms === undefined || ms <= 0) throw new Error(`--duration: a duration such as 10s, got ${value}`);
      options.durationMs = ms;
    } else if (flag === "--target") target = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return { options, target };
}

if (import.meta.main) {
  const { options, target } = parseBatchLoadArgs(Deno.args);
  const port = freePort();
  const server = target ? undefined : spawnServer(port, ["--storage", "memory", "--log-level", "error"]);
  try {
    await server?.waitReady(60_000);
    const reports = await runBatchLoad(target ?? server!.url, options);
    for (const r of reports) {
      console.log(
        `${r.name.padEnd(26)} ${String(r.perSecond).padStart(7)} executions/s acknowledged, ` +
          `${String(r.endedPerSecond).padStart(7)}/s ended; request p50 ${r.requestMs.p50} ms, ` +
          `p99 ${r.requestMs.p99} ms; ${r.acknowledged} acknowledged, ${r.failed} refused in ${r.seconds} s`,
      );
    }
    console.log(JSON.stringify({ batchLoad: { options, reports } }));
  } finally {
    await server?.close();
  }
}
