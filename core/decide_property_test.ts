/**
 * Property tests of the decider: random valid DAGs run by a small pure driver that
 * mimics the runtime, with random retry policies, failures, condition outcomes and
 * completion order. (Invalid graphs are covered by `validate_property_test.ts`.)
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { type Command, decide } from "./decide.ts";
import { EVENT_VERSION, type ExecutionEvent } from "./events.ts";
import { compilePlan, type Plan, type PlanEdge } from "./plan.ts";
import { evolve, type ExecutionState, initialState, replay } from "./state.ts";
import { pendingTimers, pendingWork } from "./timers.ts";
import { validateWorkflow } from "./validate.ts";
import type { RetryPolicy, WorkflowEdge, WorkflowNode } from "./workflow.ts";

const NUM_RUNS = 200;

// ---- random valid DAGs

type Kind = "source" | "map" | "condition" | "delay" | "sink";

interface NodeGen {
  kind: Kind;
  /** Parent picks, taken modulo the node's index. */
  parents: number[];
  /** Condition parents: which handle each edge leaves by. */
  handles: boolean[];
  retry: Partial<RetryPolicy> | undefined;
  timeoutMs: number | undefined;
  delayMs: number;
}

const nodeGen: fc.Arbitrary<NodeGen> = fc.record({
  kind: fc.oneof(
    { weight: 1, arbitrary: fc.constant<Kind>("source") },
    { weight: 4, arbitrary: fc.constant<Kind>("map") },
    { weight: 2, arbitrary: fc.constant<Kind>("condition") },
    { weight: 1, arbitrary: fc.constant<Kind>("delay") },
    { weight: 2, arbitrary: fc.constant<Kind>("sink") },
  ),
  parents: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 3 }),
  handles: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  retry: fc.option(
    fc.record({
      maxAttempts: fc.integer({ min: 1, max: 4 }),
      initialIntervalMs: fc.integer({ min: 0, max: 500 }),
      backoffCoefficient: fc.integer({ min: 1, max: 3 }),
      maxIntervalMs: fc.integer({ min: 0, max: 2000 }),
    }, { requiredKeys: [] }).map((r): Partial<RetryPolicy> =>
      // Validation wants maxIntervalMs ≥ initialIntervalMs when both are given.
      r.initialIntervalMs !== undefined && r.maxIntervalMs !== undefined
        ? { ...r, maxIntervalMs: r.initialIntervalMs + r.maxIntervalMs }
        : r
    ),
    { nil: undefined },
  ),
  timeoutMs: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 1500 }) },
  ),
  delayMs: fc.integer({ min: 0, max: 1000 }),
});

const CONFIG: Record<Kind, { type: string; nodeType: string; config: () => Record<string, unknown> }> = {
  source: { type: "source", nodeType: "memory.collection", config: () => ({ data: [1] }) },
  map: { type: "transform", nodeType: "map", config: () => ({ expression: "value" }) },
  condition: { type: "control", nodeType: "condition", config: () => ({ condition: "true" }) },
  delay: { type: "control", nodeType: "delay", config: () => ({}) },
  sink: { type: "sink", nodeType: "memory.collect", config: () => ({}) },
};

