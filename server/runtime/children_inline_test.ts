import { assert, assertEquals } from "../../testing/assert.ts";
import { compilePlan } from "../../core/plan.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { executorFor } from "../executors/registry.ts";
import { realServices } from "../executors/services.ts";
import { eventLoopTurn, runInline, turnOf } from "./children_inline.ts";
import { type Clock, systemClock } from "./clock.ts";
import { checkWorkflow } from "./workflows.ts";

function planOf(def: WorkflowDefinition) {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return compilePlan(checked.value.definition, 1);
}

const child = planOf({
  id: "c",
  name: "c",
  nodes: [
    { id: "in", type: "source", nodeType: "execution.input", config: {} },
    { id: "x2", type: "transform", nodeType: "map", config: { expression: "$record * 2" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "in", target: "x2" }, { source: "x2", target: "out" }],
});

Deno.test("inline: the workers share each turn of the event loop, one asked for at a time", async () => {
  // A clock that moves 3 ms per reading: the runner's slices end every few items.
  let t = 0, pending = 0, most = 0, turns = 0;
  const clock: Clock = {
    now: () => (t += 3),
    setTimer: (ms, fn) => setTimeout(fn, ms),
    clearTimer: (h) => clearTimeout(h as number),
  };
  const turn = async () => {
    turns++;
    most = Math.max(most, ++pending);
    await new Promise((resolve) => setTimeout(resolve, 0));
    pending--;
  };
  const node = planOf({
    id: "p",
    name: "p",
    edges: [],
    nodes: [{
      id: "each",
      type: "control",
      nodeType: "foreach",
      config: { workflow: "c", maxConcurrency: 40 },
    }],
  }).byId.get("each")!;
  const items = Array.from({ length: 2_000 }, (_, i) => i);
  const services = realServices();
  const limits = { maxRecords: 10_000, maxBytes: 1 << 20 };
  try {
    const out = await runInline({
      runId: "e/each@1",
      plan: child,
      node,
      items,
      clock,
      local: { executorFor, services, limits },
      limits,
      waits: () => true,
      turn,
    });
    assert(out?.ok);
    assertEquals(out.records, items.map((i) => i * 2));
    assert(turns > 10, `the runner let the event loop turn (${turns} times)`);
    assertEquals(most, 1, "never more than one turn asked for at once");
  } finally {
    await services.close();
  }
});

Deno.test("inline: the turn is a setImmediate on the system clock, a timer of any other clock", async () => {
  assertEquals(turnOf(systemClock), eventLoopTurn);
  const asked: number[] = [];
  const virtual: Clock = {
    now: () => 0,
    setTimer: (ms, fn) => {
      asked.push(ms);
      return setTimeout(fn, 0);
    },
    clearTimer: (h) => clearTimeout(h as number),
  };
  await turnOf(virtual)();
  assertEquals(asked, [0], "the simulator's clock orders the turn");
});
