/**
 * Helpers for the decider's tests (no production code uses them): node builders, a plan builder that
 * validates as the API does, a small pure driver that does what the runtime does (`Run`), and random valid
 * plans made from a list of numbers (`randomDefinition`), so that fast-check generates and shrinks them as
 * plain arrays. Pure, like the rest of `core/`: it throws plain errors instead of importing assertions.
 *
 * @module
 */
import { type Command, type CompleteNodeCommand, decide, type Decision } from "./decide.ts";
import type { ExecutionEvent } from "./events.ts";
import { compilePlan, type Plan } from "./plan.ts";
import { evolve, type ExecutionState, initialState } from "./state.ts";
import { pendingWork } from "./timers.ts";
import { validateWorkflow } from "./validate.ts";
import type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from "./workflow.ts";

const node = (id: string, type: string, nodeType: string, config: Record<string, unknown>): WorkflowNode => ({
  id,
  type: type as WorkflowNode["type"],
  nodeType,
  config,
});

/**
 * Node builders, one per kind the tests use.
 *
 * @example
 * ```ts
 * import { N } from "./testing_plans.ts";
 * if (N.foreach("each", { maxConcurrency: 2 }).config.maxConcurrency !== 2) throw new Error();
 * ```
 */
export const N = {
  src: (id: string) => node(id, "source", "memory.collection", { data: [1] }),
  map: (id: string, extra: Partial<WorkflowNode> = {}) => ({
    ...node(id, "transform", "map", { expression: "value" }),
    ...extra,
  }),
  sink: (id: string) => node(id, "sink", "memory.collect", {}),
  cond: (id: string) => node(id, "control", "condition", { condition: "true" }),
  delay: (id: string, durationMs: number, extra: Partial<WorkflowNode> = {}) => ({
    ...node(id, "control", "delay", { durationMs }),
    ...extra,
  }),
  wait: (id: string, name: string) => node(id, "control", "signal.wait", { name }),
  /** A `switch` with one case per handle. */
  switch: (id: string, handles: string[]) =>
    node(id, "control", "switch", { cases: handles.map((handle, i) => ({ handle, when: `value > ${i}` })) }),
  terminate: (id: string, status: "completed" | "failed", reason = "stop here") =>
    node(id, "control", "terminate", { status, reason }),
  foreach: (id: string, config: Record<string, unknown> = {}) =>
    node(id, "control", "foreach", { workflow: "child", ...config }),
  sub: (id: string, config: Record<string, unknown> = {}) =>
    node(id, "control", "workflow.run", { workflow: "child", ...config }),
};

/**
 * An edge, with a source handle when given.
 *
 * @example
 * ```ts
 * import { edge } from "./testing_plans.ts";
 * if (edge("a", "b", "true").sourceHandle !== "true") throw new Error();
 * ```
 */
export const edge = (source: string, target: string, sourceHandle?: string): WorkflowEdge =>
  sourceHandle === undefined ? { source, target } : { source, target, sourceHandle };

/** Workflow-level fields of a test plan. */
export interface PlanExtra {
  id?: string;
  version?: number;
  timeoutMs?: number;
  concurrency?: { key: string; limit: number };
}

/**
 * Validates a workflow (as the API does) and compiles it; throws with the problems if it is invalid.
 *
 * @example
 * ```ts
 * import { buildPlan, edge, N } from "./testing_plans.ts";
 * const plan = buildPlan([N.src("a"), N.sink("b")], [edge("a", "b")], { version: 2 });
 * if (plan.version !== 2 || plan.nodes.length !== 2) throw new Error();
 * ```
 */
export function buildPlan(nodes: WorkflowNode[], edges: WorkflowEdge[], extra: PlanExtra = {}): Plan {
  const { version = 1, id = "wf", ...fields } = extra;
  const result = validateWorkflow({ id, name: id, nodes, edges, ...fields });
  if (!result.ok) throw new Error(`invalid test workflow: ${JSON.stringify(result.problems)}`);
  return compilePlan(result.workflow, version);
}

/**
 * `Type(nodeId)` for node events, `Type` otherwise: short enough to compare whole histories.
 *
 * @example
 * ```ts
 * import { label } from "./testing_plans.ts";
 * if (label({ type: "NodeScheduled", v: 1, seq: 2, at: 0, nodeId: "a" }) !== "NodeScheduled(a)") throw new Error();
 * ```
 */
export function label(e: ExecutionEvent): string {
  return "nodeId" in e ? `${e.type}(${e.nodeId})` : e.type;
}

