/**
 * The runtime of child executions, the `workflow.run` and `foreach` nodes. The core decides (see
 * `core/decide_children.ts`); this module does what its decisions ask, after each commit of an actor
 * (`ActorPump.react` calls {@link ChildRuntime.react}):
 *
 * - **expand**: a running attempt with no children planned yet reads its input, makes its items (`foreach`:
 *   one per record; `workflow.run`: one, the array of every record), resolves the child workflow and reports
 *   `PlanChildren{count}` — or, when that workflow is all local, runs the items in process (the inline path,
 *   `children_inline.ts`) and completes the node at once: such children have no execution ids;
 * - **launch**: each child the core started (`ChildStarted`, still live) is created once, with its fixed id,
 *   on the parent's shard, its item as input and `Start.parent` linking it back;
 * - **report**: an execution with a parent that ends tells its parent (`ChildEnded`);
 * - **cancel**: children whose node or parent ended are cancelled, and a child whose parent no longer waits
 *   for it (`isOrphan`) cancels itself when it becomes live here;
 * - **collect**: once every child ended, their outputs in item order become the node's output.
 *
 * Each of these happens at most once per node attempt (or child) per actor; a crash or a reload makes a new
 * actor, which does again what is not recorded — creation is idempotent (the id is fixed) and the core
 * ignores repeated reports. An execution whose end no actor saw (its ending append committed, the
 * acknowledgement lost) gets its end's duties done when its reload finds it ended ({@link ChildRuntime.ended});
 * the sweep's {@link ChildRuntime.audit} catches whatever is left.
 *
 * @module
 */
import { MAX_WORKFLOW_DEPTH } from "../../core/catalog_control.ts";
import { childExecutionId, shardOf } from "../../core/ids.ts";
import type { Json } from "../../core/json.ts";
import { type PlanNode, planNode } from "../../core/plan.ts";
import type { ExecutionState } from "../../core/state.ts";
import { isOrphan, type LiveChild, liveChildren, pendingWork } from "../../core/timers.ts";
import type { StoredWorkflow, WorkflowStore } from "../../storage/storage.ts";
import type { ExecutionActor, Pending } from "./actor.ts";
import type { AttemptRunner } from "./attempts.ts";
import {
  completion,
  endedCommand,
  failNode,
  missingChild,
  refusedChild,
  resolveChildWorkflow,
} from "./children_commands.ts";
import { type ChildResult, gatherOutput, runInline } from "./children_inline.ts";
import { type ChildReadDeps, childResult, collectedOutput, missingOutput } from "./children_results.ts";
import type { Clock } from "./clock.ts";
import type { LiveExecutions } from "./live.ts";
import type { LocalRunDeps } from "./local_plan.ts";
import type { Logger } from "./logger.ts";
import type { EngineLimits, Result, Submission } from "./options.ts";
import type { PlanCache } from "./plans.ts";
import { type Memo, newMemo, RETRY_MS, withChildren } from "./children_memo.ts";

/** What the child runtime needs of its engine. */
export interface ChildDeps {
  clock: Clock;
  log: Logger;
  limits: EngineLimits;
  shardCount: number;
  live: LiveExecutions;
  storage: Pick<WorkflowStore, "getWorkflow"> & ChildReadDeps["storage"];
  plans: PlanCache;
  attempts: Pick<AttemptRunner, "inputsOf" | "outputOf">;
  /** The executors and services of the inline path. */
  local: LocalRunDeps;
  /** Queues a command (with the records it stores) in a live actor's inbox. */
  enqueue(executionId: string, actor: ExecutionActor, item: Pending): void;
  /** Creates an execution (`Engine.submit`). */
  submit(
    workflow: StoredWorkflow,
    sub: Submission,
  ): Promise<Result<{ executionId: string; created: boolean }>>;
  /** An execution's state: live, lately finished, or replayed from storage (`Engine.state`). */
  state(executionId: string): Promise<ExecutionState | undefined>;
}

