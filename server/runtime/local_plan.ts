/**
 * Runs a plan whose nodes are all local (`Plan.allLocal`: no effect outside the execution) to its end, in
 * process and with no storage. The core decides every step as it would for a stored execution; the local
 * executors run at once; durable timers (a retry's back-off, say) fire on a virtual clock that jumps to
 * them, so the outcome is the one a stored execution would reach, without the wait. Nothing is recorded:
 * such a run has no execution id, no events and no stored outputs — its parent (an inline `foreach` or
 * `workflow.run` item, `children.ts`) keeps only its output.
 *
 * @module
 */
import { type Command, decide, type Decision, edgeLive } from "../../core/decide.ts";
import type { ErrorInfo } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { Plan, PlanNode } from "../../core/plan.ts";
import { completion } from "./completion.ts";
import { type ExecutionState, type ExecutionStatus, initialState } from "../../core/state.ts";
import { pendingTimers, pendingWork } from "../../core/timers.ts";
import {
  type Executor,
  NodeError,
  type NodeInputs,
  type NodeResult,
  type NodeServices,
  type OutputLimits,
} from "../executors/executor.ts";
import { enforceCount } from "../executors/limits.ts";

/** What a local run needs: the executors, the services handed to them (local kinds use none), the bounds. */
export interface LocalRunDeps {
  executorFor: (type: string, nodeType: string) => Executor | undefined;
  services: NodeServices;
  /** Per node: more records fail the node (`output_too_large`), as for a stored execution. */
  limits: OutputLimits;
}

/** How one local run ended, and its output. */
export interface LocalRun {
  status: ExecutionStatus;
  error: ErrorInfo | null;
  /** The records of its `memory.collect` sinks, concatenated in node order; empty unless it completed. */
  output: Json[];
}

/** What identifies a run to its executors (it has no execution of its own). */
export interface LocalRunContext {
  /** A name for the run, given to executors as their execution id (never stored, never an execution). */
  runId: string;
  /** The start of its virtual clock (epoch ms). */
  now: number;
  /** Aborted when the run's owner gives up (the parent ended). */
  signal: AbortSignal;
}

const NO_INPUT: NodeInputs = Object.freeze({ records: [], byParent: {}, byHandle: {} }) as NodeInputs;

/** The decisions a run of `plan` may take at most: a start, and per attempt a start, an end and a timer. */
function stepBound(plan: Plan): number {
  let attempts = 0;
  for (const node of plan.nodes) attempts += Math.max(1, node.retry.maxAttempts);
  return 8 + plan.nodes.length * 2 + attempts * 4;
}

/** What every run of one plan with one set of executors shares, worked out once (see {@link prepared}). */
interface Prepared {
  /** Each node's executor (by plan id). */
  executors: Map<string, Executor | undefined>;
  maxSteps: number;
}

/** Per executor lookup, per plan: a foreach's items all run the same plan with the same executors. */
const PREPARED = new WeakMap<LocalRunDeps["executorFor"], WeakMap<Plan, Prepared>>();

function prepared(plan: Plan, executorFor: LocalRunDeps["executorFor"]): Prepared {
  let byPlan = PREPARED.get(executorFor);
  if (byPlan === undefined) PREPARED.set(executorFor, byPlan = new WeakMap());
  let p = byPlan.get(plan);
  if (p === undefined) {
    const executors = new Map<string, Executor | undefined>();
    for (const node of plan.nodes) executors.set(node.id, executorFor(node.type, node.nodeType));
    byPlan.set(plan, p = { executors, maxSteps: stepBound(plan) });
  }
  return p;
}

/** A local plan's run: the state, the outputs of its completed nodes by ref, its virtual clock. */
class Run {
  state: ExecutionState;
  readonly outputs = new Map<string, Json[]>();
  now: number;
  steps = 0;
  readonly #prepared: Prepared;

  constructor(plan: Plan, readonly ctx: LocalRunContext, readonly deps: LocalRunDeps) {
    this.state = initialState(ctx.runId, plan);
    this.now = ctx.now;
    this.#prepared = prepared(plan, deps.executorFor);
  }

