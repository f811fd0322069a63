/**
 * The local store, chosen by measurement: the SQLite store beside PGlite (and memory, for reference), in one
 * run, each as a real `server/main.ts` process on a fresh data directory:
 *
 * - time to ready: spawn → `/health` 200, on the fresh directory and again on a restart over its data;
 * - idle RSS (`VmRSS` from `/proc/<pid>/status`) after `--idle` of nothing, and loaded RSS (the highest
 *   `VmRSS` sampled every 250 ms under load, and the process's peak `VmHWM`);
 * - throughput and latency p50/p99 of the standard 5-step linear workload over HTTP, closed loop with
 *   `--concurrency` (50) in flight, after `--warmup` (5 s) of the same load;
 * - bytes on disk per execution: what the data directory grew by during the warm-up and the measured load
 *   over the executions completed then (blocks allocated, after a clean stop), and its whole size.
 *
 *   deno task bench:storage
 *   deno task bench:storage --duration 20s --rounds 3 --stores sqlite,pglite
 *
 * With `--rounds N` the stores take turns N times (the machine's noise lands on all of them alike).
 *
 * @module
 */
import { parseDuration } from "../core/duration.ts";
import { freePort } from "../testing/net.ts";
import { WORKLOADS } from "./workloads.ts";
import { LoadGenerator, NodePools, warmUpPlans } from "./load_generator.ts";

/** The stores measured. */
type Store = "sqlite" | "pglite" | "memory";

interface Options {
  stores: Store[];
  rounds: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  idleMs: number;
  json: boolean;
}

function parseArgs(args: string[]): Options {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const stores = (get("stores") ?? "sqlite,pglite,memory").split(",") as Store[];
  for (const s of stores) {
    if (!["sqlite", "pglite", "memory"].includes(s)) throw new Error(`--stores: unknown store ${s}`);
  }
  return {
    stores,
    rounds: Number(get("rounds") ?? 1),
    concurrency: Number(get("concurrency") ?? 50),
    durationMs: parseDuration(get("duration") ?? "15s") ?? 15_000,
    warmupMs: parseDuration(get("warmup") ?? "5s") ?? 5_000,
    idleMs: parseDuration(get("idle") ?? "5s") ?? 5_000,
    json: args.includes("--json"),
  };
}

/** `VmRSS` and `VmHWM` of a process, bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** Bytes allocated on disk under `path` (blocks, as `du` counts them). */
async function diskUsage(path: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(path)) {
    const p = `${path}/${entry.name}`;
    if (entry.isDirectory) total += await diskUsage(p);
    else if (entry.isFile) total += ((await Deno.stat(p)).blocks ?? 0) * 512;
  }
  return total;
}

/** A node as a process, and when it answered `/health` 200 (ms after the spawn). */
interface Node {
  child: Deno.ChildProcess;
  url: string;
  readyMs: number;
}

/** Spawns `server/main.ts` on `store` and `dataDir`; resolves once `/health` answers 200. */
async function spawnNode(store: Store, dataDir: string): Promise<Node> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["run", "-A", "server/main.ts", "--port", String(port), "--log-level", "error"];
  args.push("--storage", store, "--data-dir", dataDir);
  const root = new URL("..", import.meta.url);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), { args, cwd: root, stdout: "null", stderr: "inherit" })
    .spawn();
  const deadline = t0 + 120_000;
  while (performance.now() < deadline) {
    const ok = await fetch(`${url}/health`).then(async (r) => {
      await r.body?.cancel();
      return r.status === 200;
    }).catch(() => false);
    if (ok) return { child, url, readyMs: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`${store} never became ready`);
}

/** Stops a node with SIGTERM (its storage closed cleanly), SIGKILL after 30 s. */
async function stopNode(node: Node): Promise<void> {
  node.child.kill("SIGTERM");
  const timer = setTimeout(() => node.child.kill("SIGKILL"), 30_000);
  await node.child.status;
  clearTimeout(timer);
}

