/**
 * The load harness: drives real nodes over HTTP and reports completed
 * executions/s, end-to-end latency (submit → finished), engine overhead per node
 * transition, PostgreSQL commits and rows per execution, server CPU seconds per
 * 1,000 executions and peak memory.
 *
 *   deno task bench:load --start postgres --workload standard --mode closed --concurrency 64 --duration 20s
 *   deno task bench:load --start memory --mode rate --rate 500 --duration 20s
 *   deno task bench:load --start postgres --nodes 3 --kill-one --duration 30s
 *   deno task bench:load --target http://127.0.0.1:8080 --mode closed
 *
 * Each run first offers the same load for `--warmup` (5 s by default, unmeasured).
 * `--start` spawns the nodes as real processes (`server/main.ts`) on free ports
 * and a fresh database or data directory; `--target` drives a running node.
 * Closed-loop mode (`--concurrency` workers, each waiting for its execution to
 * finish) finds the sustainable rate; rate mode submits open-loop at `--rate`
 * per second (at most `--max-in-flight` outstanding; beyond it a submission is
 * counted as dropped) and measures latency at that load.
 *
 * @module
 */
import postgres from "postgres";
import { parseDuration } from "../core/duration.ts";
import { freePort } from "../testing/net.ts";
import { TEST_DATABASE_URL } from "../testing/pg.ts";
import { LoadGenerator, NodePools, warmUpPlans } from "./load_generator.ts";

/** The three standard workloads. */
export const WORKLOADS: Record<string, Record<string, unknown>> = {
  standard: {
    id: "bench-standard",
    name: "standard 5-node",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
      { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
      { id: "big", type: "transform", nodeType: "filter", config: { condition: "value > 5" } },
      { id: "inc", type: "transform", nodeType: "map", config: { expression: "value + 1" } },
      { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "src", target: "double" },
      { source: "double", target: "big" },
      { source: "big", target: "inc" },
      { source: "inc", target: "collect" },
    ],
  },
  fanout: {
    id: "bench-fanout",
    name: "10-node fan-out/fan-in",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
      ...Array.from({ length: 8 }, (_, i) => ({
        id: `b${i}`,
        type: "transform",
        nodeType: "map",
        config: { expression: `value + ${i}` },
      })),
      { id: "join", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      ...Array.from({ length: 8 }, (_, i) => ({ source: "src", target: `b${i}` })),
      ...Array.from({ length: 8 }, (_, i) => ({ source: `b${i}`, target: "join" })),
    ],
  },
  delay: {
    id: "bench-delay",
    name: "with a 100 ms delay",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
      { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 100 } },
      { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "src", target: "wait" }, { source: "wait", target: "collect" }],
  },
};

interface Options {
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
  json: boolean;
}

function parseArgs(args: string[]): Options {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    target: get("target"),
    start: get("start") as Options["start"],
    nodes: Number(get("nodes") ?? 1),
    workload: get("workload") ?? "standard",
    mode: (get("mode") ?? "closed") as Options["mode"],
    concurrency: Number(get("concurrency") ?? 32),
    rate: Number(get("rate") ?? 200),
    maxInFlight: Number(get("max-in-flight") ?? 2000),
    durationMs: parseDuration(get("duration") ?? "15s") ?? 15_000,
    warmupMs: parseDuration(get("warmup") ?? "5s") ?? 5_000,
    killOne: args.includes("--kill-one"),
    json: args.includes("--json"),
  };
}

interface Server {
  url: string;
  child: Deno.ChildProcess;
}

/** CPU seconds (user + system) and peak resident memory (bytes) of a process, from /proc. */
async function processStats(pid: number): Promise<{ cpuSeconds: number; peakBytes: number }> {
  try {
    const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
    const ticks = Number(stat[11]) + Number(stat[12]);
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: ticks / 100, peakBytes: hwm };
  } catch {
    return { cpuSeconds: 0, peakBytes: 0 };
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/health/ready`).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }).catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

async function startServers(o: Options, databaseUrl: string | undefined, dataDir: string): Promise<Server[]> {
  const secret = "bench-secret-0123456789";
  const specs = Array.from(
    { length: o.nodes },
    (_, i) => ({ id: `n${i + 1}`, port: freePort(), cport: freePort() }),
  );
  const servers: Server[] = [];
  for (const s of specs) {
    const args = [
      "run",
      "-A",
      "server/main.ts",
      "--port",
      String(s.port),
      "--node-id",
      s.id,
      "--log-level",
      "error",
    ];
    if (o.start === "memory") args.push("--storage", "memory");
    if (o.start === "embedded") args.push("--storage", "embedded", "--data-dir", `${dataDir}/${s.id}`);
    if (o.start === "postgres") args.push("--storage", "postgres", "--database-url", databaseUrl!);
    if (o.nodes > 1) {
      const seeds = specs.filter((x) => x !== s).map((x) => `127.0.0.1:${x.cport}`).join(",");
      args.push("--cluster-port", String(s.cport), "--seeds", seeds, "--cluster-secret", secret);
    }
    const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "inherit" }).spawn();
    servers.push({ url: `http://127.0.0.1:${s.port}`, child });
  }
  for (const s of servers) await waitReady(s.url, 120_000);
  if (o.nodes > 1) await waitBalanced(servers.map((s) => s.url), o.nodes, 120_000);
  return servers;
}