/**
 * Mimics the runtime: decides a command at `now`, folds the events in with `evolve` (with the plans of
 * every version it migrated to), then starts every scheduled node (unless `autoStart` is off). Completions,
 * failures, timers and child reports are sent by the test.
 *
 * @example
 * ```ts
 * import { buildPlan, N, Run } from "./testing_plans.ts";
 * const run = new Run(buildPlan([N.src("a")], []));
 * run.ok({ type: "Start", input: null });
 * run.ok(run.complete("a"), 1100);
 * if (run.state.status !== "completed") throw new Error(run.state.status ?? "null");
 * ```
 */
export class Run {
  state: ExecutionState;
  readonly events: ExecutionEvent[] = [];
  now = 1000;
  /** The plans of every version seen, for `ExecutionMigrated`. */
  readonly plans = new Map<number, Plan>();
  readonly planOf = (version: number): Plan | undefined => this.plans.get(version);

  constructor(readonly plan: Plan, readonly autoStart = true, readonly executionId = "ex-1") {
    this.state = initialState(executionId, plan);
    this.plans.set(plan.version, plan);
  }

  /** Decides `command` (at `at`, if given), applies the events and starts what got scheduled. */
  send(command: Command, at?: number): Decision {
    if (at !== undefined) {
      if (at < this.now) throw new Error(`time goes forward: ${at} < ${this.now}`);
      this.now = at;
    }
    if (command.type === "Migrate") this.plans.set(command.plan.version, command.plan);
    const decision = decide(this.state, command, this.now);
    if (decision.ok) {
      this.apply(decision.events);
      if (this.autoStart) this.startScheduled();
    }
    return decision;
  }

  /** Sends `command`, throws unless it was accepted, and returns the events it caused (auto starts excluded). */
  ok(command: Command, at?: number): ExecutionEvent[] {
    const decision = this.send(command, at);
    if (!decision.ok) {
      throw new Error(`${command.type} rejected: ${decision.rejection.code} ${decision.rejection.message}`);
    }
    return decision.events;
  }

  /** Like `ok`, but returns the labels of the events, auto starts included. */
  labels(command: Command, at?: number): string[] {
    const from = this.events.length;
    this.ok(command, at);
    return this.events.slice(from).map(label);
  }

  /** Sends `command`, throws unless it was refused, and returns the refusal. */
  rejected(command: Command, at?: number): Extract<Decision, { ok: false }>["rejection"] {
    const decision = this.send(command, at);
    if (decision.ok) throw new Error(`expected a rejection, got ${decision.events.map(label).join()}`);
    return decision.rejection;
  }

  /** Starts every scheduled node (none while paused). */
  startScheduled(): void {
    for (let work = pendingWork(this.state); work.toStart.length > 0; work = pendingWork(this.state)) {
      for (const nodeId of work.toStart) {
        if (this.state.status !== "running") return; // a terminate node ended it
        const decision = decide(this.state, { type: "StartNode", nodeId }, this.now);
        if (!decision.ok || decision.events.length === 0) throw new Error(`StartNode ${nodeId} did nothing`);
        this.apply(decision.events);
      }
    }
  }

  apply(events: readonly ExecutionEvent[]): void {
    for (const e of events) {
      this.state = evolve(this.state, e, this.planOf);
      this.events.push(e);
    }
  }

  attempt(nodeId: string): number {
    return this.state.nodes[nodeId].attempts;
  }

  complete(nodeId: string, handle?: string): CompleteNodeCommand {
    const attempt = this.attempt(nodeId);
    return {
      type: "CompleteNode",
      nodeId,
      attempt,
      outputRef: `${nodeId}@${attempt}`,
      recordsProcessed: 1,
      recordsEmitted: 1,
      ...(handle === undefined ? {} : { handle }),
    };
  }

  fail(nodeId: string, retryable: boolean, code = "boom"): Command {
    return {
      type: "FailNode",
      nodeId,
      attempt: this.attempt(nodeId),
      error: { code, message: `${nodeId} failed` },
      retryable,
    };
  }
}

/**
 * Reads choices from a list of numbers, round and round (an empty list gives zeros).
 *
 * @example
 * ```ts
 * import { Picker } from "./testing_plans.ts";
 * const p = new Picker([7, 2]);
 * if (p.next(5) !== 2 || p.next(5) !== 2 || p.next(5) !== 2) throw new Error();
 * ```
 */
