/**
 * The load harness's report of one measured period: throughput, latency
 * percentiles (the generator's, and the node's own from its request-time
 * histogram), time per node transition, CPU per execution (the nodes, the
 * generator, PostgreSQL's backends), resident memory, PostgreSQL commits and rows
 * per execution, and with `--kill-one` the dip and the recovery.
 *
 * @module
 */
import type { PgCounts } from "./bench_database.ts";
import type { Sample } from "./load_generator.ts";
import { cpuBetween, latencySummary, percentile, type ProcessStats } from "./process_stats.ts";

/** The execute route's server-side request time histogram: cumulative counts by upper bound (seconds). */
export async function serverHistogram(url: string): Promise<Map<number, number>> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text()).catch(() => "");
  const buckets = new Map<number, number>();
  const line =
    /^http_request_duration_seconds_bucket\{le="([^"]+)",method="POST",route="\/api\/v1\/workflows\/:id\/execute",status="200"\} (\d+)/;
  for (const l of text.split("\n")) {
    const m = line.exec(l);
    if (m) {
      buckets.set(m[1] === "+Inf" ? Infinity : Number(m[1]), (buckets.get(Number(m[1])) ?? 0) + Number(m[2]));
    }
  }
  return buckets;
}

/**
 * The upper bound (ms) of the bucket holding the p-th percentile of the requests between two scrapes of
 * every node: the server-side latency, free of the generator's own pauses (at the buckets' resolution).
 */
function serverPercentile(
  before: Map<number, number>[],
  after: Map<number, number>[],
  p: number,
): number | null {
  const sum = new Map<number, number>();
  after.forEach((a, i) => {
    for (const [le, n] of a) sum.set(le, (sum.get(le) ?? 0) + n - (before[i]?.get(le) ?? 0));
  });
  const total = sum.get(Infinity) ?? 0;
  if (total === 0) return null;
  for (const le of [...sum.keys()].sort((x, y) => x - y)) {
    if (sum.get(le)! >= (p / 100) * total) return le === Infinity ? null : le * 1000;
  }
  return null;
}

/** Server processes, the generator, request-time histograms and PostgreSQL at one instant. */
export interface Snapshot {
  servers: ProcessStats[];
  generator: ProcessStats;
  hist: Map<number, number>[];
  pg: PgCounts | undefined;
  /** CPU seconds of the PostgreSQL backends serving the bench's database (by process id). */
  backends: Map<number, number>;
  /** The machine's 1-minute load average. */
  load: number;
}

/** Completed executions so far, `t` ms into the measurement. */
export interface TimelinePoint {
  t: number;
  completed: number;
}

/** What one measured period saw. */
export interface Measurement {
  seconds: number;
  before: Snapshot;
  after: Snapshot;
  /** Completions every 500 ms. */
  timeline: TimelinePoint[];
  /** When `--kill-one` killed the last node, ms into the measurement (null: it did not). */
  killedAt: number | null;
}

/** PostgreSQL commits and rows per execution between two counts. */
function postgresReport(
  pg0: PgCounts,
  pg1: PgCounts,
  executions: number,
  transitions: number,
): Record<string, unknown> {
  const n = Math.max(1, executions);
  const per = (k: keyof PgCounts, digits = 1) =>
    +(((pg1[k] as number) - (pg0[k] as number)) / n).toFixed(digits);
  return {
    commitsPerExecution: per("commits", 3),
    commitsPerTransition: +((pg1.commits - pg0.commits) / n / transitions).toFixed(4),
    executionRowsPerExecution: per("executions", 2),
    eventsPerExecution: per("events"),
    eventRowsPerExecution: per("batches", 2),
    outputRowsPerExecution: per("outputs", 2),
    auditRowsPerExecution: per("audit", 2),
    note: "every transaction counts (reads and cluster heartbeats too); a transition: the start or one node",
  };
}