/**
 * The child executions of the actors of one engine (the engine makes one and hands it to its pump).
 *
 * @example
 * ```ts
 * import { Engine } from "./engine.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { systemClock } from "./clock.ts";
 * import { silentLogger } from "./logger.ts";
 * import { executorFor } from "../executors/registry.ts";
 * import { realServices } from "../executors/services.ts";
 * import type { WorkflowDefinition } from "../../core/workflow.ts";
 *
 * const storage = new MemoryStorage();
 * const put = (d: WorkflowDefinition) => storage.putWorkflow(d, d.id, 0, Date.now());
 * // A child with a delay (not a local kind): each item is a child execution of its own.
 * await put({ id: "twice", name: "twice", nodes: [
 *   { id: "one", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 1, step: 1 } },
 *   { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 0 } },
 *   { id: "x2", type: "transform", nodeType: "map", config: { expression: "$input * 2" } },
 *   { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
 * ], edges: [{ source: "one", target: "wait" }, { source: "wait", target: "x2" }, { source: "x2", target: "out" }] });
 * const parent = await put({ id: "p", name: "p", nodes: [
 *   { id: "src", type: "source", nodeType: "memory.collection", config: { data: [1, 2, 3] } },
 *   { id: "each", type: "control", nodeType: "foreach", config: { workflow: "twice", maxConcurrency: 2 } },
 * ], edges: [{ source: "src", target: "each" }] });
 * if (!parent.ok) throw new Error("stored");
 * const services = realServices();
 * const engine = new Engine({ storage, clock: systemClock, newId: () => crypto.randomUUID(), executorFor,
 *   services, nodeName: "n1", log: silentLogger });
 * await engine.start();
 * const r = await engine.submit(parent.workflow, { input: null });
 * if (!r.ok) throw new Error(r.error.message);
 * await engine.wait(r.value.executionId, 5_000);
 * const out = await engine.output(r.value.executionId, "each");
 * await engine.stop();
 * await services.close();
 * if (!out.ok || out.value?.join() !== "2,4,6") throw new Error(JSON.stringify(out));
 * ```
 */
export class ChildRuntime {
  readonly #memos = new WeakMap<ExecutionActor, Memo>();

  constructor(private readonly deps: ChildDeps) {}

