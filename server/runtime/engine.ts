/**
 * The node runtime: it runs executions. Each live execution is an actor that turns commands into events with
 * the pure decider, appends them (fenced) to storage, and only then acts on them: arms durable timers, starts
 * node attempts, answers its callers. Clock, ids, storage and node effects are injected, so the simulator
 * runs this same code on a virtual clock.
 *
 * `Engine` is the facade — submit, reads, commands — over one piece per job: the actor's pump
 * (`pump.ts`, `batch.ts`), attempts (`attempts.ts`), shard ownership and recovery (`shards.ts`), failed
 * appends (`append_failures.ts`), the live registry (`live.ts`) and the observer hooks (`observer.ts`).
 *
 * @module
 */
import { type Command, decide } from "../../core/decide.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import { DEFAULT_SHARD_COUNT, executionIdFor, keyedExecutionId, shardOf } from "../../core/ids.ts";
import type { Json } from "../../core/json.ts";
import type { Plan } from "../../core/plan.ts";
import { type ExecutionState, initialState } from "../../core/state.ts";
import { type ExecutionView, executionView } from "../../core/view.ts";
import type { StoredWorkflow } from "../../storage/storage.ts";
import { type AttemptResult, ExecutionActor, type Outcome } from "./actor.ts";
import { AppendFailures } from "./append_failures.ts";
import { AttemptRunner } from "./attempts.ts";
import { ConcurrencyGate, concurrencySlot } from "./concurrency.ts";
import { ChildRuntime } from "./children.ts";
import { LiveExecutions } from "./live.ts";
import { Observation } from "./observer.ts";
import {
  DEFAULT_ENGINE_LIMITS,
  type EngineError,
  type EngineLimits,
  type EngineOptions,
  type Result,
  type Submission,
} from "./options.ts";
import { PlanCache, replayStored } from "./plans.ts";
import { ActorPump } from "./pump.ts";
import { type ShardListener, ShardOwnership } from "./shards.ts";
import { Steering } from "./steering.ts";
import { TimerQueue } from "./timer_queue.ts";

export * from "./options.ts";
export type { AttemptOutcome, EngineObserver, ObservedAttempt, ObservedExecution } from "./observer.ts";
export type { ShardListener } from "./shards.ts";

/**
 * The runtime of one member. Start it, submit executions, read them back.
 *
 * @example
 * ```ts
 * import { Engine } from "./engine.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { systemClock } from "./clock.ts";
 * import { silentLogger } from "./logger.ts";
 * import { executorFor } from "../executors/registry.ts";
 * import { realServices } from "../executors/services.ts";
 *
 * const storage = new MemoryStorage();
 * const definition = {
 *   id: "hello",
 *   name: "hello",
 *   nodes: [{ id: "one", type: "source" as const, nodeType: "sequence.numbers", config: { start: 1, end: 3 } }],
 *   edges: [],
 * };
 * const put = await storage.putWorkflow(definition, "hash-of-hello", 0, Date.now());
 * if (!put.ok) throw new Error("stored");
 * const engine = new Engine({
 *   storage,
 *   clock: systemClock,
 *   newId: () => crypto.randomUUID(),
 *   executorFor,
 *   services: realServices(),
 *   nodeName: "n1",
 *   log: silentLogger,
 * });
 * await engine.start();
 * const r = await engine.submit(put.workflow, { input: null });
 * if (!r.ok) throw new Error(r.error.message);
 * const view = await engine.wait(r.value.executionId, 5_000);
 * await engine.stop();
 * if (view?.status !== "completed") throw new Error(`ended ${view?.status}`);
 * ```
 */
export class Engine {
  /** The bounds in force (the defaults, overridden by `EngineOptions.limits`). */
  readonly limits: EngineLimits;
  /** Shards of the execution id space. */
  readonly shardCount: number;
  #live: LiveExecutions;
  #plans: PlanCache;
  #timers: TimerQueue;
  #attempts: AttemptRunner;
  #pump: ActorPump;
  #shards: ShardOwnership;
  /** Concurrency keys: admitted and queued runs per key (`concurrency.ts`). */
  #gate: ConcurrencyGate;
  #steering: Steering;
  #waiters = 0;
  #started = false;
  #sweepTimer: unknown = null;