/** A definition from generated nodes: node 0 is a source; edges go from lower to higher index only. */
function definition(gens: readonly NodeGen[]): { nodes: WorkflowNode[]; edges: WorkflowEdge[] } {
  const kinds = gens.map((g, i) => (i === 0 ? "source" : g.kind));
  const nodes = gens.map((g, i): WorkflowNode => ({
    id: `n${i}`,
    type: CONFIG[kinds[i]].type as WorkflowNode["type"],
    nodeType: CONFIG[kinds[i]].nodeType,
    config: kinds[i] === "delay" ? { durationMs: g.delayMs } : CONFIG[kinds[i]].config(),
    ...(g.retry === undefined ? {} : { retry: g.retry }),
    ...(g.timeoutMs === undefined ? {} : { timeoutMs: g.timeoutMs }),
  }));
  const edges: WorkflowEdge[] = [];
  const seen = new Set<string>();
  gens.forEach((g, i) => {
    if (kinds[i] === "source") return;
    let picked = g.parents.map((p) => p % i).filter((p) => kinds[p] !== "sink");
    if (picked.length === 0) picked = [0];
    picked.forEach((p, k) => {
      const handle = kinds[p] === "condition" ? (g.handles[k] ? "true" : "false") : undefined;
      const key = `${p}>${i}>${handle}`;
      if (seen.has(key)) return;
      seen.add(key);
      edges.push(
        handle === undefined
          ? { source: `n${p}`, target: `n${i}` }
          : { source: `n${p}`, target: `n${i}`, sourceHandle: handle },
      );
    });
  });
  return { nodes, edges };
}

const planArb: fc.Arbitrary<Plan> = fc.array(nodeGen, { minLength: 1, maxLength: 25, size: "max" }).map(
  (gens) => {
    const result = validateWorkflow({ id: "wf-p", name: "random", ...definition(gens) });
    if (!result.ok) throw new Error(`generated an invalid workflow: ${JSON.stringify(result.problems)}`);
    return compilePlan(result.workflow, 1);
  },
);

const scenarioArb = fc.record({
  plan: planArb,
  /** Drives every choice of the driver: which item next, time steps, failures, branches. */
  choices: fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
  /** Percent of attempts that fail. */
  failPct: fc.constantFrom(0, 10, 30, 60),
});

// ---- the driver

