/**
 * Steering an execution from outside, the runtime's side: retry and rerun reopen an execution that ENDED (no
 * longer live anywhere: its actor retired at its end), and migrate moves a live one to another version.
 * Pause and resume are plain commands to the live actor (`Engine.pause`, `Engine.resume`).
 *
 * Reopening loads the ended execution's state from storage on the owner of its shard, makes an actor live
 * for it again under the epoch this engine holds the shard at (the fence recovery uses), and dispatches the
 * command through the actor's pump like any other: the append's summary puts the index back to `running`,
 * and the pump starts what the reopening scheduled.
 *
 * @module
 */
import { decide, type MigrateCommand, type RerunCommand, type RetryCommand } from "../../core/decide.ts";
import type { ExecutionState } from "../../core/state.ts";
import { isOrphan } from "../../core/timers.ts";
import { type ExecutionView, executionView } from "../../core/view.ts";
import type { ExecutionIndex, ExecutionLog } from "../../storage/storage.ts";
import { ExecutionActor, type Outcome } from "./actor.ts";
import type { Clock } from "./clock.ts";
import type { LiveExecutions } from "./live.ts";
import type { Observation } from "./observer.ts";
import type { EngineError, EngineLimits, Result } from "./options.ts";
import { type PlanSource, replayStored } from "./plans.ts";
import type { ActorPump } from "./pump.ts";

/** What steering needs of the engine. */
export interface SteeringDeps {
  storage: Pick<ExecutionIndex, "getExecution"> & Pick<ExecutionLog, "readEvents">;
  clock: Clock;
  limits: Pick<EngineLimits, "maxActiveExecutions" | "maxHistoryEvents">;
  live: LiveExecutions;
  observation: Observation;
  pump: ActorPump;
  plans: PlanSource;
  /** The shards this engine owns, with the epoch it holds each at. */
  epochs: ReadonlyMap<number, number>;
  /** An execution's state, live or replayed from storage (`Engine.state`). */
  state(executionId: string): Promise<ExecutionState | undefined>;
  /** Dispatches a command to a live execution (`Engine`'s commands: cancel, signal, pause). */
  command(executionId: string, command: MigrateCommand): Promise<Result<ExecutionView>>;
}

/** The commands that reopen an ended execution. */
export type ReopenCommand = RetryCommand | RerunCommand;

const notFound = (executionId: string): Result<never> => ({
  ok: false,
  error: { code: "execution_not_found", message: `no execution ${executionId}` },
});

/**
 * Retry, rerun and migrate on the engine's live executions.
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
 * // Steering is the engine's: `engine.retry`, `engine.rerun`, `engine.migrate` use it.
 * const storage = new MemoryStorage();
 * const put = await storage.putWorkflow({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }] }, "h", 0, Date.now());
 * if (!put.ok) throw new Error();
 * const engine = new Engine({ storage, clock: systemClock, newId: () => crypto.randomUUID(), executorFor,
 *   services: realServices(), nodeName: "n1", log: silentLogger });
 * await engine.start();
 * const r = await engine.submit(put.workflow, { input: null });
 * if (!r.ok) throw new Error();
 * await engine.wait(r.value.executionId, 5_000);
 * const again = await engine.rerun(r.value.executionId, "a");
 * await engine.wait(r.value.executionId, 5_000);
 * const view = await engine.view(r.value.executionId);
 * await engine.stop();
 * if (!again.ok || view?.status !== "completed" || view.nodes[0].attempts !== 2) throw new Error("rerun");
 * ```
 */
export class Steering {
  constructor(private readonly deps: SteeringDeps) {}

