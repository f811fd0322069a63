/**
 * `foreach` and sub-workflows, in process (a node started here, driven through `Engine.submit` /
 * `Engine.wait`, no HTTP):
 *
 * - **inline**: `sequence.numbers(1..--items)` → `foreach` over an all-local child (`execution.input` →
 *   `map` `$record * 2` → `memory.collect`) with each `--concurrency` → `memory.collect`, on memory storage.
 *   The child runs in process with no execution of its own. Reported as items/s over the whole parent
 *   execution (submit → completed, the 10,000 records stored as the parent's outputs included), median and
 *   range over `--runs` (default 9) after `--warmup` (5), with the CPU per item and the longest event-loop
 *   stall meanwhile (a 1 ms interval's longest gap); beside it the inline runner alone (`runInline`, no
 *   engine, no storage).
 * - **children**: the same foreach over a child that is not all local (a `delay` of 0 ms before the map), so
 *   each item is a real child execution (created, appended, run, reported to its parent): `--children`
 *   (1,000) items with `maxConcurrency` `--child-concurrency` (50), `--child-runs` (3) times, on each storage
 *   of `--storage` (default `memory,embedded,postgres`: embedded in a temporary data directory; PostgreSQL in
 *   a fresh temporary database, only when `ENGINE_TEST_DATABASE_URL` is set). Children/s, ms and CPU ms per
 *   child, and per child the appends storage got (and the parent's share), events of the parent and its own.
 *
 *   deno task bench:foreach
 *   deno run -A bench/foreach.ts --items 10000 --concurrency 50,1000 --runs 9 --children 1000 --json
 *   deno run -A bench/foreach.ts --only inline --profile /tmp/foreach.cpuprofile
 *   deno run -A bench/foreach.ts --only children --storage memory,embedded --child-concurrency 200
 *   deno bench -A bench/foreach.ts      # the inline case through the engine as `Deno.bench`, n = 10
 *
 * It prints one line per case, then the whole report as one JSON line (`--json`: only that).
 *
 * @module
 */
import process from "node:process";
import { Session } from "node:inspector/promises";
import { compilePlan } from "../core/plan.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { AppendRequest, StoredWorkflow } from "../storage/storage.ts";
import { withTempDatabase } from "../testing/pg.ts";
import { type RunningNode, startNode } from "../server/start.ts";
import { checkWorkflow } from "../server/runtime/workflows.ts";
import { runInline } from "../server/runtime/children_inline.ts";
import { systemClock } from "../server/runtime/clock.ts";
import { executorFor } from "../server/executors/registry.ts";
import { realServices } from "../server/executors/services.ts";

type Node = WorkflowDefinition["nodes"][number];
type StorageKind = "memory" | "embedded" | "postgres";

/** `nodes` one after the other. */
function chain(id: string, ...nodes: Node[]): WorkflowDefinition {
  return {
    id,
    name: id,
    nodes,
    edges: nodes.slice(1).map((n, i) => ({ source: nodes[i].id, target: n.id })),
  };
}

const input: Node = { id: "in", type: "source", nodeType: "execution.input", config: {} };
const double: Node = { id: "x2", type: "transform", nodeType: "map", config: { expression: "$record * 2" } };
const collect: Node = { id: "out", type: "sink", nodeType: "memory.collect", config: {} };

/** The all-local child: its item → doubled → collected. */
const LOCAL_CHILD = chain("bench-each-local", input, double, collect);
/** The same with a 0 ms `delay` first: not all local, so each item is a child execution. */
const REAL_CHILD = chain(
  "bench-each-real",
  input,
  {
    id: "wait",
    type: "control",
    nodeType: "delay",
    config: { durationMs: 0 },
  },
  double,
  collect,
);

/** `1..items` → foreach `child` (at most `maxConcurrency` at once) → collected. */
function parentOf(child: string, items: number, maxConcurrency: number): WorkflowDefinition {
  return chain(
    `bench-foreach-${child}-${items}-${maxConcurrency}`,
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: items, step: 1 } },
    { id: "each", type: "control", nodeType: "foreach", config: { workflow: child, maxConcurrency } },
    collect,
  );
}

async function store(node: RunningNode, def: WorkflowDefinition): Promise<StoredWorkflow> {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await node.storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error(`could not store ${def.id}`);
  return put.workflow;
}