/**
 * Waits until every member is up and owns its share of the shards (as even as counts allow), on every
 * member's view, twice in a row a second apart: measuring while the leader still moves shards would count
 * the hand-offs' 503s as failures of the steady state.
 */
async function waitBalanced(urls: string[], members: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  while (Date.now() < deadline) {
    const views = await Promise.all(
      urls.map((u) => fetch(`${u}/api/v1/cluster/stats`).then((r) => r.json()).catch(() => null)),
    );
    const ok = views.every((v) => {
      if (!v || v.members.length !== members) return false;
      const counts = (v.members as { status: string; shardCount: number }[]).map((m) =>
        m.status === "up" ? m.shardCount : -1
      );
      const total = v.sharding.totalShards as number;
      return counts.every((c) => c >= Math.floor(total / members) && c <= Math.ceil(total / members));
    });
    stable = ok ? stable + 1 : 0;
    if (stable >= 2) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error("the cluster never balanced");
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The execute route's server-side request time histogram: cumulative counts by upper bound (seconds). */
async function serverHistogram(url: string): Promise<Map<number, number>> {
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

/** PostgreSQL counters: transactions committed, and rows of the engine's tables. */
interface PgCounts {
  commits: number;
  events: number;
  batches: number;
  outputs: number;
}

/** The database's counters now. */
async function pgCounts(url: string): Promise<PgCounts> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [r] = await sql`select xact_commit::bigint as commits,
      (select coalesce(sum(last_seq - first_seq + 1), 0) from event_batches)::int as events,
      (select count(*) from event_batches)::int as batches, (select count(*) from outputs)::int as outputs
      from pg_stat_database where datname = current_database()`;
    return {
      commits: Number(r.commits),
      events: r.events as number,
      batches: r.batches as number,
      outputs: r.outputs as number,
    };
  } finally {
    await sql.end();
  }
}

/** A database made for one run, and how to drop it. */
interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates a fresh database on the test server for the nodes to use. */
async function createBenchDatabase(): Promise<BenchDatabase> {
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  const dbName = `flowmesh_bench_${Date.now()}`;
  await admin.unsafe(`create database ${dbName}`);
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${dbName}`;
  return {
    url: u.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
      await admin.end();
    },
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

/** Server CPU and memory, request-time histograms and PostgreSQL counters at one instant. */
interface Snapshot {
  cpu: { cpuSeconds: number; peakBytes: number }[];
  hist: Map<number, number>[];
  pg: PgCounts | undefined;
}

/** Scrapes every server's process, every node's metrics and the database. */
async function snapshot(
  servers: Server[],
  urls: string[],
  databaseUrl: string | undefined,
): Promise<Snapshot> {
  const cpu = await Promise.all(servers.map((s) => processStats(s.child.pid)));
  const hist = await Promise.all(urls.map(serverHistogram));
  const pg = databaseUrl ? await pgCounts(databaseUrl) : undefined;
  return { cpu, hist, pg };
}

/** Completed executions so far, `t` ms into the measurement. */
interface TimelinePoint {
  t: number;
  completed: number;
}

/** What one measured period saw. */
interface Measurement {
  seconds: number;
  before: Snapshot;
  after: Snapshot;
  /** Completions every 500 ms. */
  timeline: TimelinePoint[];
  /** When `--kill-one` killed the last node, ms into the measurement (null: it did not). */
  killedAt: number | null;
}

/**
 * Measures `o.durationMs` of load: snapshots before and after, a completion timeline, and with `--kill-one`
 * the last node killed a third of the way in (and taken out of `urls`).
 */
async function measure(
  o: Options,
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
  const after = await snapshot(servers, urls, databaseUrl);
  return { seconds, before, after, timeline, killedAt };
}

/** PostgreSQL commits and rows per execution between two counts. */
function postgresReport(
  pg0: PgCounts,
  pg1: PgCounts,
  executions: number,
  transitions: number,
): Record<string, unknown> {
  const n = Math.max(1, executions);
  return {
    commitsPerExecution: +((pg1.commits - pg0.commits) / n).toFixed(2),
    commitsPerTransition: +((pg1.commits - pg0.commits) / n / transitions).toFixed(3),
    eventsPerExecution: +((pg1.events - pg0.events) / n).toFixed(1),
    eventRowsPerExecution: +((pg1.batches - pg0.batches) / n).toFixed(1),
    outputRowsPerExecution: +((pg1.outputs - pg0.outputs) / n).toFixed(1),
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

/** The report of a measured period. */
function buildReport(
  o: Options,
  wf: Record<string, unknown>,
  load: LoadGenerator,
  servers: Server[],
  m: Measurement,
): Record<string, unknown> {
  const { samples, failed, dropped } = load;
  const { seconds, before, after } = m;
  const lat = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const over = samples.map((s) => s.overheadPerTransitionMs).sort((a, b) => a - b);
  const cpuSeconds = after.cpu.reduce((a, c, i) => a + c.cpuSeconds - before.cpu[i].cpuSeconds, 0);
  const completed = samples.length;
  const report: Record<string, unknown> = {
    workload: o.workload,
    storage: o.start ?? "target",
    nodes: o.nodes,
    mode: o.mode,
    ...(o.mode === "closed" ? { concurrency: o.concurrency } : { rate: o.rate, dropped }),
    seconds: +seconds.toFixed(1),
    completed,
    failed,
    executionsPerSecond: Math.round(completed / seconds),
    latencyMs: {
      p50: +percentile(lat, 50).toFixed(1),
      p95: +percentile(lat, 95).toFixed(1),
      p99: +percentile(lat, 99).toFixed(1),
      max: +(lat.at(-1) ?? NaN).toFixed(1),
    },
    serverLatencyMsAtMost: o.killOne ? null : {
      p50: serverPercentile(before.hist, after.hist, 50),
      p99: serverPercentile(before.hist, after.hist, 99),
      note: "the execute route's request time on the node(s), as the histogram bucket bound holding it",
    },
    overheadPerTransitionMs: {
      p50: +percentile(over, 50).toFixed(2),
      p99: +percentile(over, 99).toFixed(2),
    },
    serverCpuSecondsPer1000: servers.length
      ? +((cpuSeconds / Math.max(1, completed)) * 1000).toFixed(2)
      : null,
    peakMemoryMiB: servers.length
      ? +(Math.max(...after.cpu.map((c) => c.peakBytes)) / 1048576).toFixed(1)
      : null,
  };
  if (before.pg && after.pg) {
    report.postgres = postgresReport(
      before.pg,
      after.pg,
      completed + failed,
      (wf.nodes as unknown[]).length + 1,
    );
  }
  if (m.killedAt !== null) report.killOne = killOneReport(m.timeline, m.killedAt);
  return report;
}

/** Stops everything a run started: pools, server processes, the database, the data directory. */
async function teardown(
  pools: NodePools,
  servers: Server[],
  db: BenchDatabase | undefined,
  dataDir: string,
): Promise<void> {
  pools.close();
  for (const s of servers) {
    try {
      s.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await s.child.status;
  }
  if (db) await db.drop();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}

/** Runs the load; returns the report. */
export async function runLoad(o: Options): Promise<Record<string, unknown>> {
  const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-bench-" });
  const db = o.start === "postgres" ? await createBenchDatabase() : undefined;
  const pools = new NodePools(o.mode === "closed" ? o.concurrency : Math.min(o.maxInFlight, 512));
  const servers = o.start ? await startServers(o, db?.url, dataDir) : [];
  const urls = o.target ? [o.target] : servers.map((s) => s.url);
  try {
    const wf = await registerWorkload(o.workload, urls[0]);
    // Warm-up: compile plans and expressions, fill pools.
    await warmUpPlans(pools, urls, wf.id as string);
    const load = new LoadGenerator(pools, urls, wf.id as string, o);
    // Warm-up at the same load (the JIT, the pools, PostgreSQL's caches), not measured.
    if (o.warmupMs > 0) await load.drive(performance.now() + o.warmupMs);
    load.reset();
    const m = await measure(o, load, servers, urls, db?.url);
    return buildReport(o, wf, load, servers, m);
  } finally {
    await teardown(pools, servers, db, dataDir);
  }
}

if (import.meta.main) {
  const o = parseArgs(Deno.args);
  const report = await runLoad(o);
  console.log(o.json ? JSON.stringify(report) : JSON.stringify(report, null, 2));
}
