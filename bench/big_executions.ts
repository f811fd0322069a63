/**
 * Big executions (issue 17): a 2,000-node DAG and a source of 1,000,000 records, run in process on a node
 * started here (memory storage, and the local SQLite store when asked).
 *
 *   deno task bench:big                                   # every scenario on memory storage
 *   deno task bench:big --storage memory,sqlite --nodes 2000 --records 1000000
 *   deno task bench:big --scenario dag --shape wide       # one scenario, one shape
 *
 * Scenarios, each in a fresh child process so its peak resident memory is its own:
 *
 * - `dag`: a DAG of `--nodes` nodes (`layered`: a source, chains of map/filter nodes 50 wide, a sink joining
 *   them; `wide`: a source, every other node a map fed by it, a sink joining them all). Reports the time to
 *   run it (submit → ended; first in the process, then the median of 3 more), the core's replay of its
 *   stored history, the view (`executionView`) of the replayed state, a `GET /api/v1/executions/{id}` over
 *   HTTP, the same run driven by the decider alone (no executors, no storage) in place as the runtime decides
 *   and with a copy of the state per decision, and the resident memory once the node started and at its peak.
 *   The API takes at most 1,000 nodes a workflow: the bench validates with room for `--nodes` and stores the
 *   definition itself.
 * - `records`: `sequence.numbers` 1..`--records` → `map` → `console.log` (limit 1), with the output bounds
 *   raised to hold them; time, history size, the first page of the map's output over HTTP and the third
 *   (100 records each, the execution ended: the first reads the output from storage, the others from the read
 *   cache) and peak resident memory.
 * - `records-default`: the same under the default bounds: the source fails `output_too_large` (reported).
 *
 * Memory: resident at the start and at the peak (V8's heap grows ahead of its collections, so the peak holds
 * garbage too), and the heap in use after a full collection at the end (what the node keeps: the finished
 * executions it caches for reads, memory storage's histories and outputs).
 *
 * Prints one JSON line per scenario and writes the report as `bench/report_file.ts` says.
 *
 * @module
 */
import { type Command, decide as decideCore } from "../core/decide.ts";
import type { ExecutionEvent } from "../core/events.ts";
import type { Plan } from "../core/plan.ts";
import { type ExecutionState, initialState, replay } from "../core/state.ts";
import { pendingWork } from "../core/timers.ts";
import { executionView } from "../core/view.ts";
import type { WorkflowDefinition, WorkflowNode } from "../core/workflow.ts";
import { type RunningNode, startNode } from "../server/start.ts";
import { checkWorkflow } from "../server/runtime/workflows.ts";
import type { EngineConfig } from "../server/ops/config_settings.ts";
import { processStats } from "./process_stats.ts";
import { jsonTarget, writeReport } from "./report_file.ts";

const args = Deno.args;
const get = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

/** Width of the layered DAG's chains. */
const WIDTH = 50;

/**
 * A DAG of `count` nodes (at least 3): a source of 10 numbers, `count - 2` transforms, a sink joining them.
 * `layered`: chains `WIDTH` wide, maps and filters by turns (node j of a layer feeds node j of the next);
 * `wide`: every transform is a map fed by the source.
 */
export function bigDag(count: number, shape: "layered" | "wide"): WorkflowDefinition {
  const nodes: WorkflowNode[] = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
  ];
  const edges: WorkflowDefinition["edges"] = [];
  const inner = count - 2;
  const width = shape === "wide" ? inner : WIDTH;
  const lastOfChain = new Map<number, string>();
  for (let i = 0; i < inner; i++) {
    const layer = Math.floor(i / width), lane = i % width;
    const id = `t${layer}_${lane}`;
    nodes.push(
      layer % 2 === 1
        ? { id, type: "transform", nodeType: "filter", config: { condition: "value > 0" } }
        : { id, type: "transform", nodeType: "map", config: { expression: "value + 1" } },
    );
    edges.push({ source: lastOfChain.get(lane) ?? "src", target: id });
    lastOfChain.set(lane, id);
  }
  nodes.push({ id: "sink", type: "sink", nodeType: "memory.collect", config: {} });
  for (const id of lastOfChain.values()) edges.push({ source: id, target: "sink" });
  return { id: `big-${shape}-${count}`, name: "big", nodes, edges };
}

/** `1..records` → map → console.log (showing one record). */
function recordsFlow(records: number): WorkflowDefinition {
  return {
    id: `big-records-${records}`,
    name: "big records",
    nodes: [
      { id: "numbers", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: records } },
      { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
      { id: "sink", type: "sink", nodeType: "console.log", config: { limit: 1 } },
    ],
    edges: [{ source: "numbers", target: "double" }, { source: "double", target: "sink" }],
  };
}