/** Starts a node on `kind` (embedded: in a temporary data directory; postgres: on `databaseUrl`). */
async function nodeOn(kind: StorageKind, where?: string): Promise<RunningNode> {
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    storage: kind,
    ...(kind === "embedded" ? { dataDir: where } : {}),
    ...(kind === "postgres" ? { databaseUrl: where } : {}),
  });
  const deadline = Date.now() + 30_000;
  while (!(node.engine.ready && node.engine.ownedShards.size >= node.engine.shardCount)) {
    if (Date.now() > deadline) throw new Error("the node did not take its shards");
    await new Promise((r) => setTimeout(r, 20));
  }
  return node;
}

/** Runs `parent` once to its end; the wall time (ms), and checks its output. */
async function runOnce(node: RunningNode, parent: StoredWorkflow, items: number): Promise<{
  ms: number;
  executionId: string;
}> {
  const t0 = performance.now();
  const r = await node.engine.submit(parent, { input: null });
  if (!r.ok) throw new Error(`submit: ${r.error.code} ${r.error.message}`);
  const view = await node.engine.wait(r.value.executionId, 600_000);
  const ms = performance.now() - t0;
  if (view?.status !== "completed") {
    throw new Error(`the parent ended ${view?.status}: ${JSON.stringify(view)}`);
  }
  const out = await node.engine.output(r.value.executionId, "out");
  if (!out.ok || out.value?.length !== items || out.value[items - 1] !== items * 2) {
    throw new Error(`wrong output: ${JSON.stringify(out).slice(0, 200)}`);
  }
  return { ms, executionId: r.value.executionId };
}

/** CPU ms (user + system, every thread) of this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Watches the event loop with a 1 ms interval: the function returned stops it and gives the longest time
 * (ms) between two of its ticks, what a timer, a heartbeat or a request waited at worst meanwhile (the
 * machine's own scheduling included).
 */
function stallProbe(): () => number {
  let last = performance.now(), most = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    most = Math.max(most, t - last);
    last = t;
  }, 1);
  return () => {
    clearInterval(timer);
    return Math.max(most, performance.now() - last);
  };
}

/** Median and range of `xs`, rounded. */
function summary(xs: number[], digits = 0): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => +x.toFixed(digits);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: r(mid), min: r(s[0]), max: r(s[s.length - 1]) };
}

/** The load average over 1 minute, from /proc. */
async function load1(): Promise<number> {
  return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
}

// ---- inline

/**
 * Items/s of the whole parent execution, per maxConcurrency, over `runs` after `warmup` (each round runs
 * every maxConcurrency once, so a busy spell of the machine falls on all of them alike).
 */
async function inlineThroughEngine(
  items: number,
  concurrencies: number[],
  runs: number,
  warmup: number,
): Promise<Record<string, unknown>> {
  const node = await nodeOn("memory");
  try {
    await store(node, LOCAL_CHILD);
    const parents = [];
    for (const c of concurrencies) parents.push(await store(node, parentOf(LOCAL_CHILD.id, items, c)));
    const rates = concurrencies.map(() => [] as number[]), cpu = concurrencies.map(() => [] as number[]);
    const stalls = concurrencies.map(() => [] as number[]);
    for (let i = 0; i < warmup + runs; i++) {
      for (const [k, parent] of parents.entries()) {
        const probe = stallProbe();
        const c0 = cpuMs();
        const { ms } = await runOnce(node, parent, items);
        const stall = probe();
        if (i < warmup) continue;
        rates[k].push(items / (ms / 1000));
        cpu[k].push((cpuMs() - c0) * 1000 / items);
        stalls[k].push(stall);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, c] of concurrencies.entries()) {
      out[`maxConcurrency ${c}`] = {
        itemsPerSecond: summary(rates[k]),
        cpuMicrosPerItem: summary(cpu[k], 1),
        eventLoopStallMs: summary(stalls[k], 1),
      };
    }
    return out;
  } finally {
    await node.close();
  }
}

/** Items/s of the inline runner alone (`runInline`, no engine, no storage). */
async function inlineRunnerAlone(
  items: number,
  concurrencies: number[],
  runs: number,
  warmup: number,
): Promise<Record<string, unknown>> {
  const child = compilePlan(LOCAL_CHILD, 1);
  const parent = compilePlan(parentOf(LOCAL_CHILD.id, items, 1), 1);
  const list = Array.from({ length: items }, (_, i) => i + 1);
  const services = realServices();
  const limits = { maxRecords: 100_000, maxBytes: 16 << 20 };
  const out: Record<string, unknown> = {};
  try {
    const once = async (c: number) => {
      const each = parent.byId.get("each")!;
      const node = { ...each, subflow: { ...each.subflow!, maxConcurrency: c } };
      const t0 = performance.now();
      const r = await runInline({
        runId: "bench/each@1",
        plan: child,
        node,
        items: list,
        clock: systemClock,
        local: { executorFor, services, limits },
        limits,
        waits: () => true,
      });
      if (!r?.ok || r.records.length !== items) throw new Error("runInline failed");
      return items / ((performance.now() - t0) / 1000);
    };
    const rates = concurrencies.map(() => [] as number[]);
    for (let i = 0; i < warmup + runs; i++) {
      for (const [k, c] of concurrencies.entries()) {
        const rate = await once(c);
        if (i >= warmup) rates[k].push(rate);
      }
    }
    for (const [k, c] of concurrencies.entries()) {
      out[`maxConcurrency ${c}`] = { itemsPerSecond: summary(rates[k]) };
    }
  } finally {
    await services.close();
  }
  return out;
}

