/**
 * Shard ownership: which shards this engine owns and at which epoch (the fencing token of its appends),
 * claiming them all when standalone or taking them as the cluster assigns them, giving them up, and
 * recovering their running executions from storage. The maintenance sweep lives here too: it continues
 * running executions of owned shards that are not live, and applies retention.
 *
 * @module
 */
import { pendingWork } from "../../core/timers.ts";
import type { ExecutionIndex, ExecutionLog, ShardLeases, StoredExecution } from "../../storage/storage.ts";
import { ExecutionActor } from "./actor.ts";
import type { Clock } from "./clock.ts";
import type { LiveExecutions } from "./live.ts";
import type { Logger } from "./logger.ts";
import type { Observation } from "./observer.ts";
import type { EngineLimits } from "./options.ts";
import { type PlanCache, replayStored } from "./plans.ts";
import type { ActorPump } from "./pump.ts";
import { type ConcurrencyGate, waitingSince } from "./concurrency.ts";

/** What shard ownership needs. */
export interface ShardDeps {
  storage: ShardLeases & ExecutionIndex & Pick<ExecutionLog, "readEvents">;
  clock: Clock;
  log: Logger;
  limits: EngineLimits;
  nodeName: string;
  shardCount: number;
  live: LiveExecutions;
  observation: Observation;
  plans: PlanCache;
  pump: ActorPump;
  /** Concurrency keys: rebuilt from the recovered executions, a shard's admissions held until it is recovered. */
  gate?: Pick<ConcurrencyGate, "recovered" | "recovering" | "dropShard" | "forget">;
  /** Told of an execution `recover` found ended, so not reloaded (child executions: `ChildRuntime.ended`). */
  ended?: (executionId: string) => void;
  /** The sweep's last step, after its reloads (child executions: `ChildRuntime.audit`). */
  audit?: () => Promise<void>;
}

/**
 * Told when the engine takes a shard up (its running executions recovered already) or gives it up: the
 * scheduler follows the engine's shards with one. Called synchronously; must not throw.
 */
export interface ShardListener {
  acquired(shard: number, epoch: number): void;
  released(shard: number): void;
}

/** The shards one engine owns, and their executions' recovery. */
export class ShardOwnership {
  /** Owned shards, with the epoch each is held at. */
  readonly epochs = new Map<number, number>();
  readonly #listeners: ShardListener[] = [];

  constructor(private readonly deps: ShardDeps) {}

  /** Adds a listener, told at once of every shard held now. */
  listen(listener: ShardListener): void {
    this.#listeners.push(listener);
    for (const [shard, epoch] of this.epochs) listener.acquired(shard, epoch);
  }

  /** Claims every shard (a single node owns them all) and recovers their running executions; returns how many. */
  async claimAll(): Promise<number> {
    const { storage, nodeName, shardCount } = this.deps;
    const known = new Map((await storage.getShards()).map((s) => [s.shard, s.epoch]));
    for (let shard = 0; shard < shardCount; shard++) {
      const claimed = await storage.claimShard(shard, nodeName, known.get(shard) ?? 0);
      if (!claimed) throw new Error(`could not claim shard ${shard}: another node took it meanwhile`);
      this.epochs.set(shard, claimed.epoch);
    }
    const running = await storage.listRunning([...this.epochs.keys()]);
    const recovered = this.deps.gate?.recovering(this.epochs.keys());
    try {
      for (const exec of running) await this.recover(exec.executionId);
    } finally {
      recovered?.();
    }
    for (const [shard, epoch] of this.epochs) this.#listeners.forEach((l) => l.acquired(shard, epoch));
    return running.length;
  }

  /**
   * Takes over a shard the cluster assigned at `epoch` (already claimed in storage): its running executions
   * are loaded and continued. Returns how many were recovered. When the recovery fails (storage), the shard is
   * given up again and the error rethrown: a shard held but never announced to the listeners would keep its
   * schedules unarmed for good (the cluster member re-claims it at its next sync).
   */
  async acquire(shard: number, epoch: number): Promise<number> {
    const held = this.epochs.get(shard);
    if (held !== undefined && held >= epoch) return 0;
    if (held !== undefined) this.release(shard);
    this.epochs.set(shard, epoch);
    let running: StoredExecution[];
    const recovered = this.deps.gate?.recovering([shard]);
    try {
      running = await this.deps.storage.listRunning([shard]);
      for (const exec of running) {
        if (this.epochs.get(shard) !== epoch) break; // lost it again meanwhile
        if (!this.deps.live.actors.has(exec.executionId)) await this.recover(exec.executionId);
      }
    } catch (err) {
      if (this.epochs.get(shard) === epoch) this.release(shard);
      throw err;
    } finally {
      recovered?.();
    }
    if (this.epochs.get(shard) === epoch) this.#listeners.forEach((l) => l.acquired(shard, epoch));
    return running.length;
  }

