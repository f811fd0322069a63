/**
 * Benchmarks of the hot pure code: validation of a 100-node DAG, the decider
 * driving a 5-node linear execution to its end, replay, and event encoding; replay and the decider (in place)
 * on a 2,000-node DAG.
 * Run with `deno bench` (`deno task bench`).
 *
 * @module
 */
import { allocate, DEFAULT_ALLOCATION } from "../core/cluster.ts";
import { decide } from "../core/decide.ts";
import type { ExecutionEvent } from "../core/events.ts";
import { compilePlan } from "../core/plan.ts";
import { evolve, type ExecutionState, initialState, replay } from "../core/state.ts";
import { pendingWork } from "../core/timers.ts";
import { validateWorkflow } from "../core/validate.ts";
import { largeDag } from "../core/samples.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";

function chain(n: number): WorkflowDefinition {
  const nodes: WorkflowDefinition["nodes"] = [
    { id: "n0", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
  ];
  for (let i = 1; i < n - 1; i++) {
    nodes.push({ id: `n${i}`, type: "transform", nodeType: "map", config: { expression: "value + 1" } });
  }
  nodes.push({ id: `n${n - 1}`, type: "sink", nodeType: "memory.collect", config: {} });
  const edges = nodes.slice(1).map((node, i) => ({ source: `n${i}`, target: node.id }));
  return { id: `chain-${n}`, name: "chain", nodes, edges };
}

const dag100 = chain(100);
const five = compilePlan(chain(5), 1);

/**
 * Runs one execution of a plan to its end, completing every running node at once. `inPlace`: the decisions
 * change one working copy of the state, as the runtime's batch does; else each event is folded into a copy.
 */
function runToEnd(plan = five, inPlace = false): ExecutionEvent[] {
  let state: ExecutionState = initialState("ex-bench", plan);
  const events: ExecutionEvent[] = [];
  let now = 1_000;
  const apply = (d: ReturnType<typeof decide>) => {
    if (!d.ok) throw new Error(d.rejection.message);
    if (inPlace) state = d.state;
    else for (const e of d.events) state = evolve(state, e);
    events.push(...d.events);
  };
  const opts = { inPlace };
  apply(decide(state, { type: "Start", input: null }, now, opts));
  while (state.status === "running") {
    for (const nodeId of pendingWork(state).toStart) {
      apply(decide(state, { type: "StartNode", nodeId }, now, opts));
    }
    for (const { nodeId, attempt } of pendingWork(state).toRun) {
      apply(decide(
        state,
        {
          type: "CompleteNode",
          nodeId,
          attempt,
          outputRef: `${nodeId}@${attempt}`,
          recordsProcessed: 10,
          recordsEmitted: 10,
        },
        ++now,
        opts,
      ));
    }
  }
  return events;
}

const history = runToEnd();

Deno.bench("validate a 100-node DAG", { group: "validate" }, () => {
  const r = validateWorkflow(dag100);
  if (!r.ok) throw new Error("invalid");
});

Deno.bench("compile a 100-node plan", { group: "validate" }, () => {
  compilePlan(dag100, 1);
});

Deno.bench(`decide+evolve a 5-node execution (${history.length} events)`, { group: "decider" }, () => {
  runToEnd();
});

Deno.bench(`replay a 5-node execution (${history.length} events)`, { group: "decider" }, () => {
  replay("ex-bench", five, history);
});

Deno.bench(`encode + decode ${history.length} events as JSON`, { group: "encoding" }, () => {
  JSON.parse(JSON.stringify(history));
});

/** A source, `count - 2` maps in chains 50 wide, a sink joining the chains (as `bench/big_executions.ts`). */
function layered(count: number): WorkflowDefinition {
  const nodes: WorkflowDefinition["nodes"] = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
  ];
  const edges: WorkflowDefinition["edges"] = [];
  const last = new Map<number, string>();
  for (let i = 0; i < count - 2; i++) {
    const id = `t${i}`;
    nodes.push({ id, type: "transform", nodeType: "map", config: { expression: "value + 1" } });
    edges.push({ source: last.get(i % 50) ?? "src", target: id });
    last.set(i % 50, id);
  }
  nodes.push({ id: "sink", type: "sink", nodeType: "memory.collect", config: {} });
  for (const id of last.values()) edges.push({ source: id, target: "sink" });
  return { id: "layered", name: "layered", nodes, edges };
}

const big = compilePlan(layered(2000), 1);
const bigHistory = runToEnd(big, true);
Deno.bench(`replay a 2,000-node execution (${bigHistory.length} events)`, { group: "big" }, () => {
  replay("ex-bench", big, bigHistory);
});
Deno.bench("decide a 2,000-node execution in place (the runtime's way)", { group: "big" }, () => {
  runToEnd(big, true);
});

const dag1000 = largeDag(1000);
Deno.bench("validate a 1,000-node DAG (~5,000 edges)", { group: "validate" }, () => {
  if (!validateWorkflow(dag1000).ok) throw new Error("invalid");
});

const shards128 = Array.from({ length: 128 }, (_, shard) => ({ shard, owner: null, epoch: 0 }));
const fiveMembers = ["n1", "n2", "n3", "n4", "n5"];
Deno.bench("allocate 128 fresh shards over 5 members", { group: "cluster" }, () => {
  allocate(shards128, fiveMembers, new Set(fiveMembers), DEFAULT_ALLOCATION);
});
const skewed = shards128.map((s) => ({ ...s, owner: s.shard < 100 ? "n1" : "n2", epoch: 1 }));
Deno.bench("allocate: rebalance round of a skewed 128-shard map", { group: "cluster" }, () => {
  allocate(skewed, fiveMembers, new Set(fiveMembers), DEFAULT_ALLOCATION);
});