/** The median of `n` timings of `fn`, ms (after one warm-up call). */
function medianMs(n: number, fn: () => void): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return +times[Math.floor(n / 2)].toFixed(2);
}

/**
 * Drives a plan to its end with the decider alone, completing every running node at once; returns ms.
 * `inPlace`: on one working copy, as the runtime's batch decides; else a copy of the state per decision.
 */
function decideOnly(plan: Plan, inPlace: boolean): { ms: number; events: number } {
  const t0 = performance.now();
  let state: ExecutionState = initialState("ex-core", plan);
  let events = 0;
  const apply = (d: ReturnType<typeof decide>) => {
    if (!d.ok) throw new Error(d.rejection.message);
    state = d.state;
    events += d.events.length;
  };
  let now = 1_000;
  const decide = (s: ExecutionState, command: Command, at: number) => decideCore(s, command, at, { inPlace });
  apply(decide(state, { type: "Start", input: null }, now));
  while (state.status === "running") {
    const work = pendingWork(state);
    for (const nodeId of work.toStart) apply(decide(state, { type: "StartNode", nodeId }, now));
    for (const { nodeId, attempt } of work.toRun) {
      const command = {
        type: "CompleteNode" as const,
        nodeId,
        attempt,
        outputRef: `${nodeId}@${attempt}`,
        recordsProcessed: 10,
        recordsEmitted: 10,
      };
      apply(decide(state, command, ++now));
    }
  }
  return { ms: +(performance.now() - t0).toFixed(1), events };
}

const MIB = 1024 * 1024;
const mib = (bytes: number) => +(bytes / MIB).toFixed(1);

/** The heap in use after a full garbage collection (the child runs with `--expose-gc`), MiB. */
function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return mib(Deno.memoryUsage().heapUsed);
}

/** Starts a node on `storage` (sqlite: in a fresh temporary data directory) with `config`. */
async function nodeOn(
  storage: string,
  config: Partial<EngineConfig>,
): Promise<{ node: RunningNode; done: () => Promise<void> }> {
  const dir = storage === "memory" ? undefined : await Deno.makeTempDir({ prefix: "flowmesh-big-" });
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    storage: storage as EngineConfig["storage"],
    ...(dir !== undefined && { dataDir: dir }),
    ...config,
  });
  return {
    node,
    done: async () => {
      await node.close();
      if (dir !== undefined) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Stores a definition (validated with room for `maxNodes` nodes) and runs it to its end; ms and its id. */
async function runOnce(
  node: RunningNode,
  def: WorkflowDefinition,
  maxNodes: number,
): Promise<{ ms: number; executionId: string; status: string; error: unknown }> {
  const checked = checkWorkflow(def, { maxNodes, maxEdges: Math.max(5000, maxNodes * 3) });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems.slice(0, 3)));
  const put = await node.storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error(`could not store ${def.id}`);
  const t0 = performance.now();
  const r = await node.engine.submit(put.workflow, { input: null });
  if (!r.ok) throw new Error(r.error.message);
  const view = await node.engine.wait(r.value.executionId, 600_000);
  const ms = +(performance.now() - t0).toFixed(1);
  return { ms, executionId: r.value.executionId, status: view?.status ?? "unknown", error: view?.error };
}

/** The `dag` scenario on one storage. */
async function dagScenario(storage: string, count: number, shape: "layered" | "wide") {
  const def = bigDag(count, shape);
  const { node, done } = await nodeOn(storage, { maxActiveExecutions: 1000 });
  try {
    const started = await processStats(Deno.pid);
    const run = await runOnce(node, def, count);
    const warm: number[] = [];
    for (let i = 0; i < 3; i++) warm.push((await runOnce(node, { ...def, id: `${def.id}-${i}` }, count)).ms);
    warm.sort((a, b) => a - b);
    const id = run.executionId;
    const events: ExecutionEvent[] = await node.engine.events(id);
    const plan = (await node.engine.plan(def.id, 1))!;
    const replayMs = medianMs(20, () => replay(id, plan, events));
    const state = replay(id, plan, events);
    const viewMs = medianMs(20, () => executionView(state));
    const t0 = performance.now();
    const res = await fetch(`${node.url}/api/v1/executions/${id}`);
    const body = await res.text();
    const httpViewMs = +(performance.now() - t0).toFixed(1);
    const httpMs = [] as number[];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await (await fetch(`${node.url}/api/v1/executions/${id}`)).arrayBuffer();
      httpMs.push(performance.now() - t);
    }
    httpMs.sort((a, b) => a - b);
    const stats = await processStats(Deno.pid); // before the decider-alone runs below, which allocate too
    const heapMiB = heapAfterGc();
    const core = decideOnly(plan, true);
    const copying = decideOnly(plan, false);
    return {
      scenario: "dag",
      shape,
      storage,
      nodes: plan.nodes.length,
      edges: def.edges.length,
      status: run.status,
      runMs: run.ms,
      warmRunMs: warm[1],
      historyEvents: events.length,
      historyBytes: JSON.stringify(events).length,
      replayMs,
      viewMs,
      firstHttpViewMs: httpViewMs,
      httpViewMedianMs: +httpMs[5].toFixed(1),
      viewBytes: body.length,
      decideOnlyMs: core.ms,
      decideCopyingMs: copying.ms,
      rssBeforeMiB: mib(started.rssBytes),
      peakRssMiB: mib(stats.peakBytes),
      heapAfterGcMiB: heapMiB,
      rssMiB: mib(stats.rssBytes),
    };
  } finally {
    await done();
  }
}