  constructor(private readonly opts: EngineOptions) {
    const { clock, log, storage } = opts;
    const limits = this.limits = { ...DEFAULT_ENGINE_LIMITS, ...(opts.limits ?? {}) };
    this.shardCount = opts.shardCount ?? DEFAULT_SHARD_COUNT;
    const observation = new Observation(opts.observer, log, clock);
    const live = this.#live = new LiveExecutions(clock, observation);
    this.#plans = new PlanCache(storage, opts.catalog);
    this.#timers = new TimerQueue(clock, (executionId, timerId) => {
      const actor = live.actors.get(executionId);
      if (actor) {
        actor.armed?.delete(timerId);
        this.#pump.enqueue(executionId, actor, { command: { type: "FireTimer", timerId } });
      }
    });
    this.#gate = new ConcurrencyGate((id) => {
      const actor = live.actors.get(id);
      if (actor) this.#pump.enqueue(id, actor, { command: { type: "Admit" } });
    });
    const deliver = (id: string, actor: ExecutionActor, result: AttemptResult) =>
      this.#pump.enqueue(id, actor, result);
    this.#attempts = new AttemptRunner({ opts, storage, limits, live, observation, deliver });
    const failures = new AppendFailures({
      clock,
      log,
      live,
      observation,
      pump: (id, actor) => void this.#pump.pump(id, actor),
      releaseShard: (shard) => this.releaseShard(shard),
      recover: (id) => this.#shards.recover(id),
    });
    const children = new ChildRuntime({
      clock,
      log,
      limits,
      shardCount: this.shardCount,
      live,
      storage,
      plans: this.#plans,
      attempts: this.#attempts,
      local: { executorFor: opts.executorFor, services: opts.services, limits },
      enqueue: (id, actor, item) => this.#pump.enqueue(id, actor, item),
      submit: (workflow, sub) => this.submit(workflow, sub),
      state: (id) => this.state(id),
    });
    this.#pump = new ActorPump({
      clock,
      limits,
      appender: opts.appender ?? storage,
      live,
      observation,
      attempts: this.#attempts,
      timers: this.#timers,
      gate: this.#gate,
      failures,
      children,
    });
    this.#shards = new ShardOwnership({
      storage,
      clock,
      log,
      limits,
      nodeName: opts.nodeName,
      shardCount: this.shardCount,
      live,
      observation,
      plans: this.#plans,
      pump: this.#pump,
      gate: this.#gate,
      ended: (id) => children.ended(id),
      audit: () => children.audit(),
    });
    this.#steering = new Steering({
      storage,
      clock,
      limits,
      live,
      observation,
      pump: this.#pump,
      plans: this.#plans,
      epochs: this.#shards.epochs,
      state: (id) => this.state(id),
      command: (id, command) => this.#command(id, command),
    });
  }

  /** Whether `start()` finished: shards claimed and running executions recovered. */
  get ready(): boolean {
    return this.#started && !this.#live.stopped;
  }

  /** Executions live in this process. */
  get activeExecutions(): number {
    return this.#live.actors.size;
  }

  /** Timers armed. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Starts the engine. Standalone (the default), it claims every shard — a single node owns them all — and
   * recovers the executions still running. In a cluster (`claimAllShards: false`) it owns nothing until the
   * cluster hands it shards with `acquireShard`.
   */
  async start(opts: { claimAllShards?: boolean } = {}): Promise<void> {
    const recovered = (opts.claimAllShards ?? true) ? await this.#shards.claimAll() : 0;
    this.#started = true;
    this.opts.log.info("engine started", { shards: this.#shards.epochs.size, recovered });
    this.#scheduleSweep();
  }

  /** The shards this engine owns, with the epoch it holds each at. */
  get ownedShards(): ReadonlyMap<number, number> {
    return this.#shards.epochs;
  }

  /** Live executions per shard. */
  liveByShard(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const a of this.#live.actors.values()) {
      counts.set(a.fence.shard, (counts.get(a.fence.shard) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Takes over a shard the cluster assigned to this node at `epoch` (already claimed in storage): its running
   * executions are loaded and continued. Returns how many were recovered.
   */
  acquireShard(shard: number, epoch: number): Promise<number> {
    return this.#shards.acquire(shard, epoch);
  }

  /** Gives a shard up at once: its live executions stop here (their state is in storage). */
  releaseShard(shard: number): void {
    this.#shards.release(shard);
  }

  /**
   * Follows this engine's shards: `listener` is told of every shard held now, then of each taken up (after
   * its running executions were recovered) or given up (the scheduler's timers follow them).
   */
  onShards(listener: ShardListener): void {
    this.#shards.listen(listener);
  }

  /**
   * Whether an execution is running (live here, or as storage has it), and when it ended otherwise;
   * undefined when there is none. Cheaper than `view`: no replay.
   */
  async runState(executionId: string): Promise<{ running: boolean; endedAt: number | null } | undefined> {
    const state = this.#live.actors.get(executionId)?.state ?? this.#live.finished(executionId);
    if (state && state.status !== null) {
      return { running: state.status === "running", endedAt: state.endedAt };
    }
    const stored = await this.opts.storage.getExecution(executionId);
    return stored && { running: stored.status === "running", endedAt: stored.endTime };
  }

  #scheduleSweep(): void {
    if (this.#live.stopped) return;
    this.#sweepTimer = this.opts.clock.setTimer(this.limits.sweepIntervalMs, () => {
      this.sweep().catch((err) => this.opts.log.warn("sweep failed", { error: String(err) }))
        .finally(() => this.#scheduleSweep());
    });
  }

  /**
   * Maintenance: continues running executions of owned shards that are not live here (an append whose
   * acknowledgement was lost, say), then deletes, in bounded batches, ended executions past their retention
   * (their workflow's `retentionMs`, else the node's). Returns what it did.
   */
  sweep(): Promise<{ recovered: number; deleted: number }> {
    return this.#shards.sweep();
  }

  /** Stops timers and node attempts. Acknowledged work stays in storage for the next start. */
  stop(): Promise<void> {
    this.#live.stopped = true;
    if (this.#sweepTimer !== null) this.opts.clock.clearTimer(this.#sweepTimer);
    this.#timers.stop();
    this.#live.stopAll();
    this.#gate.clear();
    return Promise.resolve();
  }

  /** The plan of a workflow version, compiled once. */
  plan(workflowId: string, version: number): Promise<Plan | undefined> {
    return this.#plans.get(workflowId, version);
  }

  /**
   * The id of a new execution of `workflowId`: derived from its idempotency key when it has one (so a retry
   * finds the same execution, on whichever member it lands), else fresh. With a concurrency key, that id is
   * the suffix of one routed by the key (`keyedExecutionId`): every run of a key lands on its shard's owner,
   * which admits them. The one place an id is made.
   */
  newExecutionId(workflowId: string, idempotencyKey?: string, concurrencyKey?: string): string {
    const id = idempotencyKey !== undefined
      ? executionIdFor(workflowId, idempotencyKey)
      : `ex-${this.opts.newId()}`;
    return concurrencyKey === undefined ? id : keyedExecutionId(workflowId, concurrencyKey, id);
  }

  /**
   * Starts an execution of a stored workflow version. Acknowledged (resolved ok) only once its first events
   * are in storage. With an idempotency key, the same key returns the same execution (`created: false`).
   */
  async submit(
    workflow: StoredWorkflow,
    sub: Submission,
  ): Promise<Result<{ executionId: string; created: boolean }>> {
    if (!this.ready) return { ok: false, error: { code: "overloaded", message: "the engine is not ready" } };
    const plan = this.#plans.of(workflow);
    // The concurrency key first: from the duplicate check to the dispatch below nothing may wait.
    const keyed = plan.concurrency === null ? undefined : await concurrencySlot(plan, sub.input);
    if (keyed !== undefined && !keyed.ok) {
      return {
        ok: false,
        error: { code: "concurrency_key_invalid", message: keyed.message, path: "$.input" },
      };
    }
    const slot = keyed?.slot;
    const executionId = sub.executionId ?? this.newExecutionId(workflow.id, sub.idempotencyKey, slot?.key);
    const actors = this.#live.actors;
    // A duplicate still live here is answered at once; one stored already is caught by the creating
    // append (`execution_exists`), so a first submission costs no extra read.
    const live = actors.get(executionId);
    if (live && sub.idempotencyKey === undefined) {
      // A fixed id (a child's) without a key, live here: never replaced; its creator finds it instead.
      return { ok: false, error: { code: "conflict", message: `execution ${executionId} is live already` } };
    }
    if (live) {
      // Created here but not committed yet: its creation decides (a refused one must not be acknowledged).
      if (live.creation !== undefined && live.state.lastSeq === 0) {
        const first = await live.creation;
        // Refused as existing: stored before (a retry of a retired execution), so this is a duplicate too.
        const exists = !first.ok && "error" in first && first.error.code === "execution_exists";
        if (!first.ok && !exists) return { ok: false, error: errorOf(first) };
      }
      return this.#duplicate(executionId, sub);
    }
    if (actors.size >= this.limits.maxActiveExecutions) {
      return {
        ok: false,
        error: { code: "overloaded", message: `${actors.size} executions are live; retry later` },
      };
    }
    const shard = shardOf(executionId, this.shardCount);
    const epoch = this.#shards.epochs.get(shard);
    if (epoch === undefined) {
      return { ok: false, error: { code: "not_owner", message: `shard ${shard} is not here` } };
    }
    const actor = new ExecutionActor(initialState(executionId, plan), { shard, epoch }, {
      requestHash: sub.requestHash,
      requireLatestVersion: sub.requireLatestVersion === true,
      ...(sub.scheduleFire !== undefined && { scheduleFire: sub.scheduleFire }),
    });
    actors.set(executionId, actor);
    // Claimed before the append, so concurrent submissions of one key count exactly; given back if not created
    // — unless the gate knew the run already (a duplicate of one being reloaded): that slot is not ours.
    const now = this.opts.clock.now();
    const claimed = slot !== undefined && !this.#gate.has(executionId);
    const queued = slot !== undefined && this.#gate.claim(executionId, shard, workflow.id, slot, now);
    actor.creation = this.#pump.dispatch(executionId, actor, {
      type: "Start",
      input: sub.input,
      idempotencyKey: sub.idempotencyKey ?? null,
      timeoutMs: sub.timeoutMs ?? null,
      ...(sub.trigger !== undefined && { trigger: sub.trigger }),
      ...(sub.parent !== undefined && { parent: sub.parent }),
      ...(slot !== undefined && { concurrency: slot, queued }),
    });
    const decision = await actor.creation.catch((err) => {
      if (claimed) this.#gate.forget(executionId);
      throw err;
    });
    actor.creation = undefined; // decided: later duplicates see the committed state (or no actor)
    if (!decision.ok) {
      if (claimed) this.#gate.forget(executionId);
      if ("error" in decision && decision.error.code === "execution_exists") {
        // Another submission created it first: with a key it is this one's duplicate.
        if (sub.idempotencyKey !== undefined) return this.#duplicate(executionId, sub);
        return { ok: false, error: { code: "conflict", message: decision.error.message } };
      }
      return { ok: false, error: errorOf(decision) };
    }
    return { ok: true, value: { executionId, created: true } };
  }

  async #duplicate(
    executionId: string,
    sub: Submission,
  ): Promise<Result<{ executionId: string; created: boolean }>> {
    const stored = await this.opts.storage.getExecution(executionId);
    const requestHash = stored?.requestHash ?? null;
    if (requestHash !== null && sub.requestHash !== undefined && requestHash !== sub.requestHash) {
      return {
        ok: false,
        error: {
          code: "idempotency_mismatch",
          message: "this Idempotency-Key was used with a different request",
          executionId,
        },
      };
    }
    return { ok: true, value: { executionId, created: false } };
  }

  /** The live state of an execution, or its state replayed from storage. */
  async state(executionId: string): Promise<ExecutionState | undefined> {
    const actor = this.#live.actors.get(executionId);
    if (actor) return actor.state;
    const finished = this.#live.finished(executionId);
    if (finished) return finished;
    const stored = await this.opts.storage.getExecution(executionId);
    if (!stored) return undefined;
    return replayStored(executionId, stored, await this.opts.storage.readEvents(executionId), this.#plans);
  }

  /** The API view of an execution. */
  async view(executionId: string): Promise<ExecutionView | undefined> {
    const state = await this.state(executionId);
    return state && state.status !== null ? executionView(state) : undefined;
  }

  /** The event history of an execution. */
  events(executionId: string, afterSeq = 0): Promise<ExecutionEvent[]> {
    return this.opts.storage.readEvents(executionId, afterSeq);
  }

  /** The records a node emitted (a pass-through node's are its inputs); `undefined` while it has none. */
  async output(executionId: string, nodeId: string): Promise<Result<Json[] | undefined>> {
    const state = await this.state(executionId);
    if (!state) {
      return { ok: false, error: { code: "execution_not_found", message: `no execution ${executionId}` } };
    }
    const node = state.plan.byId.get(nodeId);
    if (!node) {
      return { ok: false, error: { code: "node_not_found", message: `no node ${nodeId} in ${executionId}` } };
    }
    if (state.nodes[nodeId].status !== "completed") return { ok: true, value: undefined };
    const actor = this.#live.actors.get(executionId);
    return { ok: true, value: await this.#attempts.outputOf(state, actor, node) };
  }

  /** Waits until the execution ends or `ms` passes; returns its view then. */
  async wait(executionId: string, ms: number): Promise<ExecutionView | undefined> {
    const actor = this.#live.actors.get(executionId);
    if (actor && actor.state.status === "running" && ms > 0 && this.#waiters < this.limits.maxWaiters) {
      this.#waiters++;
      try {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.opts.clock.clearTimer(handle);
            actor.waiters?.delete(done);
            resolve();
          };
          const handle = this.opts.clock.setTimer(ms, done);
          (actor.waiters ??= new Set()).add(done);
        });
      } finally {
        this.#waiters--;
      }
    }
    return this.view(executionId);
  }

  /** Cancels a running execution. */
  cancel(executionId: string, reason: string): Promise<Result<ExecutionView>> {
    return this.#command(executionId, { type: "Cancel", reason });
  }

  /** Delivers a signal to a running execution. */
  signal(executionId: string, name: string, payload: Json): Promise<Result<ExecutionView>> {
    return this.#command(executionId, { type: "Signal", name, payload });
  }

  /** Pauses a running execution: no node starts (running attempts finish) until `resume`. */
  pause(executionId: string, reason: string): Promise<Result<ExecutionView>> {
    return this.#command(executionId, { type: "Pause", reason });
  }

  /** Resumes a paused execution: what waited starts, timers that came due meanwhile fire. */
  resume(executionId: string): Promise<Result<ExecutionView>> {
    return this.#command(executionId, { type: "Resume" });
  }

  /** Runs an ended execution's failed and cancelled nodes (and what follows them) again, in place. */
  retry(executionId: string): Promise<Result<ExecutionView>> {
    return this.#steering.reopen(executionId, { type: "Retry" });
  }

  /** Runs `fromNode` and everything downstream of an ended execution again, in place (with a new `input`). */
  rerun(executionId: string, fromNode: string, input?: Json): Promise<Result<ExecutionView>> {
    const command = { type: "Rerun" as const, fromNode, ...(input !== undefined && { input }) };
    return this.#steering.reopen(executionId, command);
  }

  /** Moves a live execution to `version` of its workflow (refused when a node that ran is gone or changed). */
  migrate(executionId: string, version: number): Promise<Result<ExecutionView>> {
    return this.#steering.migrate(executionId, version);
  }

  async #command(executionId: string, command: Command): Promise<Result<ExecutionView>> {
    let actor = this.#live.actors.get(executionId);
    if (actor?.creation !== undefined && actor.state.lastSeq === 0) {
      // A submission's creation in flight (a late duplicate, say): its outcome first, then whatever is live.
      await actor.creation.catch(() => {});
      actor = this.#live.actors.get(executionId);
    }
    if (!actor) {
      const state = await this.state(executionId);
      if (!state) {
        return { ok: false, error: { code: "execution_not_found", message: `no execution ${executionId}` } };
      }
      const d = decide(state, command, this.opts.clock.now());
      if (!d.ok) return { ok: false, error: d.rejection };
      return {
        ok: false,
        error: { code: "not_owner", message: `execution ${executionId} is not live here` },
      };
    }
    const d = await this.#pump.dispatch(executionId, actor, command);
    if (!d.ok && "rejection" in d) {
      // Decided in memory, no fenced write: answered only if storage has what this actor has (a node that
      // lost the shard without knowing it yet must not answer from its stale state).
      const stored = await this.opts.storage.getExecution(executionId);
      if (stored?.lastSeq !== actor.state.lastSeq) {
        return { ok: false, error: { code: "not_owner", message: `execution ${executionId} moved; retry` } };
      }
    }
    if (!d.ok) return { ok: false, error: errorOf(d) };
    return { ok: true, value: executionView(actor.state) };
  }
}

/** The engine error of a refused outcome: the decider's rejection or the runtime's error. */
function errorOf(outcome: Outcome & { ok: false }): EngineError {
  return "error" in outcome ? outcome.error : outcome.rejection;
}