/** The throughput before the kill, its lowest after it, and how long until it was back to 80 %. */
function killOneReport(timeline: TimelinePoint[], killedAt: number): Record<string, unknown> {
  const before = timeline.filter((p) => p.t < killedAt);
  const rate = (a: TimelinePoint, b: TimelinePoint) => (b.completed - a.completed) / ((b.t - a.t) / 1000);
  const steady = before.length > 2 ? rate(before[1], before.at(-1)!) : NaN;
  const after = timeline.filter((p) => p.t >= killedAt);
  let dipRate = Infinity, recoveredAt: number | null = null;
  for (let i = 1; i < after.length; i++) {
    const r = rate(after[i - 1], after[i]);
    dipRate = Math.min(dipRate, r);
    if (recoveredAt === null && i > 1 && r >= 0.8 * steady) recoveredAt = after[i].t;
  }
  return {
    killedAtSeconds: +(killedAt / 1000).toFixed(1),
    steadyPerSecond: Math.round(steady),
    dipPerSecond: Math.round(dipRate),
    recoverySeconds: recoveredAt === null ? null : +((recoveredAt - killedAt) / 1000).toFixed(1),
  };
}

/** CPU ms per execution of the nodes, the generator and PostgreSQL's backends; resident memory. */
function resources(m: Measurement, completed: number): Record<string, unknown> {
  const { before, after } = m;
  const n = Math.max(1, completed);
  const ms = (seconds: number) => +((seconds * 1000) / n).toFixed(3);
  const serverCpu = after.servers.reduce((a, c, i) => a + c.cpuSeconds - before.servers[i].cpuSeconds, 0);
  const mib = (bytes: number) => +(bytes / 1048576).toFixed(1);
  const rss0 = before.servers.reduce((a, c) => a + c.rssBytes, 0);
  const rss1 = after.servers.reduce((a, c) => a + c.rssBytes, 0);
  return {
    cpuMsPerExecution: {
      server: after.servers.length ? ms(serverCpu) : null,
      generator: ms(after.generator.cpuSeconds - before.generator.cpuSeconds),
      postgresBackends: after.pg ? ms(cpuBetween(before.backends, after.backends)) : null,
      note: "server: the node processes (all threads); postgresBackends: those serving the bench's database",
    },
    memory: after.servers.length
      ? {
        serverRssMiB: { before: mib(rss0), after: mib(rss1) },
        serverPeakRssMiB: mib(Math.max(...after.servers.map((c) => c.peakBytes))),
        rssGrowthBytesPerExecution: Math.round((rss1 - rss0) / n),
      }
      : null,
  };
}

/** How the measured load was offered (the harness's options). */
export interface ReportShape {
  workload: string;
  start?: string;
  nodes: number;
  mode: "closed" | "rate";
  concurrency: number;
  rate: number;
  killOne: boolean;
  /** HTTP workers each started node had (`--http-workers`). */
  httpWorkers?: number;
}

/**
 * The report of a measured period: `samples` the executions completed, `failed` and `dropped` the others,
 * `transitions` an execution's (its start and one per node).
 */
export function buildReport(
  o: ReportShape,
  load: { samples: Sample[]; failed: number; dropped: number },
  transitions: number,
  m: Measurement,
): Record<string, unknown> {
  const { samples, failed, dropped } = load;
  const { seconds, before, after } = m;
  const over = samples.map((s) => s.overheadPerTransitionMs).sort((a, b) => a - b);
  const completed = samples.length;
  const report: Record<string, unknown> = {
    workload: o.workload,
    storage: o.start ?? "target",
    nodes: o.nodes,
    httpWorkers: o.httpWorkers ?? 0,
    mode: o.mode,
    ...(o.mode === "closed" ? { concurrency: o.concurrency } : { rate: o.rate, dropped }),
    seconds: +seconds.toFixed(1),
    completed,
    failed,
    executionsPerSecond: Math.round(completed / seconds),
    latencyMs: latencySummary(samples.map((s) => s.latencyMs)),
    serverLatencyMsAtMost: o.killOne ? null : {
      p50: serverPercentile(before.hist, after.hist, 50),
      p99: serverPercentile(before.hist, after.hist, 99),
      note: "the execute route's request time on the node(s), as the histogram bucket bound holding it",
    },
    overheadPerTransitionMs: {
      p50: +percentile(over, 50).toFixed(2),
      p99: +percentile(over, 99).toFixed(2),
    },
    ...resources(m, completed),
    loadAverage: { before: before.load, after: after.load },
  };
  if (before.pg && after.pg) {
    report.postgres = postgresReport(before.pg, after.pg, completed + failed, transitions);
  }
  if (m.killedAt !== null) report.killOne = killOneReport(m.timeline, m.killedAt);
  return report;
}