  /** Decides a command; an assertion when the core refuses it or the run does not converge. */
  apply(command: Command): void {
    if (++this.steps > this.#prepared.maxSteps) {
      throw new Error(`assertion: local run of ${this.state.plan.workflowId} did not converge`);
    }
    // The run's state is its own (nothing else reads it): decided on in place, not copied per decision.
    const d: Decision = decide(this.state, command, this.now, { inPlace: true });
    if (!d.ok) throw new Error(`assertion: local run refused ${command.type}: ${d.rejection.message}`);
    this.state = d.state;
  }

  /** The records a completed node emitted (a pass-through node's are its inputs). */
  outputOf(node: PlanNode): Json[] {
    const ref = this.state.nodes[node.id].outputRef;
    if (ref === null) return this.inputsOf(node).records;
    const records = this.outputs.get(ref);
    if (records === undefined) throw new Error(`assertion: local output ${ref} is missing`);
    return records;
  }

  inputsOf(node: PlanNode): NodeInputs {
    const state = this.state;
    if (node.parents.length === 0) return NO_INPUT;
    if (node.parents.length === 1) {
      const edge = node.parents[0];
      if (!edgeLive(state, edge)) return NO_INPUT;
      const records = this.outputOf(state.plan.byId.get(edge.source)!);
      return { records, byParent: { [edge.source]: records }, byHandle: { [edge.targetHandle]: records } };
    }
    const inputs: NodeInputs = { records: [], byParent: {}, byHandle: {} };
    for (const edge of node.parents) {
      if (!edgeLive(state, edge)) continue;
      const records = this.outputOf(state.plan.byId.get(edge.source)!);
      for (const r of records) inputs.records.push(r);
      (inputs.byParent[edge.source] ??= []).push(...records);
      (inputs.byHandle[edge.targetHandle] ??= []).push(...records);
    }
    return inputs;
  }

  /**
   * Starts one attempt of a local node: its executor's promise and the inputs it was given. A missing
   * executor throws here, as the executor's own failure rejects the promise: both end the attempt failed.
   */
  execute(node: PlanNode, attempt: number): { result: Promise<NodeResult>; inputs: NodeInputs } {
    const { deps, ctx } = this;
    const executor = this.#prepared.executors.get(node.id);
    if (!executor) throw new NodeError("no_executor", `no executor for ${node.type}/${node.nodeType}`, false);
    const inputs = this.inputsOf(node);
    const result = executor({
      executionId: ctx.runId,
      workflowId: this.state.plan.workflowId,
      nodeId: node.id,
      attempt,
      idempotencyKey: `${ctx.runId}:${node.id}`,
      config: node.config,
      inputs,
      executionInput: this.state.input,
      limits: deps.limits,
      signal: ctx.signal,
      services: deps.services,
    });
    return { result, inputs };
  }

  /**
   * Decides the end of an attempt: its result (checked against the bounds and handles), or, when `threw`,
   * why it failed (`err`).
   */
  end(
    node: PlanNode,
    attempt: number,
    out: NodeResult,
    inputs: NodeInputs,
    threw: boolean,
    err: unknown,
  ): void {
    let command: Command | undefined;
    if (!threw) {
      try {
        command = this.#completion(node, attempt, out, inputs);
      } catch (e) {
        err = e;
      }
    }
    if (command === undefined) {
      const e = err instanceof NodeError ? err : undefined;
      command = {
        type: "FailNode",
        nodeId: node.id,
        attempt,
        error: { code: e?.code ?? "node_error", message: String((err as Error)?.message ?? err) },
        retryable: e?.retryable ?? true,
      };
    }
    this.apply(command);
  }