/** The `records` scenarios on one storage: raised bounds (`raised`) or the defaults. */
async function recordsScenario(storage: string, records: number, raised: boolean) {
  const config: Partial<EngineConfig> = raised
    ? { maxOutputRecords: records, maxOutputBytes: Math.max(16 * MIB, records * 16) }
    : {};
  const before = await processStats(Deno.pid);
  const { node, done } = await nodeOn(storage, config);
  try {
    const run = await runOnce(node, recordsFlow(records), 1000);
    const events = await node.engine.events(run.executionId);
    const pageAt = async (offset: number) => {
      const t0 = performance.now();
      const url =
        `${node.url}/api/v1/executions/${run.executionId}/nodes/double/output?offset=${offset}&limit=100`;
      const res = await fetch(url);
      return { res, page: await res.json(), ms: +(performance.now() - t0).toFixed(1) };
    };
    const { res, page, ms: outputPageMs } = await pageAt(0);
    await pageAt(100);
    const { ms: nextPageMs } = await pageAt(200);
    const stats = await processStats(Deno.pid);
    const heapMiB = heapAfterGc();
    return {
      scenario: raised ? "records" : "records-default",
      storage,
      records,
      maxOutputRecords: config.maxOutputRecords ?? 100_000,
      status: run.status,
      error: run.error ?? null,
      runMs: run.ms,
      historyEvents: events.length,
      outputPageStatus: res.status,
      outputPageMs,
      nextPageMs,
      outputTotal: page?.total ?? null,
      rssBeforeMiB: mib(before.rssBytes),
      peakRssMiB: mib(stats.peakBytes),
      heapAfterGcMiB: heapMiB,
    };
  } finally {
    await done();
  }
}

/** Runs one scenario in this process and prints its JSON line. */
async function child(): Promise<void> {
  const scenario = get("scenario", "dag");
  const storage = get("storage", "memory");
  const nodes = Number(get("nodes", "2000"));
  const records = Number(get("records", "1000000"));
  const result = scenario === "dag"
    ? await dagScenario(storage, nodes, get("shape", "layered") as "layered" | "wide")
    : await recordsScenario(storage, records, scenario === "records");
  console.log(JSON.stringify(result));
}

/** Runs every asked scenario in a child process of its own; prints and writes the report. */
async function parent(): Promise<void> {
  const storages = get("storage", "memory").split(",");
  const scenarios = get("scenario", "dag,records,records-default").split(",");
  const shapes = get("shape", "layered,wide").split(",");
  const results: unknown[] = [];
  for (const storage of storages) {
    for (const scenario of scenarios) {
      for (const shape of scenario === "dag" ? shapes : [""]) {
        const childArgs = [
          "run",
          "-A",
          "--v8-flags=--expose-gc",
          import.meta.filename!,
          "--child",
          "--scenario",
          scenario,
          "--storage",
          storage,
          "--nodes",
          get("nodes", "2000"),
          "--records",
          get("records", "1000000"),
          ...(shape ? ["--shape", shape] : []),
        ];
        const out = await new Deno.Command(Deno.execPath(), { args: childArgs, stderr: "inherit" }).output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
        if (!out.success) {
          console.error(`${scenario} ${shape} on ${storage} failed (exit ${out.code})`);
          continue;
        }
        console.log(line);
        results.push(JSON.parse(line));
      }
    }
  }
  const path = await writeReport(
    { at: new Date().toISOString(), results },
    jsonTarget(args),
    "big-executions",
    false,
  );
  if (path !== undefined) console.error(`report written to ${path}`);
}

if (import.meta.main) {
  if (args.includes("--child")) await child();
  else await parent();
}
