/**
 * The pump of an execution actor: it drains the inbox in batches — decide every queued command, run the local
 * nodes they start inside the same commit, append the events once (fenced) — and only then acts on the
 * committed state: arms timers, starts node attempts, answers callers.
 *
 * @module
 */
import type { Command } from "../../core/decide.ts";
import { type PlanNode, planNode } from "../../core/plan.ts";
import { pendingTimers, pendingWork } from "../../core/timers.ts";
import { executionSummary } from "../../core/view.ts";
import type { AppendError, AppendRequest, AppendResult } from "../../storage/storage.ts";
import { type ExecutionActor, type Outcome, outputCache, type Pending } from "./actor.ts";
import type { AttemptRunner } from "./attempts.ts";
import { Batch } from "./batch.ts";
import { settleDeliveries } from "./deliveries.ts";
import type { ConcurrencyGate } from "./concurrency.ts";
import type { Clock } from "./clock.ts";
import type { LiveExecutions } from "./live.ts";
import type { Observation } from "./observer.ts";
import type { EngineLimits } from "./options.ts";
import type { TimerQueue } from "./timer_queue.ts";

/** Where an append that did not commit goes (`AppendFailures`). */
export interface FailedAppends {
  /** Storage threw. */
  threw(executionId: string, actor: ExecutionActor, batch: Pending[], err: unknown): void;
  /** Storage refused it. */
  refused(executionId: string, actor: ExecutionActor, batch: Pending[], error: AppendError): void;
}

/** What a pump needs. */
export interface PumpDeps {
  clock: Clock;
  limits: EngineLimits;
  /** Where appends go (a commit group, or the storage itself). */
  appender: { append(request: AppendRequest): Promise<AppendResult> };
  live: LiveExecutions;
  observation: Observation;
  attempts: AttemptRunner;
  timers: TimerQueue;
  failures: FailedAppends;
  /** Concurrency keys: told of every commit (an end frees a slot, a reopened run queues again). */
  gate?: Pick<ConcurrencyGate, "committed">;
  /** Child executions: told of every committed state before the pump acts on it (`children.ts`). */
  children?: { react(executionId: string, actor: ExecutionActor): void };
}

/** Drives every actor of one engine. */
export class ActorPump {
  constructor(private readonly deps: PumpDeps) {}