  /**
   * Retries or reruns an ended execution in place: live here again (on the owner of its shard), the command
   * decided and appended. Answers the execution's view after the reopening append.
   */
  async reopen(executionId: string, command: ReopenCommand): Promise<Result<ExecutionView>> {
    const { live } = this.deps;
    let known = live.actors.get(executionId);
    if (known?.creation !== undefined && known.state.lastSeq === 0) {
      // A submission's creation in flight (a late duplicate, say): its outcome first, then whatever is live.
      await known.creation.catch(() => {});
      known = live.actors.get(executionId);
    }
    if (known && known.state.status !== null && known.state.status !== "running") {
      // Ended, its end committed, and about to retire (its pump is finishing): retired now, so that the
      // reopening runs on an actor that stays live rather than on one on its way out.
      live.retire(executionId, known);
      known = undefined;
    }
    const actor = known ?? await this.#revive(executionId, command);
    if (!(actor instanceof ExecutionActor)) return actor;
    let outcome: Outcome;
    try {
      outcome = await this.deps.pump.dispatch(executionId, actor, command);
    } catch (err) {
      this.#retireIfEnded(executionId, actor);
      throw err;
    }
    if (!outcome.ok) {
      this.#retireIfEnded(executionId, actor);
      return { ok: false, error: "error" in outcome ? outcome.error : outcome.rejection };
    }
    return { ok: true, value: executionView(actor.state) };
  }

  /**
   * Migrates a live execution to `version` of its workflow: 404 `version_not_found` (at `$.version`) when the
   * workflow has no such version; the decider refuses the rest (`migration_refused`, `execution_terminal`).
   */
  async migrate(executionId: string, version: number): Promise<Result<ExecutionView>> {
    const state = await this.deps.state(executionId);
    if (!state || state.status === null) return notFound(executionId);
    const workflowId = state.plan.workflowId;
    const plan = await this.deps.plans.get(workflowId, version);
    if (!plan) {
      return {
        ok: false,
        error: {
          code: "version_not_found",
          message: `workflow ${workflowId} has no version ${version}`,
          path: "$.version",
        },
      };
    }
    return this.deps.command(executionId, { type: "Migrate", plan });
  }

  /**
   * An ended execution's actor, live again: its state loaded from storage and the command checked on it
   * first (a refusal costs no actor). Else the error to answer.
   */
  async #revive(executionId: string, command: ReopenCommand): Promise<ExecutionActor | Result<never>> {
    const { storage, live, epochs } = this.deps;
    const stored = await storage.getExecution(executionId);
    if (!stored) return notFound(executionId);
    const state = await replayStored(
      executionId,
      stored,
      await storage.readEvents(executionId),
      this.deps.plans,
    );
    if (state.status === null) return notFound(executionId);
    const d = decide(state, command, this.deps.clock.now(), {
      maxHistoryEvents: this.deps.limits.maxHistoryEvents,
    });
    if (!d.ok) return { ok: false, error: d.rejection };
    const waiting = await this.#parentWaits(state);
    if (waiting) return waiting;
    // Made live meanwhile (another call reopened it, the sweep recovered it): that actor decides.
    const current = live.actors.get(executionId);
    if (current) return current;
    const epoch = epochs.get(stored.shard);
    if (epoch === undefined || live.stopped) {
      return error({ code: "not_owner", message: `shard ${stored.shard} of ${executionId} is not here` });
    }
    if (live.actors.size >= this.deps.limits.maxActiveExecutions) {
      return error({ code: "overloaded", message: `${live.actors.size} executions are live; retry later` });
    }
    const actor = new ExecutionActor(state, { shard: stored.shard, epoch });
    live.actors.set(executionId, actor);
    this.deps.observation.recovered(actor);
    return actor;
  }

  /**
   * A child execution whose parent still waits for it (its end not counted yet) is not reopened: the parent
   * takes the output of its first end, and would count a second one as nothing (`409 parent_waiting`).
   */
  async #parentWaits(state: ExecutionState): Promise<Result<never> | undefined> {
    const link = state.parent;
    if (link === null || isOrphan(await this.deps.state(link.executionId), link)) return undefined;
    return error({
      code: "parent_waiting",
      message: `execution ${state.executionId} is a child of ${link.executionId}, which still waits for it ` +
        `(node ${link.nodeId}); retry or rerun it once its parent has counted its end`,
    });
  }

  /** A revived actor whose reopening did not commit goes again: an ended execution is not live. */
  #retireIfEnded(executionId: string, actor: ExecutionActor): void {
    const { live } = this.deps;
    if (actor.state.status !== "running" && live.actors.get(executionId) === actor && !actor.busy) {
      live.retire(executionId, actor);
    }
  }
}

function error(e: EngineError): Result<never> {
  return { ok: false, error: e };
}