function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
  } else if (value instanceof Set) {
    for (const v of value.values()) deepFreeze(v);
  } else {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

interface Outcome {
  state: ExecutionState;
  events: ExecutionEvent[];
  steps: number;
  maxSteps: number;
}

/**
 * Runs an execution as the runtime would, the order of work picked by `choices`.
 * Also checks along the way that `decide` never mutates its (deep-frozen) input,
 * that every driver command is accepted and makes progress, and that stale or early
 * commands do nothing.
 */
function drive(plan: Plan, choices: readonly number[], failPct: number): Outcome {
  let state = initialState("ex-p", plan);
  const events: ExecutionEvent[] = [];
  let now = 1_000;
  let c = 0;
  const next = () => choices[c++ % choices.length];

  const send = (command: Command): ExecutionEvent[] => {
    deepFreeze(state);
    const before = structuredClone(state);
    const decision = decide(state, command, now);
    assertEquals(state, before, `decide mutated its input on ${command.type}`);
    assert(decision.ok, `${command.type} rejected: ${!decision.ok && decision.rejection.code}`);
    for (const e of decision.events) {
      state = evolve(state, e);
      events.push(e);
    }
    assertEquals(decision.state, state, `the decision's state is not its events evolved (${command.type})`);
    return decision.events;
  };
  const startScheduled = () => {
    for (let w = pendingWork(state); w.toStart.length > 0; w = pendingWork(state)) {
      for (const nodeId of w.toStart) {
        assert(send({ type: "StartNode", nodeId }).length > 0, `StartNode ${nodeId} did nothing`);
      }
    }
  };

  // Each attempt ends once (completion, failure, timeout or delay timer) and may need a
  // retry timer; each time jump is followed by such a step.
  const maxSteps = 4 * plan.nodes.reduce((sum, n) => sum + n.retry.maxAttempts, 0) + 1;
  send({ type: "Start", input: null });
  startScheduled();
  let steps = 0;
  while (state.status === "running" && steps < maxSteps) {
    steps++;
    const work = pendingWork(state);
    assertEquals(work.toStart, []);
    const timers = pendingTimers(state);
    const due = timers.filter((t) => t.dueAt <= now);
    const options = [...work.toRun.map((run) => ({ run })), ...due.map((timer) => ({ timer }))];
    if (options.length === 0) {
      assert(timers.length > 0, `stuck: nothing runs and no timer is pending at step ${steps}`);
      now = timers[0].dueAt; // the earliest; not due yet, so later than now
      continue;
    }
    const x = next();
    if (x % 3 === 0) now += (x >>> 2) % 400;

    // Noise the runtime may produce: a stale completion, an early timer. Neither does anything.
    if ((x >>> 11) % 8 === 0) {
      const node = plan.nodes[(x >>> 14) % plan.nodes.length];
      const stale: Command = {
        type: "CompleteNode",
        nodeId: node.id,
        attempt: state.nodes[node.id].attempts + 1,
        outputRef: "stale",
        recordsProcessed: 0,
        recordsEmitted: 0,
      };
      assertEquals(send(stale), [], "a stale completion must do nothing");
      const early = timers.find((t) => t.dueAt > now);
      if (early) assertEquals(send({ type: "FireTimer", timerId: early.id }), [], "an early timer");
    }

    const pick = options[(x >>> 3) % options.length];
    let caused: ExecutionEvent[];
    if ("run" in pick) {
      const { nodeId, attempt } = pick.run;
      if ((x >>> 16) % 100 < failPct) {
        caused = send({
          type: "FailNode",
          nodeId,
          attempt,
          error: { code: "injected", message: `attempt ${attempt} of ${nodeId}` },
          retryable: (x >>> 23) % 4 !== 0,
        });
      } else {
        const isCondition = plan.byId.get(nodeId)!.behaviour === "condition";
        caused = send({
          type: "CompleteNode",
          nodeId,
          attempt,
          outputRef: `ref/${nodeId}/${attempt}`,
          recordsProcessed: 1,
          recordsEmitted: 1,
          ...(isCondition ? { handle: (x >>> 25) & 1 ? "true" : "false" } : {}),
        });
      }
    } else {
      caused = send({ type: "FireTimer", timerId: pick.timer.id });
    }
    assert(caused.length > 0, "every driver step makes progress");
    startScheduled();
  }
  return { state, events, steps, maxSteps };
}

// ---- checks

const isTerminal = (e: ExecutionEvent) =>
  e.type === "ExecutionSucceeded" || e.type === "ExecutionFailed" ||
  e.type === "ExecutionCancelled" || e.type === "ExecutionTimedOut";

function live(state: ExecutionState, edge: PlanEdge): boolean {
  const source = state.nodes[edge.source];
  if (source.status !== "completed") return false;
  return edge.sourceHandle === undefined || edge.sourceHandle === source.handle;
}

function checkOutcome(plan: Plan, { state, events, steps, maxSteps }: Outcome): void {
  // (a) termination, within the bound.
  assert(
    state.status === "completed" || state.status === "failed",
    `not terminated after ${steps}/${maxSteps} steps: ${state.status}`,
  );
  assertStrictEquals(events.filter(isTerminal).length, 1);
  assert(isTerminal(events[events.length - 1]), "the terminal event is the last one");
  assertEquals(pendingTimers(state), []);
  assertEquals(pendingWork(state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });

  // (b) at most one NodeSucceeded per node; (c) nothing starts before its parents are done.
  const succeeded = new Map<string, number>();
  const done = new Set<string>();
  for (const e of events) {
    if (e.type === "NodeStarted" || e.type === "NodeScheduled" || e.type === "NodeSkipped") {
      for (const p of plan.byId.get(e.nodeId)!.parents) {
        assert(
          done.has(p.source),
          `${e.type}(${e.nodeId}) at seq ${e.seq} before parent ${p.source} was done`,
        );
      }
    }
    if (e.type === "NodeSucceeded") {
      succeeded.set(e.nodeId, (succeeded.get(e.nodeId) ?? 0) + 1);
      done.add(e.nodeId);
    }
    if (e.type === "NodeSkipped") {
      assert(!done.has(e.nodeId), `${e.nodeId} skipped after it was done`);
      done.add(e.nodeId);
    }
  }
  for (const [nodeId, count] of succeeded) assertStrictEquals(count, 1, `${nodeId} succeeded ${count} times`);

  // (d) replay rebuilds the incrementally evolved state.
  assertEquals(replay("ex-p", plan, events), state);

  // (e) seq 1..n, `at` non-decreasing, schema version.
  events.forEach((e, i) => {
    assertStrictEquals(e.seq, i + 1);
    assertStrictEquals(e.v, EVENT_VERSION);
    if (i > 0) assert(e.at >= events[i - 1].at, `at goes back at seq ${e.seq}`);
  });
  assertStrictEquals(state.lastSeq, events.length);

  // (f) a completed execution: every node completed or skipped; skipped iff no live input.
  if (state.status === "completed") {
    for (const node of plan.nodes) {
      const ns = state.nodes[node.id];
      assert(ns.status === "completed" || ns.status === "skipped", `${node.id} is ${ns.status}`);
      const hasLiveInput = node.parents.some((p) => live(state, p));
      if (node.parents.length === 0) assertStrictEquals(ns.status, "completed", `source ${node.id}`);
      else {assertStrictEquals(
          ns.status === "skipped",
          !hasLiveInput,
          `${node.id}: skipped iff no live input`,
        );}
      if (ns.status === "completed") assertStrictEquals(succeeded.get(node.id), 1);
      else assert(!succeeded.has(node.id));
    }
  } else {
    const failed = events[events.length - 1];
    assert(failed.type === "ExecutionFailed");
    const nodeId = failed.error.nodeId;
    assert(nodeId !== undefined && state.nodes[nodeId].status === "failed", "the failed node is named");
    assertEquals(state.error, failed.error);
    for (const node of plan.nodes) {
      const status = state.nodes[node.id].status;
      assert(["completed", "skipped", "failed", "cancelled"].includes(status), `${node.id} is ${status}`);
    }
  }
}

Deno.test("decide (property): random DAGs, failures, branches and orders always end consistently", () => {
  fc.assert(
    fc.property(scenarioArb, ({ plan, choices, failPct }) => {
      const outcome = drive(plan, choices, failPct);
      checkOutcome(plan, outcome);
      // After the end: late results are ignored, user commands are refused.
      const late = decide(outcome.state, {
        type: "CompleteNode",
        nodeId: plan.nodes[0].id,
        attempt: outcome.state.nodes[plan.nodes[0].id].attempts,
        outputRef: null,
        recordsProcessed: 0,
        recordsEmitted: 0,
      }, 10_000_000);
      assertEquals(late, { ok: true, events: [], state: outcome.state });
      const cancel = decide(outcome.state, { type: "Cancel", reason: "late" }, 10_000_000);
      assert(!cancel.ok && cancel.rejection.code === "execution_terminal");
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("decide (property): without failures every execution completes", () => {
  fc.assert(
    fc.property(planArb, fc.array(fc.nat(), { minLength: 1, maxLength: 32 }), (plan, choices) => {
      const unlimited = compilePlan(
        {
          id: plan.workflowId,
          name: "no timeouts",
          nodes: plan.nodes.map((n) => ({ id: n.id, type: n.type, nodeType: n.nodeType, config: n.config })),
          edges: plan.nodes
            .flatMap((n) => n.children)
            .sort((a, b) => a.index - b.index)
            .map((e): WorkflowEdge => ({ source: e.source, target: e.target, sourceHandle: e.sourceHandle })),
        },
        1,
      );
      const outcome = drive(unlimited, choices, 0);
      checkOutcome(unlimited, outcome);
      assertStrictEquals(outcome.state.status, "completed");
    }),
    { numRuns: NUM_RUNS / 2 },
  );
});

Deno.test("decide (property): the same commands give the same history", () => {
  fc.assert(
    fc.property(scenarioArb, ({ plan, choices, failPct }) => {
      const a = drive(plan, choices, failPct);
      const b = drive(plan, choices, failPct);
      assertEquals(a.events, b.events);
    }),
    { numRuns: NUM_RUNS / 4 },
  );
});