  /** Queues a command and waits for its outcome. */
  dispatch(executionId: string, actor: ExecutionActor, command: Command): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.enqueue(executionId, actor, { command, resolve, reject });
    });
  }

  /** Queues an item; the pump runs unless it is running already. */
  enqueue(executionId: string, actor: ExecutionActor, item: Pending): void {
    actor.inbox.push(item);
    if (!actor.busy) void this.pump(executionId, actor);
  }

  /** Drains an actor's inbox: decides every queued command, appends the events once, then reacts. */
  async pump(executionId: string, actor: ExecutionActor): Promise<void> {
    const { clock, limits, live } = this.deps;
    actor.busy = true;
    try {
      while (actor.inbox.length > 0 && !live.stopped) {
        const items = actor.inbox.splice(0, actor.inbox.length);
        const batch = new Batch(items, actor.state, limits.maxHistoryEvents);
        const now = clock.now();
        const settleFailed = (action: "commit" | "release", err: unknown) =>
          this.deps.observation.settleFailed(executionId, action, err);
        batch.decideItems(now, settleFailed);
        // Local nodes started by these events run now, inside this commit: their records and their end
        // join the same append, and so do the nodes they start. Bounded: at most `localBatchBytes` of output
        // and `localBatchMs` of work, and no further once a command (a cancel, a signal) is waiting; nodes
        // with a timeout are left to the ordinary path, where their timer is armed before they run. What is
        // left runs after the commit, as other nodes do (`react`).
        const localSince = clock.now();
        const within = () =>
          batch.stagedBytes < limits.localBatchBytes &&
          clock.now() - localSince < limits.localBatchMs &&
          actor.inbox.length === 0 && batch.state.status === "running";
        for (let round = 0; within(); round++) {
          if (round > batch.state.plan.nodes.length) {
            throw new Error("assertion: local nodes did not converge");
          }
          const local = localWork(batch, actor);
          if (local.length === 0) break;
          if (actor.state.lastSeq === 0) this.deps.observation.started(actor, batch.state);
          actor.localAbort = new AbortController();
          for (const { node, attempt } of local) {
            if (!within()) break;
            const r = await this.deps.attempts.run(
              executionId,
              actor,
              batch.state,
              node,
              attempt,
              actor.localAbort.signal,
              batch.staged,
            );
            if (!live.isLive(executionId, actor)) {
              settleDeliveries([r], "release", settleFailed);
              return this.#gone(executionId, actor, batch);
            }
            const d = batch.decide(r.command, clock.now());
            if (r.delivery && !(d.ok && d.events.length > 0)) settleDeliveries([r], "release", settleFailed);
            else batch.add(d, r.outputs, r.bytes, r, true);
          }
          actor.localAbort = undefined;
          batch.startReady(clock.now());
        }
        if (batch.events.length > 0) {
          batch.assertContinuous(actor.state.lastSeq);
          const obs = this.deps.observation.observer;
          const t0 = obs ? performance.now() : 0;
          let failure: AppendError | undefined;
          try {
            const r = await this.deps.appender.append(appendRequest(executionId, actor, batch));
            if (!r.ok) failure = r.error;
          } catch (err) {
            obs?.appendFailed?.(performance.now() - t0);
            // The items go back to the inbox with what they hold; local attempts will run again.
            settleDeliveries(batch.localHolders, "release", settleFailed);
            this.deps.failures.threw(executionId, actor, batch.items, err);
            return;
          }
          obs?.appendCommitted?.(performance.now() - t0, batch.events.length);
          if (failure) {
            settleDeliveries(batch.holders, "release", settleFailed);
            this.deps.failures.refused(executionId, actor, batch.items, failure);
            return;
          }
          this.#accept(actor, batch);
          // Durably recorded: what the consumers of this batch took is acknowledged.
          settleDeliveries(batch.holders, "commit", settleFailed);
        }
        batch.items.forEach((item, i) => item.resolve?.(batch.decisions[i]));
        this.react(executionId, actor);
      }
      if (live.stopped) {
        // The engine stopped while this pump ran: nothing pumps the inbox again, so what its queued attempts
        // took goes back to the brokers.
        settleDeliveries(
          actor.inbox,
          "release",
          (action, err) => this.deps.observation.settleFailed(executionId, action, err),
        );
      }
    } finally {
      actor.busy = false;
    }
  }

  /** Retired (its shard moved) or stopped while a local node ran: nothing was appended; callers retry elsewhere. */
  #gone(executionId: string, actor: ExecutionActor, batch: Batch): void {
    const gone = { code: "not_owner" as const, message: `execution ${executionId} is no longer live here` };
    const items = [...batch.items, ...actor.inbox.splice(0)];
    const failed = (action: "commit" | "release", err: unknown) =>
      this.deps.observation.settleFailed(executionId, action, err);
    settleDeliveries([...batch.localHolders, ...items], "release", failed);
    for (const item of items) item.resolve?.({ ok: false, error: gone });
  }

  /** The append committed: the batch's state becomes the actor's. */
  #accept(actor: ExecutionActor, batch: Batch): void {
    const before = actor.state;
    if (batch.state.lastSeq !== before.lastSeq + batch.events.length) {
      throw new Error(`assertion: lastSeq ${batch.state.lastSeq} after appending to ${before.lastSeq}`);
    }
    actor.failures = 0;
    actor.state = batch.state;
    actor.creating = undefined; // created: what its first append needed is not needed again
    for (const o of batch.outputs) outputCache(actor, this.deps.limits).set(o.ref, o.records);
    this.deps.observation.committed(actor, before, batch.events);
    // Concurrency keys: not for an actor retired meanwhile (its shard, and the shard's keys, are gone here).
    const id = before.executionId;
    if (this.deps.live.isLive(id, actor)) {
      this.deps.gate?.committed(id, actor.fence.shard, before, batch.state, this.deps.clock.now());
    }
  }

  /** Acts on committed state: timers, node attempts, waiters; retires a finished execution. */
  react(executionId: string, actor: ExecutionActor): void {
    const state = actor.state;
    this.deps.children?.react(executionId, actor);
    if (state.status !== "running") {
      this.deps.live.retire(executionId, actor);
      return;
    }
    for (const t of pendingTimers(state)) {
      if (!actor.armed?.has(t.id)) {
        (actor.armed ??= new Set()).add(t.id);
        this.deps.timers.add(executionId, t.id, t.dueAt);
      }
    }
    const work = pendingWork(state);
    const running = new Set(work.toRun.map((w) => `${w.nodeId}#${w.attempt}`));
    for (const [key, controller] of actor.inflight ?? []) {
      if (!running.has(key)) {
        controller.abort(new Error("attempt superseded"));
        actor.inflight!.delete(key);
      }
    }
    for (const { nodeId, attempt } of work.toRun) {
      const key = `${nodeId}#${attempt}`;
      if (actor.inflight?.has(key)) continue;
      const controller = new AbortController();
      (actor.inflight ??= new Map()).set(key, controller);
      void this.deps.attempts.start(executionId, actor, planNode(state.plan, nodeId), attempt, controller);
    }
  }
}

/** The local nodes of the batch's state that are due to run and not running (nor with a timeout of their own). */
function localWork(batch: Batch, actor: ExecutionActor): { node: PlanNode; attempt: number }[] {
  const local: { node: PlanNode; attempt: number }[] = [];
  for (const w of pendingWork(batch.state).toRun) {
    const node = planNode(batch.state.plan, w.nodeId);
    if (node.local && node.timeoutMs === null && !actor.inflight?.has(`${w.nodeId}#${w.attempt}`)) {
      local.push({ node, attempt: w.attempt });
    }
  }
  return local;
}

/** The append of a batch: fenced, after the actor's last committed event; a creating one carries its key. */
function appendRequest(executionId: string, actor: ExecutionActor, batch: Batch): AppendRequest {
  const state = batch.state;
  const creating = actor.state.lastSeq === 0;
  return {
    executionId,
    expectedSeq: actor.state.lastSeq,
    fence: actor.fence,
    events: batch.events,
    summary: executionSummary(state),
    outputs: batch.outputs,
    nextTimerAt: pendingTimers(state)[0]?.dueAt ?? null,
    idempotencyKey: creating ? state.idempotencyKey : undefined,
    requestHash: creating ? actor.creating?.requestHash ?? null : undefined,
    requireLatestVersion: creating && actor.creating?.requireLatestVersion === true,
    ...(creating && actor.creating?.scheduleFire !== undefined &&
      { scheduleFire: actor.creating.scheduleFire }),
  };
}