/** What one store measured in one round. */
interface StoreResult {
  store: Store;
  readyFirstMs: number;
  readyRestartMs: number;
  idleRssMiB: number;
  loadedRssMiB: number;
  peakRssMiB: number;
  executionsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  failed: number;
  /** Null on memory. */
  bytesPerExecution: number | null;
  diskMiB: number | null;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const MiB = 1024 * 1024;
const round1 = (x: number) => Math.round(x * 10) / 10;

/** The highest RSS sampled every 250 ms while `work` runs. */
async function sampledRss(pid: number, work: Promise<void>): Promise<number> {
  let highest = 0;
  const sample = () => memoryOf(pid).then((m) => highest = Math.max(highest, m.rss), () => {});
  const timer = setInterval(sample, 250);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  await sample();
  return highest;
}

/** Offers the load to a node: warm-up, then the measured period. */
async function load(o: Options, node: Node) {
  const pools = new NodePools(o.concurrency);
  const wf = WORKLOADS.standard;
  try {
    const r = await fetch(`${node.url}/api/v1/workflows`, { method: "POST", body: JSON.stringify(wf) });
    await r.body?.cancel();
    if (r.status !== 201) throw new Error(`registering the workflow answered ${r.status}`);
    await warmUpPlans(pools, [node.url], wf.id as string);
    const gen = new LoadGenerator(pools, [node.url], wf.id as string, {
      mode: "closed",
      concurrency: o.concurrency,
      rate: 0,
      maxInFlight: o.concurrency,
    });
    await gen.drive(performance.now() + o.warmupMs);
    const warmed = gen.samples.length + 20;
    gen.reset();
    const started = performance.now();
    const loadedRss = await sampledRss(node.child.pid, gen.drive(started + o.durationMs));
    const seconds = (performance.now() - started) / 1000;
    return {
      samples: gen.samples,
      failed: gen.failed,
      seconds,
      loadedRss,
      stored: warmed + gen.samples.length,
    };
  } finally {
    pools.close();
  }
}

/** Measures one store on a fresh data directory. */
async function measureStore(o: Options, store: Store): Promise<StoreResult> {
  const dataDir = await Deno.makeTempDir({ prefix: `flowmesh-bench-${store}-` });
  try {
    const node = await spawnNode(store, dataDir);
    let m;
    let idle, diskIdle, peak;
    try {
      await new Promise((r) => setTimeout(r, o.idleMs));
      idle = await memoryOf(node.child.pid);
      diskIdle = await diskUsage(dataDir);
      m = await load(o, node);
      peak = (await memoryOf(node.child.pid)).hwm;
    } finally {
      await stopNode(node);
    }
    const disk = await diskUsage(dataDir);
    const again = await spawnNode(store, dataDir);
    await stopNode(again);
    const lat = m.samples.map((s) => s.latencyMs).sort((a, b) => a - b);
    const durable = store !== "memory";
    return {
      store,
      readyFirstMs: Math.round(node.readyMs),
      readyRestartMs: Math.round(again.readyMs),
      idleRssMiB: round1(idle.rss / MiB),
      loadedRssMiB: round1(m.loadedRss / MiB),
      peakRssMiB: round1(peak / MiB),
      executionsPerSecond: Math.round(m.samples.length / m.seconds),
      p50Ms: round1(percentile(lat, 50)),
      p99Ms: round1(percentile(lat, 99)),
      completed: m.samples.length,
      failed: m.failed,
      bytesPerExecution: durable ? Math.round((disk - diskIdle) / Math.max(1, m.stored)) : null,
      diskMiB: durable ? round1(disk / MiB) : null,
    };
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** The results as a Markdown table. */
function table(results: readonly StoreResult[]): string {
  const head = [
    "store",
    "ready (new / restart) ms",
    "idle RSS MiB",
    "loaded RSS MiB (peak)",
    "exec/s",
    "p50 ms",
    "p99 ms",
    "bytes on disk / execution",
    "data dir MiB",
  ];
  const rows = results.map((r) => [
    r.store,
    `${r.readyFirstMs} / ${r.readyRestartMs}`,
    String(r.idleRssMiB),
    `${r.loadedRssMiB} (${r.peakRssMiB})`,
    r.executionsPerSecond.toLocaleString("en-US"),
    String(r.p50Ms),
    String(r.p99Ms),
    r.bytesPerExecution === null ? "—" : r.bytesPerExecution.toLocaleString("en-US"),
    r.diskMiB === null ? "—" : String(r.diskMiB),
  ]);
  return [head, head.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

if (import.meta.main) {
  const o = parseArgs(Deno.args);
  const results: StoreResult[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const store of o.stores) {
      const r = await measureStore(o, store);
      results.push(r);
      if (!o.json) console.error(JSON.stringify(r));
    }
  }
  console.log(o.json ? JSON.stringify(results) : table(results));
}
