/**
 * Node attempts: running a node's executor on an execution's state with its inputs, bounded by attempt slots,
 * and turning its end into a command (with the records to store).
 *
 * @module
 */
import { edgeLive } from "../../core/decide.ts";
import type { Json } from "../../core/json.ts";
import { type PlanNode, planNode } from "../../core/plan.ts";
import type { ExecutionState } from "../../core/state.ts";
import type { ExecutionLog } from "../../storage/storage.ts";
import { type Executor, type NodeContext, NodeError, type NodeInputs } from "../executors/executor.ts";
import { enforceLimits } from "../executors/limits.ts";
import { NodeSecrets, type PreparedConfig, scrubbedServices, type Scrubber } from "../executors/secrets.ts";
import type { Delivery } from "../executors/broker.ts";
import { type AttemptResult, type ExecutionActor, outputCache } from "./actor.ts";
import { completion } from "./completion.ts";
import { OutputCache } from "./output_cache.ts";
import { settleDeliveries } from "./deliveries.ts";
import type { LiveExecutions } from "./live.ts";
import { type AttemptOutcome, kindOf, type Observation } from "./observer.ts";
import type { EngineLimits, EngineOptions } from "./options.ts";

/** What attempts need. */
export interface AttemptDeps {
  opts: Pick<EngineOptions, "executorFor" | "services" | "secrets">;
  storage: Pick<ExecutionLog, "getOutput">;
  limits: EngineLimits;
  live: LiveExecutions;
  observation: Observation;
  /** Hands a finished attempt's result to its actor's inbox. */
  deliver: (executionId: string, actor: ExecutionActor, result: AttemptResult) => void;
}

/** Runs attempts, at most `limits.maxConcurrentAttempts` at once (local ones run inside the pump, unbounded). */
export class AttemptRunner {
  #slots: number;
  #queue: (() => void)[] = [];
  readonly #secrets: NodeSecrets;
  /**
   * Outputs of executions not live here, read from storage (the output route's pages of an ended one): the
   * last few, at most twice `maxRecords` records in all, so paging through a big output reads it once.
   */
  readonly #read: OutputCache;

  constructor(private readonly deps: AttemptDeps) {
    this.#slots = deps.limits.maxConcurrentAttempts;
    this.#secrets = new NodeSecrets(deps.opts.secrets);
    this.#read = new OutputCache(2 * deps.limits.maxRecords);
  }

  /**
   * Runs an attempt in the background once a slot is free, and delivers its result unless it was aborted or
   * the actor retired meanwhile.
   */
  async start(
    executionId: string,
    actor: ExecutionActor,
    node: PlanNode,
    attempt: number,
    controller: AbortController,
  ): Promise<void> {
    await this.#acquireSlot();
    let result: AttemptResult;
    try {
      if (controller.signal.aborted) return;
      result = await this.run(executionId, actor, actor.state, node, attempt, controller.signal);
    } finally {
      this.#releaseSlot();
    }
    if (controller.signal.aborted || this.deps.live.actors.get(executionId) !== actor) {
      // Not delivered, so never recorded: what a consumer took goes back to its broker.
      settleDeliveries([result], "release", this.#settleFailed(executionId));
      return;
    }
    // The attempt stays in `inflight` until its result is decided: `react` drops it once the node is no
    // longer running it. Dropping it here let a `react` of another append (while this result waits in
    // the inbox) see the node still running without an attempt in flight and run the attempt again.
    this.deps.deliver(executionId, actor, result);
  }

  async #acquireSlot(): Promise<void> {
    if (this.#slots > 0) {
      this.#slots--;
      return;
    }
    await new Promise<void>((resolve) => this.#queue.push(resolve));
  }

  #releaseSlot(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#slots++;
  }

  /**
   * Runs one attempt of a node's executor on `state` and turns its end into a command (with the records to
   * store). `staged` holds outputs not committed yet (local nodes run inside one pump).
   */
  async run(
    executionId: string,
    actor: ExecutionActor,
    state: ExecutionState,
    node: PlanNode,
    attempt: number,
    signal: AbortSignal,
    staged?: ReadonlyMap<string, Json[]>,
  ): Promise<AttemptResult> {
    const obs = this.deps.observation.observer;
    const kind = obs ? kindOf(node) : "";
    let observed: unknown = undefined;
    let startedAt = -1;
    let outcome: AttemptOutcome = "failed";
    let result: AttemptResult;
    let prepared: PreparedConfig | undefined;
    let delivery: Delivery | undefined;
    try {
      if (obs) {
        observed = obs.attemptStarted?.(kind, { executionId, nodeId: node.id, attempt }, actor.observed);
        startedAt = performance.now();
      }
      const executor = this.deps.opts.executorFor(node.type, node.nodeType);
      if (!executor) {
        throw new NodeError("no_executor", `no executor for ${node.type}/${node.nodeType}`, false);
      }
      // Secret references resolved, and what the attempt must not show: its secrets, its inline credentials.
      prepared = this.#secrets.prepare(node.config);
      const inputs = await this.inputsOf(state, actor, node, staged);
      const context = this.#context(executionId, state, node, attempt, inputs, signal, prepared);
      const traceparent = obs?.traceparent?.(observed);
      if (traceparent !== undefined) context.traceparent = traceparent;
      const scrub = prepared.scrub;
      const run = scrub ? () => scrubbedRun(executor(context), scrub) : () => executor(context);
      const out = await (obs?.runAttempt ? obs.runAttempt(observed, run) : run());
      delivery = out.delivery;
      const { maxRecords, maxBytes } = this.deps.limits;
      const bytes = enforceLimits(out.records, { maxRecords, maxBytes }, node.id);
      const command = completion(node, attempt, out, inputs.records.length);
      result = {
        command,
        outputs: [{ ref: command.outputRef!, records: out.records }],
        bytes,
      };
      if (delivery) result.delivery = delivery;
      outcome = "completed";
    } catch (err) {
      // Past a bound, or not a valid end: what a consumer took was not recorded and goes back.
      if (delivery) settleDeliveries([{ delivery }], "release", this.#settleFailed(executionId));
      result = failed(node, attempt, err, prepared?.scrub);
    }
    if (startedAt >= 0) {
      obs!.attemptEnded?.(
        kind,
        signal.aborted ? "aborted" : outcome,
        performance.now() - startedAt,
        observed,
      );
    }
    return result;
  }

  /** Where a failed settle of `executionId`'s delivery is told. */
  #settleFailed(executionId: string) {
    return (action: "commit" | "release", err: unknown) =>
      this.deps.observation.settleFailed(executionId, action, err);
  }

