/**
 * What happens when an append does not commit: storage threw (unreachable: internal commands are retried with
 * back-off, callers hear the error), or refused it (a stale epoch: the shard is lost; a sequence conflict:
 * the execution is reloaded; a duplicate creation, a changed workflow, a schedule tick recorded before or a
 * changed schedule: for `submit` to resolve).
 *
 * @module
 */
import type { AppendError } from "../../storage/storage.ts";
import type { ExecutionActor, Outcome, Pending } from "./actor.ts";
import type { Clock } from "./clock.ts";
import { settleDeliveries } from "./deliveries.ts";
import type { LiveExecutions } from "./live.ts";
import type { Logger } from "./logger.ts";
import type { Observation } from "./observer.ts";
import type { FailedAppends } from "./pump.ts";

/** The back-off of an actor's retries after storage threw, by consecutive failures. */
const STORAGE_RETRY_MS = [50, 100, 200, 500, 1000, 2000];

/** What handling failed appends needs. */
export interface AppendFailureDeps {
  clock: Clock;
  log: Logger;
  live: LiveExecutions;
  observation: Observation;
  /** Runs an actor's pump again (a retry). */
  pump: (executionId: string, actor: ExecutionActor) => void;
  /** Gives up a shard this node was fenced off. */
  releaseShard: (shard: number) => void;
  /** Reloads an execution from storage. */
  recover: (executionId: string) => Promise<void>;
}

/** Handles appends that threw or were refused. */
export class AppendFailures implements FailedAppends {
  constructor(private readonly deps: AppendFailureDeps) {}

  #settleFailed(executionId: string) {
    return (action: "commit" | "release", err: unknown) =>
      this.deps.observation.settleFailed(executionId, action, err);
  }

  /** Storage threw: callers waiting on an answer get the error; internal commands are retried. */
  threw(executionId: string, actor: ExecutionActor, batch: Pending[], err: unknown): void {
    const { clock, live } = this.deps;
    const internal = batch.filter((p) => !p.resolve);
    for (const p of batch) p.reject?.(err);
    this.deps.log.warn("append failed; will retry", {
      ...this.deps.observation.fields("append_failed", actor),
      error: String(err),
      retrying: internal.length,
    });
    if (actor.state.lastSeq === 0) {
      settleDeliveries(internal, "release", this.#settleFailed(executionId));
      this.deps.observation.released(actor);
      live.actors.delete(executionId);
      return;
    }
    actor.inbox.unshift(...internal);
    const delay = STORAGE_RETRY_MS[Math.min(actor.failures++, STORAGE_RETRY_MS.length - 1)];
    clock.setTimer(delay, () => {
      if (actor.busy) return;
      if (live.isLive(executionId, actor)) this.deps.pump(executionId, actor);
      // Retired meanwhile (its shard released) or stopped: nothing pumps this inbox again, so what its
      // queued attempts took goes back to the brokers now rather than at the delivery's hold bound.
      else settleDeliveries(actor.inbox, "release", this.#settleFailed(executionId));
    });
  }

  /** Storage refused the append: a stale epoch means the shard is lost; otherwise reload. */
  refused(executionId: string, actor: ExecutionActor, batch: Pending[], error: AppendError): void {
    const { log, observation } = this.deps;
    // Commands queued behind the refused append are answered the same way: this actor will not pump again.
    const answer = answerOf(error, actor.fence.shard);
    const dropped = [...batch, ...actor.inbox.splice(0)];
    // Never recorded here: what consumer attempts took goes back to their brokers.
    settleDeliveries(dropped, "release", this.#settleFailed(executionId));
    for (const p of dropped) p.resolve?.(answer);
    this.deps.live.retire(executionId, actor);
    if (error.code === "stale_epoch") {
      log.warn("shard lost: write fenced off", observation.fields("shard_lost", actor));
      this.deps.releaseShard(actor.fence.shard);
    } else if (error.code === "sequence_conflict") {
      log.warn("sequence conflict; reloading execution", observation.fields("sequence_conflict", actor));
      this.deps.recover(executionId).catch((err) =>
        log.warn("reload failed; the sweep will retry", { executionId, error: String(err) })
      );
    }
  }
}

/**
 * What the callers of a refused append hear: a duplicate creation is for submit to resolve; a fenced-off
 * write means this node no longer owns the shard (retry: the call will be routed to the new owner); else a
 * conflict.
 */
function answerOf(error: AppendError, shard: number): Outcome {
  return {
    ok: false,
    error: error.code === "execution_exists" || error.code === "workflow_changed" ||
        error.code === "tick_recorded" || error.code === "schedule_changed"
      ? { code: error.code, message: error.message }
      : error.code === "stale_epoch"
      ? { code: "not_owner", message: `shard ${shard} moved to another node; retry` }
      : { code: "conflict", message: error.message },
  };
}