// ---- real children

/** Counts the appends (requests) and flushes storage gets, and those of one execution. */
function tapAppends(node: RunningNode): { requests: number; flushes: number; of: (id: string) => number } {
  const s = node.storage;
  const appendMany = s.appendMany.bind(s);
  const byId = new Map<string, number>();
  const tap = { requests: 0, flushes: 0, of: (id: string) => byId.get(id) ?? 0 };
  s.appendMany = (reqs: AppendRequest[]) => {
    tap.flushes++;
    tap.requests += reqs.length;
    for (const r of reqs) byId.set(r.executionId, (byId.get(r.executionId) ?? 0) + 1);
    return appendMany(reqs);
  };
  return tap;
}

/** The cost per child execution on one storage: `runs` parents of `children` items each. */
async function childrenOn(
  kind: StorageKind,
  where: string | undefined,
  children: number,
  maxConcurrency: number,
  runs: number,
): Promise<Record<string, unknown>> {
  const node = await nodeOn(kind, where);
  try {
    await store(node, REAL_CHILD);
    const parent = await store(node, parentOf(REAL_CHILD.id, children, maxConcurrency));
    const warm = await store(node, parentOf(REAL_CHILD.id, Math.min(children, 100), maxConcurrency));
    await runOnce(node, warm, Math.min(children, 100));
    const tap = tapAppends(node);
    const rates: number[] = [], msPer: number[] = [], cpuPer: number[] = [];
    let last = { requests: 0, flushes: 0, parentAppends: 0, parentEvents: 0, childEvents: 0 };
    for (let i = 0; i < runs; i++) {
      const r0 = tap.requests, f0 = tap.flushes, c0 = cpuMs();
      const { ms, executionId } = await runOnce(node, parent, children);
      const cpu = cpuMs() - c0;
      rates.push(children / (ms / 1000));
      msPer.push(ms / children);
      cpuPer.push(cpu / children);
      const events = await node.engine.events(executionId);
      const firstChild = events.find((e) => e.type === "ChildStarted");
      const childEvents = firstChild?.type === "ChildStarted"
        ? (await node.engine.events(firstChild.childId)).length
        : 0;
      last = {
        requests: tap.requests - r0,
        flushes: tap.flushes - f0,
        parentAppends: tap.of(executionId),
        parentEvents: events.length,
        childEvents,
      };
    }
    const per = (n: number) => +(n / children).toFixed(2);
    return {
      childrenPerSecond: summary(rates),
      msPerChild: summary(msPer, 3),
      cpuMsPerChild: summary(cpuPer, 3),
      appendsPerChild: per(last.requests),
      flushesPerChild: per(last.flushes),
      parentAppendsPerChild: per(last.parentAppends),
      parentEventsPerChild: per(last.parentEvents),
      eventsPerChildExecution: last.childEvents,
    };
  } finally {
    await node.close();
  }
}

async function perChildCost(
  kinds: StorageKind[],
  children: number,
  maxConcurrency: number,
  runs: number,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const kind of kinds) {
    if (kind === "postgres") {
      if (!Deno.env.get("ENGINE_TEST_DATABASE_URL")) {
        out.postgres = "skipped: ENGINE_TEST_DATABASE_URL is not set";
        continue;
      }
      out.postgres = await withTempDatabase((url) =>
        childrenOn("postgres", url, children, maxConcurrency, runs)
      );
    } else if (kind === "embedded") {
      const dir = await Deno.makeTempDir({ prefix: "flowmesh-bench-foreach-" });
      try {
        out.embedded = await childrenOn("embedded", dir, children, maxConcurrency, runs);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    } else {
      out.memory = await childrenOn("memory", undefined, children, maxConcurrency, runs);
    }
  }
  return out;
}