  #memo(actor: ExecutionActor): Memo {
    let memo = this.#memos.get(actor);
    if (!memo) {
      memo = newMemo();
      this.#memos.set(actor, memo);
    }
    return memo;
  }

  /**
   * Acts on an actor's committed state (after each of its appends, and when it is recovered): reports the end
   * of a child, cancels children no longer waited for, expands, launches and collects. Cheap for an execution
   * with neither a parent nor a children node.
   */
  react(executionId: string, actor: ExecutionActor): void {
    const state = actor.state;
    if (state.status === null || !this.deps.live.isLive(executionId, actor)) return;
    if (state.parent === null && !withChildren(state.plan)) return;
    const memo = this.#memo(actor);
    const recovered = !memo.seen;
    memo.seen = true;
    if (state.parent !== null) {
      if (state.status !== "running") {
        if (!memo.reported) {
          memo.reported = true;
          void this.#report(state, actor).catch((err) => this.#warn(executionId, err));
        }
      } else if (!memo.parentChecked && state.reopened === 0) {
        // A child a user reopened (retry, rerun) runs on its own: its parent does not wait for it.
        memo.parentChecked = true;
        void this.#cancelIfOrphan(executionId, actor).catch((err) => {
          memo.parentChecked = false;
          this.#retryLater(executionId, actor, memo, err);
        });
      }
    }
    if (!withChildren(state.plan)) return;
    const { keep, cancel } = liveChildren(state);
    this.#cancelChildren(executionId, memo, cancel);
    if (state.status !== "running") return;
    const work = pendingWork(state);
    // Not while paused (the inline path would complete the node): the commit of the resume reacts again.
    if (!state.paused) {
      for (const { nodeId, attempt } of work.toExpand) {
        this.#expand(executionId, actor, memo, nodeId, attempt);
      }
    }
    const live = new Set<string>();
    for (const child of keep) {
      live.add(child.childId);
      if (memo.launched.has(child.childId)) continue;
      memo.launched.add(child.childId);
      void this.#launch(executionId, actor, memo, child, recovered).catch((err) => {
        memo.launched.delete(child.childId);
        this.#retryLater(executionId, actor, memo, err);
      });
    }
    for (const id of memo.launched) if (!live.has(id)) memo.launched.delete(id);
    for (const id of memo.existing) if (!live.has(id)) memo.existing.delete(id);
    for (const { nodeId, attempt } of work.toCollect) {
      this.#collect(executionId, actor, memo, nodeId, attempt);
    }
  }

  /** Whether the actor still runs `attempt` of `nodeId` (else what was read for it is moot). */
  #waits(executionId: string, actor: ExecutionActor, nodeId: string, attempt: number): boolean {
    if (!this.deps.live.isLive(executionId, actor)) return false;
    const ns = actor.state.nodes[nodeId];
    return actor.state.status === "running" && ns?.status === "running" && ns.attempts === attempt;
  }

  #send(executionId: string, actor: ExecutionActor, item: Pending): void {
    if (this.deps.live.isLive(executionId, actor)) this.deps.enqueue(executionId, actor, item);
  }

  #warn(executionId: string, err: unknown): void {
    this.deps.log.warn("child executions: step failed", { executionId, error: String(err) });
  }

  /** Something failed for want of storage or of a ready engine: react again after a back-off. */
  #retryLater(executionId: string, actor: ExecutionActor, memo: Memo, err: unknown): void {
    if (memo.retries > 0) this.#warn(executionId, err);
    else this.deps.log.debug("child executions: step failed; retrying", { executionId, error: String(err) });
    if (memo.retryArmed) return;
    memo.retryArmed = true;
    const delay = RETRY_MS[Math.min(memo.retries++, RETRY_MS.length - 1)];
    this.deps.clock.setTimer(delay, () => {
      memo.retryArmed = false;
      if (this.deps.live.isLive(executionId, actor)) this.react(executionId, actor);
    });
  }

  // ---- expand

  #expand(executionId: string, actor: ExecutionActor, memo: Memo, nodeId: string, attempt: number): void {
    this.#once(
      executionId,
      actor,
      memo,
      `x:${nodeId}#${attempt}`,
      () => this.#expandAttempt(executionId, actor, memo, nodeId, attempt),
    );
  }

  /** Runs `step` once per `key` on this actor; a failed step is forgotten and retried later. */
  #once(
    executionId: string,
    actor: ExecutionActor,
    memo: Memo,
    key: string,
    step: () => Promise<void>,
  ): void {
    if (memo.done.has(key)) return;
    memo.done.add(key);
    step().then(
      () => memo.retries = 0,
      (err) => {
        memo.done.delete(key);
        this.#retryLater(executionId, actor, memo, err);
      },
    );
  }

  async #expandAttempt(
    executionId: string,
    actor: ExecutionActor,
    memo: Memo,
    nodeId: string,
    attempt: number,
  ): Promise<void> {
    const state = actor.state;
    const node = planNode(state.plan, nodeId);
    const spec = node.subflow!;
    const items = await this.#itemsOf(state, actor, node);
    const resolved = await resolveChildWorkflow(this.deps.storage, node);
    const key = `${nodeId}#${attempt}`;
    // Abandoned (the attempt is over), or paused meanwhile: expanded again if the attempt still runs then.
    if (!this.#waits(executionId, actor, nodeId, attempt) || actor.state.paused) {
      return void memo.done.delete(`x:${key}`);
    }
    if (!resolved.ok) {
      return this.#send(executionId, actor, { command: failNode(nodeId, attempt, resolved.error) });
    }
    memo.items.set(key, items);
    memo.workflows.set(key, resolved.workflow);
    const plan = this.deps.plans.of(resolved.workflow);
    const depth = (state.parent?.depth ?? 0) + 1;
    // The core refuses too many items and too deep a nesting, and ends an attempt with no items: it decides
    // those. Otherwise an all-local child workflow runs here and now, with no child executions — unless it
    // has a concurrency key, which only real executions can wait on.
    const inline = plan.allLocal && plan.concurrency === null && items.length > 0 &&
      items.length <= spec.maxItems && depth <= MAX_WORKFLOW_DEPTH;
    if (!inline) {
      return this.#send(executionId, actor, {
        // The version resolved now is recorded: every child of the attempt runs it, recovered or not.
        command: {
          type: "PlanChildren",
          nodeId,
          attempt,
          count: items.length,
          version: resolved.workflow.version,
        },
      });
    }
    const result = await runInline({
      runId: `${executionId}/${nodeId}@${attempt}`,
      plan,
      node,
      items,
      clock: this.deps.clock,
      local: this.deps.local,
      limits: this.deps.limits,
      waits: () => this.#waits(executionId, actor, nodeId, attempt),
    });
    memo.items.delete(key);
    memo.workflows.delete(key);
    if (result === undefined) memo.done.delete(`x:${key}`); // abandoned midway (a cancel, the shard moved)
    else this.#send(executionId, actor, completion(node, attempt, items, result));
  }

  /** The items of a children node's attempt: `foreach`, one per input record; `workflow.run`, all of them. */
  async #itemsOf(state: ExecutionState, actor: ExecutionActor, node: PlanNode): Promise<Json[]> {
    const { records } = await this.deps.attempts.inputsOf(state, actor, node);
    return node.subflow!.each ? records : [records];
  }

  // ---- launch

  /** Creates a child the core started, once; finds it instead when it exists (it may have ended). */
  async #launch(
    executionId: string,
    actor: ExecutionActor,
    memo: Memo,
    child: LiveChild,
    recovered: boolean,
  ): Promise<void> {
    const { live, shardCount } = this.deps;
    const { childId } = child;
    if (shardOf(childId, shardCount) !== shardOf(executionId, shardCount)) {
      throw new Error(`assertion: child ${childId} is not on the shard of its parent ${executionId}`);
    }
    if (live.actors.has(childId)) return; // live here: it reports its own end
    const finished = live.finished(childId);
    if (finished) {
      memo.existing.add(childId);
      return this.#ended(executionId, actor, child, finished);
    }
    // Children live at a recovery were started before it: most exist already.
    if (recovered && (await this.deps.storage.getExecution(childId)) !== undefined) {
      memo.existing.add(childId);
      return this.#found(executionId, actor, child);
    }
    const key = `${child.nodeId}#${child.attempt}`;
    const state = actor.state;
    const node = planNode(state.plan, child.nodeId);
    let items = memo.items.get(key);
    if (items === undefined) memo.items.set(key, items = await this.#itemsOf(state, actor, node));
    // The version the planning recorded (null in histories older than it: resolved again).
    const planned = state.nodes[child.nodeId].children?.version ?? null;
    let workflow = memo.workflows.get(key);
    if (workflow === undefined || (planned !== null && workflow.version !== planned)) {
      const resolved = await resolveChildWorkflow(this.deps.storage, node, planned);
      if (!this.#waits(executionId, actor, child.nodeId, child.attempt)) return;
      if (!resolved.ok) {
        return this.#send(executionId, actor, { command: failNode(node.id, child.attempt, resolved.error) });
      }
      memo.workflows.set(key, workflow = resolved.workflow);
    }
    if (!this.#waits(executionId, actor, child.nodeId, child.attempt) || live.actors.has(childId)) return;
    const parent = {
      executionId,
      nodeId: child.nodeId,
      attempt: child.attempt,
      index: child.index,
      depth: (state.parent?.depth ?? 0) + 1,
    };
    const r = await this.deps.submit(workflow, { executionId: childId, input: items[child.index], parent });
    if (r.ok) {
      memo.existing.add(childId);
      memo.retries = 0;
      return;
    }
    if (r.error.code === "conflict" || r.error.code === "execution_exists") {
      return this.#found(executionId, actor, child); // created before (a crash between its start and now)
    }
    // Refused for good (its concurrency key does not evaluate over its item, say): the child failed.
    const refused = refusedChild(child, r.error);
    if (refused !== undefined) return this.#send(executionId, actor, { command: refused });
    throw new Error(`child ${childId} not created: ${r.error.code}: ${r.error.message}`);
  }

  /** A child that exists: if it ended, its parent hears of it (its own report may have been lost). */
  async #found(executionId: string, actor: ExecutionActor, child: LiveChild): Promise<void> {
    if (this.deps.live.actors.has(child.childId)) return;
    const state = await this.deps.state(child.childId);
    if (state !== undefined && state.status !== null && state.status !== "running") {
      this.#ended(executionId, actor, child, state);
    }
  }

  /** Tells a parent that one of its children ended. */
  #ended(executionId: string, actor: ExecutionActor, child: LiveChild, state: ExecutionState): void {
    this.#send(executionId, actor, { command: endedCommand(child, state) });
  }

  // ---- report

  /**
   * This child ended: its parent (live here, on the same shard) hears of it, with its output handed over. A
   * parent not live here (ended, or not recovered yet) needs nothing: its recovery finds this child ended.
   */
  async #report(state: ExecutionState, actor: ExecutionActor | undefined): Promise<void> {
    // Retried or rerun after its parent counted its first end (it no longer waited for it): nothing to tell.
    if (state.reopened > 0) return;
    const link = state.parent!;
    const parent = this.deps.live.actors.get(link.executionId);
    if (parent === undefined) return;
    const child = { ...link, childId: state.executionId };
    let records: Json[] | undefined = [];
    if (state.status === "completed") {
      // Handed over when it can be read: else the parent reads it back when it collects.
      records = await collectedOutput(state, actor, this.deps.attempts).catch(() => undefined);
    }
    if (!this.deps.live.isLive(link.executionId, parent)) return;
    const pm = this.#memo(parent);
    if (records !== undefined && pm.stashed + records.length <= this.deps.limits.maxRecords) {
      pm.results.set(state.executionId, { status: state.status!, records });
      pm.stashed += records.length;
    }
    this.deps.enqueue(link.executionId, parent, { command: endedCommand(child, state) });
  }

  /**
   * An execution found ended when it was to be reloaded (`ShardOwnership.recover`: its ending append committed
   * but its acknowledgement was lost, so no actor reacted to its end): its parent hears of it and its children
   * are cancelled, as its actor would have done. Retried with a back-off while storage fails (and the sweep's
   * {@link audit} catches what is left).
   */
  ended(executionId: string, tries = 0): void {
    this.#endedDuties(executionId).catch((err) => {
      const { clock, live } = this.deps;
      if (tries + 1 >= RETRY_MS.length * 2 || live.stopped) return this.#warn(executionId, err);
      clock.setTimer(RETRY_MS[Math.min(tries, RETRY_MS.length - 1)], () => {
        if (!live.stopped) this.ended(executionId, tries + 1);
      });
    });
  }

  async #endedDuties(executionId: string): Promise<void> {
    if (this.deps.live.actors.has(executionId)) return;
    const state = await this.deps.state(executionId);
    if (state === undefined || state.status === null || state.status === "running") return;
    if (withChildren(state.plan)) {
      for (const c of liveChildren(state).cancel) {
        this.#cancel(c.childId, `its parent ${executionId} no longer waits for it`);
      }
    }
    if (state.parent !== null) await this.#report(state, undefined);
  }

  /**
   * The sweep's check (`ShardOwnership.sweep`, after it reloaded what runs and is not live): every live parent
   * hears of its children that ended without telling it, and every live child whose parent no longer waits
   * for it is cancelled — the end of an execution whose actor never saw it (an acknowledgement lost, then its
   * reload failed). Reads storage only for children or parents not live here, which is rare.
   */
  async audit(): Promise<void> {
    for (const [executionId, actor] of [...this.deps.live.actors]) {
      await this.#auditOne(executionId, actor).catch((err) => this.#warn(executionId, err));
    }
  }

  async #auditOne(executionId: string, actor: ExecutionActor): Promise<void> {
    const { live } = this.deps;
    const state = actor.state;
    if (state.status !== "running" || !live.isLive(executionId, actor)) return;
    if (state.parent !== null && state.reopened === 0 && !live.actors.has(state.parent.executionId)) {
      await this.#cancelIfOrphan(executionId, actor);
    }
    if (!withChildren(state.plan)) return;
    const memo = this.#memo(actor);
    for (const child of liveChildren(state).keep) {
      if (live.actors.has(child.childId) || !live.isLive(executionId, actor)) continue;
      const finished = live.finished(child.childId);
      if (finished) {
        this.#ended(executionId, actor, child, finished);
        continue;
      }
      // Known to exist BEFORE the read: a launch may create the child while the read is in flight (the read
      // taken before the creation landed), and an absence read then is no deletion.
      const existed = memo.existing.has(child.childId);
      const stored = await this.deps.storage.getExecution(child.childId);
      if (stored === undefined && existed) {
        // It existed, ended unheard of, and retention deleted it since: it counts as failed.
        this.#send(executionId, actor, { command: missingChild(child) });
      } else if (stored !== undefined && stored.status !== "running") {
        await this.#found(executionId, actor, child);
      }
    }
  }

  // ---- cancel

  #cancelChildren(executionId: string, memo: Memo, cancel: LiveChild[]): void {
    const listed = new Set<string>();
    for (const child of cancel) {
      listed.add(child.childId);
      if (memo.cancelled.has(child.childId)) continue;
      memo.cancelled.add(child.childId);
      this.#cancel(child.childId, `its parent ${executionId} no longer waits for it`);
    }
    for (const id of memo.cancelled) if (!listed.has(id)) memo.cancelled.delete(id);
  }

  /** Cancels an execution live here (one not live here is cancelled when it is recovered: it is an orphan). */
  #cancel(executionId: string, reason: string): void {
    const actor = this.deps.live.actors.get(executionId);
    // No caller waits: an internal command, retried if storage throws (a refusal, an end meanwhile, is moot).
    if (actor) this.deps.enqueue(executionId, actor, { command: { type: "Cancel", reason } });
  }

  /**
   * A child that became live here whose parent no longer waits for it (recovered after its parent ended) is
   * cancelled. A child just created by its parent, live here, costs one look at the parent's state.
   */
  async #cancelIfOrphan(executionId: string, actor: ExecutionActor): Promise<void> {
    const link = actor.state.parent!;
    const parent = this.deps.live.actors.get(link.executionId)?.state ??
      await this.deps.state(link.executionId);
    if (
      isOrphan(parent, link) && this.deps.live.isLive(executionId, actor) && actor.state.status === "running"
    ) {
      this.#cancel(executionId, `its parent ${link.executionId} no longer waits for it`);
    }
  }

  // ---- collect

  #collect(executionId: string, actor: ExecutionActor, memo: Memo, nodeId: string, attempt: number): void {
    this.#once(
      executionId,
      actor,
      memo,
      `c:${nodeId}#${attempt}`,
      () => this.#collectAttempt(executionId, actor, memo, nodeId, attempt),
    );
  }

  async #collectAttempt(
    executionId: string,
    actor: ExecutionActor,
    memo: Memo,
    nodeId: string,
    attempt: number,
  ): Promise<void> {
    const state = actor.state;
    const node = planNode(state.plan, nodeId);
    const count = state.nodes[nodeId].children!.count;
    const ids = Array.from({ length: count }, (_, i) => childExecutionId(executionId, nodeId, attempt, i));
    const results: (ChildResult | undefined)[] = [];
    for (const id of ids) results.push(memo.results.get(id) ?? await childResult(this.deps, id));
    if (!this.#waits(executionId, actor, nodeId, attempt)) return;
    const missing = missingOutput(ids, results, state.nodes[nodeId].children!.failed);
    const key = `${nodeId}#${attempt}`;
    const items = memo.items.get(key) ?? await this.#itemsOf(state, actor, node);
    for (const id of ids) {
      const r = memo.results.get(id);
      if (r) memo.stashed -= r.records.length;
      memo.results.delete(id);
    }
    memo.items.delete(key);
    memo.workflows.delete(key);
    if (missing !== undefined) {
      return this.#send(executionId, actor, { command: failNode(nodeId, attempt, missing) });
    }
    this.#send(
      executionId,
      actor,
      completion(node, attempt, items, gatherOutput(node, results, this.deps.limits)),
    );
  }
}