export class Picker {
  #i = 0;
  constructor(readonly choices: readonly number[]) {}
  /** A number in `[0, n)`. */
  next(n: number): number {
    if (this.choices.length === 0 || n <= 1) return 0;
    return this.choices[this.#i++ % this.choices.length] % n;
  }
  /** One of `items`. */
  of<T>(items: readonly T[]): T {
    return items[this.next(items.length)];
  }
  /** True with probability about `percent`%. */
  chance(percent: number): boolean {
    return this.next(100) < percent;
  }
}

/** What a random plan may hold. */
export interface RandomPlanOptions {
  /** Most nodes (default 10). */
  maxNodes?: number;
  /** Node timeouts (which can fail an attempt while the driver waits): default true. */
  timeouts?: boolean;
  /** `terminate` nodes may end the run as failed: default true. */
  failingTerminate?: boolean;
  /** `terminate` nodes at all: default true. */
  terminate?: boolean;
}

type Kind =
  | "source"
  | "map"
  | "condition"
  | "switch"
  | "delay"
  | "signal"
  | "foreach"
  | "sub"
  | "terminate"
  | "sink";

const KIND_WEIGHTS: readonly [Kind, number][] = [
  ["source", 1],
  ["map", 4],
  ["condition", 1],
  ["switch", 1],
  ["delay", 1],
  ["signal", 1],
  ["foreach", 2],
  ["sub", 1],
  ["terminate", 1],
  ["sink", 2],
];

/** The case handles of random switches (`default` is the third way out). */
const SWITCH_CASES = ["a", "b"];

function pickKind(pick: Picker, terminate: boolean): Kind {
  const kinds = KIND_WEIGHTS.filter(([k]) => terminate || k !== "terminate");
  let x = pick.next(kinds.reduce((sum, [, w]) => sum + w, 0));
  for (const [kind, weight] of kinds) {
    if (x < weight) return kind;
    x -= weight;
  }
  return "map";
}

function randomNode(id: string, kind: Kind, pick: Picker, o: Required<RandomPlanOptions>): WorkflowNode {
  let n: WorkflowNode;
  switch (kind) {
    case "source":
      n = N.src(id);
      break;
    case "map":
      n = N.map(id);
      break;
    case "condition":
      n = N.cond(id);
      break;
    case "switch":
      n = N.switch(id, SWITCH_CASES);
      break;
    case "delay":
      n = N.delay(id, pick.next(1000));
      break;
    case "signal":
      n = N.wait(id, `sig${pick.next(2)}`);
      break;
    case "foreach": {
      const cont = pick.chance(50);
      n = N.foreach(id, {
        maxConcurrency: 1 + pick.next(4),
        maxItems: pick.next(8),
        failurePolicy: cont ? "continue" : "fail_fast",
        ...(cont && pick.chance(70) ? { toleratedFailureCount: pick.next(3) } : {}),
      });
      break;
    }
    case "sub":
      n = N.sub(id);
      break;
    case "terminate":
      n = N.terminate(id, o.failingTerminate && pick.chance(50) ? "failed" : "completed");
      break;
    case "sink":
      n = N.sink(id);
      break;
  }
  if (pick.chance(40)) n.retry = { maxAttempts: 1 + pick.next(3), initialIntervalMs: pick.next(300) };
  if (o.timeouts && pick.chance(15)) n.timeoutMs = 1 + pick.next(1500);
  return n;
}

/**
 * A random valid workflow definition of every kind the decider treats apart (tasks, condition, switch,
 * delay, signal, foreach, workflow.run, terminate): node `n0` is a source; edges go from lower to higher
 * index only; condition and switch edges leave by one of their handles.
 *
 * @example
 * ```ts
 * import { buildPlan, Picker, randomDefinition } from "./testing_plans.ts";
 * const def = randomDefinition(new Picker([3, 1, 4, 1, 5, 9, 2, 6]));
 * if (buildPlan(def.nodes, def.edges).nodes[0].id !== "n0") throw new Error();
 * ```
 */
export function randomDefinition(
  pick: Picker,
  options: RandomPlanOptions = {},
): Pick<WorkflowDefinition, "nodes" | "edges"> {
  const o: Required<RandomPlanOptions> = {
    maxNodes: 10,
    timeouts: true,
    failingTerminate: true,
    terminate: true,
    ...options,
  };
  const count = 1 + pick.next(o.maxNodes);
  const kinds: Kind[] = [];
  const nodes: WorkflowNode[] = [];
  for (let i = 0; i < count; i++) {
    kinds.push(i === 0 ? "source" : pickKind(pick, o.terminate));
    nodes.push(randomNode(`n${i}`, kinds[i], pick, o));
  }
  const edges: WorkflowEdge[] = [];
  const seen = new Set<string>();
  const hasOutputs = (k: Kind) => k !== "sink" && k !== "terminate";
  for (let i = 1; i < count; i++) {
    if (kinds[i] === "source") continue;
    let parents = Array.from({ length: 1 + pick.next(3) }, () => pick.next(i)).filter((p) =>
      hasOutputs(kinds[p])
    );
    if (parents.length === 0) parents = [0];
    for (const p of parents) {
      const handle = kinds[p] === "condition"
        ? pick.of(["true", "false"])
        : kinds[p] === "switch"
        ? pick.of([...SWITCH_CASES, "default"])
        : undefined;
      const key = `${p}>${i}>${handle}`;
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push(edge(`n${p}`, `n${i}`, handle));
    }
  }
  return { nodes, edges };
}