/** Starts the CPU profiler; the function returned stops it and writes `file`. */
async function startProfile(file: string): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    await Deno.writeTextFile(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/** `12,345` */
const n = (x: number) => Math.round(x).toLocaleString("en-US");
/** `median (min – max)` */
const range = (r: { median: number; min: number; max: number }, f = n) =>
  `${f(r.median)} (${f(r.min)} – ${f(r.max)})`;

/** One line per case, for reading (the JSON after them has the same and more). */
function printLines(report: Record<string, unknown>): void {
  type Rate = { median: number; min: number; max: number };
  const inline = report.inline as Record<string, Record<string, Record<string, Rate>>> | undefined;
  if (inline) {
    for (const [c, r] of Object.entries(inline.throughEngine)) {
      console.log(
        `inline, ${inline.items} items, ${c}: ${range(r.itemsPerSecond)} items/s through the engine ` +
          `(${range(r.cpuMicrosPerItem, (x) => x.toFixed(1))} µs CPU/item, longest event-loop stall ` +
          `${range(r.eventLoopStallMs, (x) => x.toFixed(0))} ms); ` +
          `runner alone ${range(inline.runnerAlone[c].itemsPerSecond)} items/s; target 50,000`,
      );
    }
  }
  const children = report.children as Record<string, unknown> | undefined;
  if (children) {
    for (const kind of ["memory", "embedded", "postgres"]) {
      const r = children[kind] as Record<string, Rate & number> | string | undefined;
      if (r === undefined) continue;
      if (typeof r === "string") {
        console.log(`children, ${kind}: ${r}`);
        continue;
      }
      console.log(
        `children, ${children.items} items, maxConcurrency ${children.maxConcurrency}, ${kind}: ` +
          `${range(r.childrenPerSecond)} children/s, ${range(r.msPerChild, (x) => x.toFixed(3))} ms/child, ` +
          `${
            range(r.cpuMsPerChild, (x) => x.toFixed(3))
          } CPU ms/child; per child ${r.appendsPerChild} appends ` +
          `(${r.parentAppendsPerChild} the parent's) in ${r.flushesPerChild} flushes, ` +
          `${r.parentEventsPerChild} parent events, ${r.eventsPerChildExecution} events of its own`,
      );
    }
  }
}

async function main(): Promise<void> {
  const args = Deno.args;
  const get = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const items = Number(get("items", "10000"));
  const concurrencies = get("concurrency", "50,1000").split(",").map(Number);
  const runs = Number(get("runs", "9"));
  const warmup = Number(get("warmup", "5"));
  const children = Number(get("children", "1000"));
  const childConcurrency = Number(get("child-concurrency", "50"));
  const childRuns = Number(get("child-runs", "3"));
  const kinds = get("storage", "memory,embedded,postgres").split(",") as StorageKind[];
  const only = get("only", "");
  const profile = get("profile", "");

  const report: Record<string, unknown> = { load1Before: await load1() };
  if (only !== "children") {
    const stop = profile ? await startProfile(profile) : undefined;
    report.inline = {
      items,
      target: 50_000,
      throughEngine: await inlineThroughEngine(items, concurrencies, runs, warmup),
      runnerAlone: await inlineRunnerAlone(items, concurrencies, runs, warmup),
    };
    if (stop) await stop();
  }
  if (only !== "inline") {
    report.children = {
      items: children,
      maxConcurrency: childConcurrency,
      runs: childRuns,
      ...await perChildCost(kinds, children, childConcurrency, childRuns),
    };
  }
  report.load1After = await load1();
  if (args.includes("--json")) {
    console.log(JSON.stringify(report));
    return;
  }
  printLines(report);
  console.log(`load average (1 min): ${report.load1Before} before, ${report.load1After} after`);
  console.log(JSON.stringify(report));
}

if (import.meta.main) {
  await main();
} else {
  // `deno bench -A bench/foreach.ts`: the inline case through the engine, on memory, a fixed n.
  const ITEMS = 10_000, N = 10, WARMUP = 3;
  const node = await nodeOn("memory");
  await store(node, LOCAL_CHILD);
  const parents = await Promise.all([50, 1000].map((c) => store(node, parentOf(LOCAL_CHILD.id, ITEMS, c))));
  let left = parents.length * (N + WARMUP);
  for (const [i, parent] of parents.entries()) {
    Deno.bench({
      name: `foreach over ${ITEMS} items, all-local child, maxConcurrency ${[50, 1000][i]}`,
      group: "foreach",
      n: N,
      warmup: WARMUP,
      async fn() {
        await runOnce(node, parent, ITEMS);
        if (--left === 0) await node.close();
      },
    });
  }
}