  /** Gives a shard up at once: its live executions stop here (their state is in storage). */
  release(shard: number): void {
    if (this.epochs.delete(shard)) this.#listeners.forEach((l) => l.released(shard));
    this.deps.gate?.dropShard(shard);
    const live = this.deps.live;
    for (const [id, actor] of [...live.actors]) {
      if (actor.fence.shard === shard) live.retire(id, actor);
    }
    // A finished execution is not final any more (a retry or rerun may reopen it on the shard's next owner):
    // the finished states kept here could go stale, so none is served after a shard leaves.
    live.forgetFinished();
  }

  /**
   * Maintenance: continues running executions of owned shards that are not live here (an append whose
   * acknowledgement was lost, say), then deletes, in bounded batches, ended executions past their retention:
   * their workflow's own `retentionMs` (`expiresAt`), else the node's `retentionMs` (when not 0). Returns what
   * it did.
   */
  async sweep(): Promise<{ recovered: number; deleted: number }> {
    const { storage, limits, live } = this.deps;
    let recovered = 0;
    for (const exec of await storage.listRunning([...this.epochs.keys()])) {
      if (!live.actors.has(exec.executionId)) {
        await this.recover(exec.executionId);
        recovered++;
      }
    }
    await this.deps.audit?.();
    const now = this.deps.clock.now();
    let deleted = 0;
    if (limits.retentionMs > 0) {
      // The node's retention, over executions whose workflow has none of its own.
      const before = now - limits.retentionMs;
      deleted += await this.#deleteInBatches((n) => storage.deleteFinishedBefore(before, n));
    }
    // The workflows' own retention (`expiresAt`), whatever the node's.
    deleted += await this.#deleteInBatches((n) => storage.deleteExpired(now, n));
    if (deleted > 0) live.forgetFinished(); // never serve what retention deleted
    if (recovered > 0 || deleted > 0) this.deps.log.info("sweep", { recovered, deleted });
    return { recovered, deleted };
  }

  /** Runs a retention pass in batches of `retentionBatch`, at most 20 a sweep; returns how many it deleted. */
  async #deleteInBatches(batch: (limit: number) => Promise<number>): Promise<number> {
    const limit = this.deps.limits.retentionBatch;
    let deleted = 0;
    for (let round = 0; round < 20; round++) {
      const n = await batch(limit);
      deleted += n;
      if (n < limit) break;
    }
    return deleted;
  }

  /** Loads a running execution of an owned shard from storage and continues it. */
  async recover(executionId: string): Promise<void> {
    const { storage, live, pump } = this.deps;
    const stored = await storage.getExecution(executionId);
    if (!stored || stored.status !== "running") {
      // Ended meanwhile (its ending append committed, the acknowledgement lost): what its actor would have
      // done at its end is done now — its concurrency slot (or its place in a queue) freed, the rest.
      if (!live.actors.has(executionId)) this.deps.gate?.forget(executionId);
      if (stored) this.deps.ended?.(executionId);
      return;
    }
    const epoch = this.epochs.get(stored.shard);
    if (epoch === undefined) return;
    const events = await storage.readEvents(executionId);
    const state = await replayStored(executionId, stored, events, this.deps.plans);
    const actor = new ExecutionActor(state, { shard: stored.shard, epoch });
    live.actors.set(executionId, actor);
    this.deps.observation.recovered(actor);
    this.deps.gate?.recovered(executionId, stored.shard, state, waitingSince(events));
    // Scheduled-but-unstarted nodes are started, running attempts re-run, due timers fire.
    const toStart = pendingWork(state).toStart;
    if (toStart.length > 0) {
      for (const nodeId of toStart) {
        pump.enqueue(executionId, actor, { command: { type: "StartNode", nodeId } });
      }
    } else pump.react(executionId, actor);
  }
}