  /** What an executor is handed. */
  #context(
    executionId: string,
    state: ExecutionState,
    node: PlanNode,
    attempt: number,
    inputs: NodeInputs,
    signal: AbortSignal,
    prepared: PreparedConfig,
  ): NodeContext {
    const { services } = this.deps.opts;
    return {
      executionId,
      workflowId: state.plan.workflowId,
      nodeId: node.id,
      attempt,
      idempotencyKey: `${executionId}:${node.id}`,
      retryDeclared: node.retryDeclared,
      config: prepared.config,
      inputs,
      executionInput: state.input,
      limits: { maxRecords: this.deps.limits.maxRecords, maxBytes: this.deps.limits.maxBytes },
      signal,
      services: prepared.scrub ? scrubbedServices(services, prepared.scrub) : services,
    };
  }

  /** The records flowing into a node: its live parents' outputs (see `outputOf`), in edge order. */
  async inputsOf(
    state: ExecutionState,
    actor: ExecutionActor | undefined,
    node: PlanNode,
    staged?: ReadonlyMap<string, Json[]>,
  ): Promise<NodeInputs> {
    if (node.parents.length === 1) {
      // One parent (a chain): its records are the input as they are, not copied (records are immutable).
      const edge = node.parents[0];
      if (!edgeLive(state, edge)) return { records: [], byParent: {}, byHandle: {} };
      const records = await this.outputOf(state, actor, planNode(state.plan, edge.source), staged);
      return { records, byParent: { [edge.source]: records }, byHandle: { [edge.targetHandle]: records } };
    }
    const inputs: NodeInputs = { records: [], byParent: {}, byHandle: {} };
    for (const edge of node.parents) {
      if (!edgeLive(state, edge)) continue;
      const records = await this.outputOf(state, actor, planNode(state.plan, edge.source), staged);
      for (const r of records) inputs.records.push(r);
      (inputs.byParent[edge.source] ??= []).push(...records);
      (inputs.byHandle[edge.targetHandle] ??= []).push(...records);
    }
    return inputs;
  }

  /**
   * The records a completed node emitted (a pass-through node's are its inputs): staged in this pump, cached
   * on the actor, or read from storage (and cached).
   */
  async outputOf(
    state: ExecutionState,
    actor: ExecutionActor | undefined,
    node: PlanNode,
    staged?: ReadonlyMap<string, Json[]>,
  ): Promise<Json[]> {
    const ns = state.nodes[node.id];
    if (ns.signalRecords !== null) return ns.signalRecords; // a signal's payload
    const ref = ns.outputRef;
    if (ref === null) return (await this.inputsOf(state, actor, node, staged)).records;
    // Not live: keyed by the execution's start too, as an id may come back (a key's run after retention).
    const readKey = actor ? "" : `${state.executionId}\u0000${state.startedAt}\u0000${ref}`;
    const cached = staged?.get(ref) ?? (actor ? actor.outputs?.get(ref) : this.#read.get(readKey));
    if (cached) return cached;
    const stored = await this.deps.storage.getOutput(state.executionId, ref);
    if (!stored) throw new Error(`assertion: output ${ref} of ${state.executionId} is missing`);
    if (actor) outputCache(actor, this.deps.limits).set(ref, stored);
    else this.#read.set(readKey, stored);
    return stored;
  }
}

/** An executor's run whose records and error message show none of what `scrub` hides. */
async function scrubbedRun(run: ReturnType<Executor>, scrub: Scrubber): ReturnType<Executor> {
  try {
    const out = await run;
    return { ...out, records: scrub.json(out.records) };
  } catch (err) {
    const e = err instanceof NodeError ? err : undefined;
    const message = scrub.text(String((err as Error)?.message ?? err));
    throw new NodeError(e?.code ?? "node_error", message, e?.retryable ?? true);
  }
}

/**
 * The command of an attempt that threw: a `NodeError` says its code and whether a retry may help. The
 * message shows none of what `scrub` hides.
 */
function failed(node: PlanNode, attempt: number, err: unknown, scrub?: Scrubber): AttemptResult {
  const e = err instanceof NodeError ? err : undefined;
  const message = String((err as Error)?.message ?? err);
  return {
    command: {
      type: "FailNode",
      nodeId: node.id,
      attempt,
      error: { code: e?.code ?? "node_error", message: scrub ? scrub.text(message) : message },
      retryable: e?.retryable ?? true,
    },
    bytes: 0,
  };
}