  /** The `CompleteNode` of a result within the bounds (else it throws the `NodeError` that fails it). */
  #completion(node: PlanNode, attempt: number, out: NodeResult, inputs: NodeInputs): Command {
    enforceCount(out.records.length, this.deps.limits, node.id);
    const command = completion(node, attempt, out, inputs.records.length);
    this.outputs.set(command.outputRef!, out.records);
    return command;
  }

  /** The records of the `memory.collect` sinks, in node order. */
  collected(): Json[] {
    const out: Json[] = [];
    for (const node of this.state.plan.nodes) {
      if (!isCollectSink(node)) continue;
      const ns = this.state.nodes[node.id];
      if (ns.status !== "completed") continue;
      for (const r of this.outputOf(node)) out.push(r);
    }
    return out;
  }
}

/**
 * Whether a node's records make up its execution's output (what a parent's `workflow.run` or `foreach` node
 * gets from it): a `memory.collect` sink.
 *
 * @example
 * ```ts
 * import { isCollectSink } from "./local_plan.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * const plan = compilePlan({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "out", type: "sink", nodeType: "memory.collect", config: {} }] }, 1);
 * if (!isCollectSink(plan.nodes[0])) throw new Error();
 * ```
 */
export function isCollectSink(node: PlanNode): boolean {
  return node.type === "sink" && node.nodeType === "memory.collect";
}

/**
 * Runs an all-local plan with `input` as its execution input to its end. Throws only on a broken invariant
 * (a plan that is not all local, a run that does not converge); a failing node ends the run `failed`.
 *
 * @example
 * ```ts
 * import { runLocalPlan } from "./local_plan.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * import { executorFor } from "../executors/registry.ts";
 * import { realServices } from "../executors/services.ts";
 * const plan = compilePlan({ id: "double", name: "double", nodes: [
 *   { id: "one", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 1, step: 1 } },
 *   { id: "x2", type: "transform", nodeType: "map", config: { expression: "$input * 2" } },
 *   { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
 * ], edges: [{ source: "one", target: "x2" }, { source: "x2", target: "out" }] }, 1);
 * const services = realServices();
 * const run = await runLocalPlan(plan, 21, { runId: "r", now: 0, signal: new AbortController().signal }, {
 *   executorFor, services, limits: { maxRecords: 100, maxBytes: 1 << 20 },
 * });
 * await services.close();
 * if (run.status !== "completed" || run.output[0] !== 42) throw new Error(JSON.stringify(run));
 * ```
 */
export async function runLocalPlan(
  plan: Plan,
  input: Json,
  ctx: LocalRunContext,
  deps: LocalRunDeps,
): Promise<LocalRun> {
  if (!plan.allLocal) throw new Error(`assertion: ${plan.workflowId}@${plan.version} is not all local`);
  const run = new Run(plan, ctx, deps);
  run.apply({ type: "Start", input });
  while (run.state.status === "running") {
    const work = pendingWork(run.state);
    if (work.toStart.length > 0) {
      for (const nodeId of work.toStart) run.apply({ type: "StartNode", nodeId });
      continue;
    }
    if (work.toRun.length > 0) {
      for (const { nodeId, attempt } of work.toRun) {
        if (run.state.status !== "running") break;
        // One attempt: awaited here rather than in an async method (a promise and a turn less per node).
        const node = run.state.plan.byId.get(nodeId)!;
        let out: NodeResult | undefined, inputs = NO_INPUT, threw = false, err: unknown;
        try {
          const started = run.execute(node, attempt);
          inputs = started.inputs;
          out = await started.result;
        } catch (e) {
          threw = true;
          err = e;
        }
        run.end(node, attempt, out!, inputs, threw, err);
      }
      continue;
    }
    // Nothing to start or run: only a timer (a retry's back-off, the execution timeout) moves it on.
    const timer = pendingTimers(run.state)[0];
    if (timer === undefined) throw new Error(`assertion: local run of ${plan.workflowId} is stuck`);
    run.now = Math.max(run.now, timer.dueAt);
    run.apply({ type: "FireTimer", timerId: timer.id });
  }
  const state = run.state;
  return {
    status: state.status!,
    error: state.error,
    output: state.status === "completed" ? run.collected() : [],
  };
}
