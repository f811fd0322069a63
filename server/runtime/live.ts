/**
 * The executions live in this process, and the finished ones kept for a while after their end: the registry
 * every piece of the runtime shares.
 *
 * @module
 */
import { BoundedCache } from "../../core/cache.ts";
import type { ExecutionState } from "../../core/state.ts";
import type { ExecutionActor } from "./actor.ts";
import type { Clock } from "./clock.ts";
import type { Observation } from "./observer.ts";
import { settleDeliveries } from "./deliveries.ts";

/** Finished executions kept in memory for reads right after their end: how many, and how long. */
const FINISHED_CACHE = 10_000;
const FINISHED_TTL_MS = 60_000;

/** Live actors by execution id, the recently finished states, and whether the engine stopped. */
export class LiveExecutions {
  readonly actors = new Map<string, ExecutionActor>();
  readonly #finished = new BoundedCache<string, { state: ExecutionState; until: number }>(FINISHED_CACHE);
  /** Set once by `Engine.stop`: nothing pumps, arms or starts after it. */
  stopped = false;

  constructor(private readonly clock: Clock, private readonly observation: Observation) {}

  /** Whether `actor` is still the live one of `executionId` and the engine runs. */
  isLive(executionId: string, actor: ExecutionActor): boolean {
    return !this.stopped && this.actors.get(executionId) === actor;
  }

  /** A finished execution's final state, if it ended here lately. */
  finished(executionId: string): ExecutionState | undefined {
    const finished = this.#finished.get(executionId);
    return finished && finished.until > this.clock.now() ? finished.state : undefined;
  }

  /** Forgets every finished state (retention deleted some: never serve them again). */
  forgetFinished(): void {
    this.#finished.clear();
  }

  /** The actor stops being live here: its attempts are aborted, its waiters woken; a finished one is kept. */
  retire(executionId: string, actor: ExecutionActor): void {
    for (const c of actor.inflight?.values() ?? []) c.abort(new Error("execution no longer live here"));
    actor.inflight = undefined;
    actor.localAbort?.abort(new Error("execution no longer live here"));
    const state = actor.state;
    if (state.status !== null && state.status !== "running") {
      // Its final, committed state: reads right after its end need no storage.
      this.#finished.set(state.executionId, { state, until: this.clock.now() + FINISHED_TTL_MS });
    }
    for (const w of actor.waiters ?? []) w();
    this.#releaseHeld(executionId, actor);
    this.observation.released(actor);
    if (this.actors.get(executionId) === actor) this.actors.delete(executionId);
  }

  /** Stops every actor (the engine stops): attempts aborted, waiters woken, the observer let go. */
  stopAll(): void {
    this.stopped = true;
    for (const actor of this.actors.values()) {
      for (const c of actor.inflight?.values() ?? []) c.abort(new Error("engine stopping"));
      actor.localAbort?.abort(new Error("engine stopping"));
      for (const w of actor.waiters ?? []) w();
      this.#releaseHeld(actor.state.executionId, actor);
      this.observation.released(actor);
    }
    this.actors.clear();
  }

  /**
   * What the queued results of an idle actor took goes back to the brokers: nothing will pump them now. (A
   * busy pump releases its own: its batch when it finds the actor gone, its inbox when the engine stopped.)
   */
  #releaseHeld(executionId: string, actor: ExecutionActor): void {
    if (actor.busy || actor.inbox.length === 0) return;
    settleDeliveries(
      actor.inbox,
      "release",
      (action, err) => this.observation.settleFailed(executionId, action, err),
    );
  }
}
