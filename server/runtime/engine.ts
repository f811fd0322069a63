/**
 * The node runtime: it runs executions. Each live execution is an actor that
 * turns commands into events with the pure decider, appends them (fenced) to
 * storage, and only then acts on them: arms durable timers, starts node attempts,
 * answers its callers. Clock, ids, storage and node effects are injected, so the
 * simulator runs this same code on a virtual clock.
 *
 * @module
 */
import { type Command, decide, type Decision, edgeLive, type Rejection } from "../../core/decide.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import { DEFAULT_SHARD_COUNT, executionIdFor, shardOf } from "../../core/ids.ts";
import type { Json } from "../../core/json.ts";
import { compilePlan, type Plan, type PlanNode } from "../../core/plan.ts";
import { type ExecutionState, type ExecutionStatus, initialState, replay } from "../../core/state.ts";
import { pendingTimers, pendingWork } from "../../core/timers.ts";
import { executionSummary, type ExecutionView, executionView } from "../../core/view.ts";
import type {
  AppendError,
  AppendRequest,
  AppendResult,
  Fence,
  OutputWrite,
  Storage,
  StoredWorkflow,
} from "../../storage/storage.ts";
import { BoundedCache } from "../../core/cache.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "../runtime/logger.ts";
import { enforceLimits } from "../executors/limits.ts";
import {
  type Executor,
  type NodeContext,
  NodeError,
  type NodeInputs,
  type NodeServices,
} from "../executors/executor.ts";
import { TimerQueue } from "./timer_queue.ts";

/** Bounds of one engine. */
export interface EngineLimits {
  /** Records one node may emit. */
  maxRecords: number;
  /** Bytes (as JSON) one node may emit. */
  maxBytes: number;
  /** Executions live at once; a submission over it is refused with `overloaded`. */
  maxActiveExecutions: number;
  /** Node attempts running at once; more wait their turn. */
  maxConcurrentAttempts: number;
  /** Waiters on `wait()` at once. */
  maxWaiters: number;
  /** How long a finished execution keeps its history (retention); 0 keeps it forever. */
  retentionMs: number;
  /** How often the maintenance sweep runs (reconcile running executions, retention). */
  sweepIntervalMs: number;
  /** Executions deleted per retention batch. */
  retentionBatch: number;
  /**
   * Local nodes run inside the append that starts them until their outputs reach this many bytes of JSON
   * (one node's output may go over); the rest run after the commit. 0 runs every node after a commit.
   */
  localBatchBytes: number;
  /** ... and for at most this long (clock ms). */
  localBatchMs: number;
}

/** The defaults of `EngineLimits`. */
export const DEFAULT_ENGINE_LIMITS: Readonly<EngineLimits> = Object.freeze({
  maxRecords: 100_000,
  maxBytes: 16 * 1024 * 1024,
  maxActiveExecutions: 250_000,
  maxConcurrentAttempts: 256,
  maxWaiters: 10_000,
  retentionMs: 7 * 24 * 3_600_000,
  sweepIntervalMs: 5_000,
  retentionBatch: 500,
  localBatchBytes: 1024 * 1024,
  localBatchMs: 50,
});

/** An execution as observers see it. */
export interface ObservedExecution {
  executionId: string;
  workflowId: string;
  version: number;
  shard: number;
  /** When it was submitted (epoch ms, the engine's clock). */
  submittedAt: number;
  /** False when it was just submitted here; true when it was loaded from storage (a restart, a failover). */
  recovered: boolean;
}

/** One node attempt as observers see it. */
export interface ObservedAttempt {
  executionId: string;
  nodeId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** How an attempt's executor ended: returned records, threw, or was aborted (superseded, cancelled, moved). */
export type AttemptOutcome = "completed" | "failed" | "aborted";

/**
 * Hooks the engine calls as executions and attempts run (server/ops/metrics.ts counts them, server/ops/tracing.ts
 * makes spans of them). Every method is optional; each is called synchronously on the engine's path, so it
 * must be cheap (O(1)) and must not throw. `kind` is a node's `${type}/${nodeType}` (a bounded set: the
 * catalog). A value returned by `executionStarted` / `attemptStarted` is a handle the engine keeps and hands
 * back (a span, say); the engine never looks into it.
 */
export interface EngineObserver {
  /**
   * An execution became live here: submitted (called before its first attempt runs, which may be before its
   * first append commits) or recovered from storage.
   */
  executionStarted?(execution: ObservedExecution): unknown;
  /** A submitted execution's first events committed: it exists now (a refused duplicate never gets here). */
  executionCreated?(handle: unknown): void;
  /** Its terminal event committed here; `durationMs` runs from submission to the end (both from events). */
  executionEnded?(status: ExecutionStatus, durationMs: number, handle: unknown): void;
  /** It stopped being live here without ending (its shard moved, the engine stopped, a reload). */
  executionReleased?(handle: unknown): void;
  /** An executor is about to run an attempt of a node of this kind. */
  attemptStarted?(kind: string, attempt: ObservedAttempt, execution: unknown): unknown;
  /** The executor returned, threw, or was aborted, after `durationMs`. */
  attemptEnded?(kind: string, outcome: AttemptOutcome, durationMs: number, handle: unknown): void;
  /** Runs the executor "inside" the attempt (a tracer makes its span the active one); returns `fn()`. */
  runAttempt?<T>(handle: unknown, fn: () => T): T;
  /** The W3C `traceparent` of an attempt, handed to executors (the http node sends it). */
  traceparent?(handle: unknown): string | undefined;
  /** A failed attempt of a node of this kind will be retried (NodeRetryScheduled committed). */
  retryScheduled?(kind: string): void;
  /** An attempt of a node of this kind failed (NodeFailed committed: an error or a timeout; a retry may follow). */
  nodeFailed?(kind: string): void;
  /** One append of `events` events committed (or was refused) after `ms`, queueing in a commit group included. */
  appendCommitted?(ms: number, events: number): void;
  /** An append threw (storage unreachable) after `ms`. */
  appendFailed?(ms: number): void;
}

/** What an engine is made of. */
export interface EngineOptions {
  storage: Storage;
  clock: Clock;
  /** A fresh unique id (execution ids without an idempotency key). */
  newId: () => string;
  executorFor: (type: string, nodeType: string) => Executor | undefined;
  services: NodeServices;
  /** This node's name, the owner written into shard records. */
  nodeName: string;
  log: Logger;
  shardCount?: number;
  limits?: Partial<EngineLimits>;
  /** Where appends go: a commit group over `storage` (default: `storage` itself). */
  appender?: { append(request: AppendRequest): Promise<AppendResult> };
  /** Metrics and traces (none by default: the simulator runs without them). */
  observer?: EngineObserver;
}

/** A submission of one execution. */
export interface Submission {
  /** The execution id, when the caller derived it already (routing needs it first). */
  executionId?: string;
  input: Json;
  idempotencyKey?: string;
  /** A hash of the request, compared when the idempotency key was seen before. */
  requestHash?: string;
  timeoutMs?: number;
  /**
   * Create it only if `workflow` is the latest live version as its creating append sees it (the workflow
   * came from a cache); else the submission fails with `workflow_changed` (`AppendRequest.requireLatestVersion`).
   */
  requireLatestVersion?: boolean;
}

/** Errors the engine returns as values; `code` is stable and maps to an HTTP status. */
export type EngineError =
  | Rejection
  | { code: "execution_not_found"; message: string }
  | { code: "node_not_found"; message: string }
  | { code: "idempotency_mismatch"; message: string; executionId: string }
  | { code: "overloaded"; message: string }
  | { code: "not_owner"; message: string }
  | { code: "conflict"; message: string }
  | { code: "execution_exists"; message: string }
  | { code: "workflow_changed"; message: string };

/** A result: a value or an `EngineError`. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: EngineError };

interface Pending {
  command: Command;
  /** Records to store with the command's events (a completed attempt's output). */
  outputs?: OutputWrite[];
  resolve?: (d: Decision | { ok: false; error: EngineError }) => void;
  reject?: (e: unknown) => void;
}

/** A finished attempt: the command it becomes, the records to store, and their size as JSON. */
interface AttemptResult {
  command: Command;
  outputs?: OutputWrite[];
  bytes: number;
}

const STORAGE_RETRY_MS = [50, 100, 200, 500, 1000, 2000];
/** Finished executions kept in memory for reads right after their end: how many, and how long. */
const FINISHED_CACHE = 10_000;
const FINISHED_TTL_MS = 60_000;

class ExecutionActor {
  inbox: Pending[] = [];
  busy = false;
  failures = 0;
  // Created on first use: an idle execution (waiting on a timer or a signal) should cost little memory.
  inflight: Map<string, AbortController> | undefined = undefined;
  armed: Set<string> | undefined = undefined;
  outputs: Map<string, Json[]> | undefined = undefined;
  waiters: Set<() => void> | undefined = undefined;
  /** The observer's handle of this execution (see `EngineObserver.executionStarted`). */
  observed: unknown = undefined;
  /** Whether the observer was told it started and not yet that it ended or was released. */
  observing = false;
  /** Aborts the local attempt running inside the pump, if any (the actor retires, the engine stops). */
  localAbort: AbortController | undefined = undefined;
  /** Whether its creating append requires its workflow version to be the latest (`Submission`). */
  requireLatestVersion = false;
  /** The submission that creates it here: the decision on its first append. */
  creation: Promise<Decision | { ok: false; error: EngineError }> | undefined = undefined;
  constructor(public state: ExecutionState, readonly fence: Fence) {}
}

/** A node's kind as observers label it. */
function kindOf(node: PlanNode): string {
  return `${node.type}/${node.nodeType}`;
}

/**
 * The runtime of one node. Start it, submit executions, read them back.
 *
 * @example
 * ```ts ignore
 * const engine = new Engine({ storage, clock: systemClock, newId: () => crypto.randomUUID(), ... });
 * await engine.start();
 * const r = await engine.submit(workflow, { input: null });
 * ```
 */
export class Engine {
  readonly limits: EngineLimits;
  readonly shardCount: number;
  #actors = new Map<string, ExecutionActor>();
  #finished = new BoundedCache<string, { state: ExecutionState; until: number }>(FINISHED_CACHE);
  #epochs = new Map<number, number>();
  #plans = new BoundedCache<string, Plan>(1000);
  #timers: TimerQueue;
  #attemptSlots: number;
  #attemptQueue: (() => void)[] = [];
  #waiters = 0;
  #started = false;
  #stopped = false;
  #sweepTimer: unknown = null;
  #appender: { append(request: AppendRequest): Promise<AppendResult> };
  #observer: EngineObserver | undefined;

  constructor(private readonly opts: EngineOptions) {
    this.#observer = opts.observer;
    this.limits = { ...DEFAULT_ENGINE_LIMITS, ...(opts.limits ?? {}) };
    this.shardCount = opts.shardCount ?? DEFAULT_SHARD_COUNT;
    this.#attemptSlots = this.limits.maxConcurrentAttempts;
    this.#appender = opts.appender ?? opts.storage;
    this.#timers = new TimerQueue(opts.clock, (executionId, timerId) => {
      const actor = this.#actors.get(executionId);
      if (actor) {
        actor.armed?.delete(timerId);
        this.#enqueue(executionId, actor, { command: { type: "FireTimer", timerId } });
      }
    });
  }

  /** Whether `start()` finished: shards claimed and running executions recovered. */
  get ready(): boolean {
    return this.#started && !this.#stopped;
  }

  /** Executions live in this process. */
  get activeExecutions(): number {
    return this.#actors.size;
  }

  /** Timers armed. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Starts the engine. Standalone (the default), it claims every shard — a single
   * node owns them all — and recovers the executions still running. In a cluster
   * (`claimAllShards: false`) it owns nothing until the cluster hands it shards
   * with `acquireShard`.
   */
  async start(opts: { claimAllShards?: boolean } = {}): Promise<void> {
    let recovered = 0;
    if (opts.claimAllShards ?? true) {
      const known = new Map((await this.opts.storage.getShards()).map((s) => [s.shard, s.epoch]));
      for (let shard = 0; shard < this.shardCount; shard++) {
        const claimed = await this.opts.storage.claimShard(shard, this.opts.nodeName, known.get(shard) ?? 0);
        if (!claimed) throw new Error(`could not claim shard ${shard}: another node took it meanwhile`);
        this.#epochs.set(shard, claimed.epoch);
      }
      const running = await this.opts.storage.listRunning([...this.#epochs.keys()]);
      for (const exec of running) await this.#recover(exec.executionId);
      recovered = running.length;
    }
    this.#started = true;
    this.opts.log.info("engine started", { shards: this.#epochs.size, recovered });
    this.#scheduleSweep();
  }

  /** The shards this engine owns, with the epoch it holds each at. */
  get ownedShards(): ReadonlyMap<number, number> {
    return this.#epochs;
  }

  /** Live executions per shard. */
  liveByShard(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const a of this.#actors.values()) counts.set(a.fence.shard, (counts.get(a.fence.shard) ?? 0) + 1);
    return counts;
  }

  /**
   * Takes over a shard the cluster assigned to this node at `epoch` (already
   * claimed in storage): its running executions are loaded and continued.
   * Returns how many were recovered.
   */
  async acquireShard(shard: number, epoch: number): Promise<number> {
    const held = this.#epochs.get(shard);
    if (held !== undefined && held >= epoch) return 0;
    if (held !== undefined) this.releaseShard(shard);
    this.#epochs.set(shard, epoch);
    const running = await this.opts.storage.listRunning([shard]);
    for (const exec of running) {
      if (this.#epochs.get(shard) !== epoch) break; // lost it again meanwhile
      if (!this.#actors.has(exec.executionId)) await this.#recover(exec.executionId);
    }
    return running.length;
  }

  /** Gives a shard up at once: its live executions stop here (their state is in storage). */
  releaseShard(shard: number): void {
    this.#epochs.delete(shard);
    for (const [id, actor] of [...this.#actors]) {
      if (actor.fence.shard === shard) this.#retire(id, actor);
    }
  }

  #scheduleSweep(): void {
    if (this.#stopped) return;
    this.#sweepTimer = this.opts.clock.setTimer(this.limits.sweepIntervalMs, () => {
      this.sweep().catch((err) => this.opts.log.warn("sweep failed", { error: String(err) }))
        .finally(() => this.#scheduleSweep());
    });
  }

  /**
   * Maintenance: continues running executions of owned shards that are not live
   * here (an append whose acknowledgement was lost, say), then deletes, in
   * bounded batches, executions that ended longer ago than the retention.
   * Returns what it did.
   */
  async sweep(): Promise<{ recovered: number; deleted: number }> {
    let recovered = 0;
    for (const exec of await this.opts.storage.listRunning([...this.#epochs.keys()])) {
      if (!this.#actors.has(exec.executionId)) {
        await this.#recover(exec.executionId);
        recovered++;
      }
    }
    let deleted = 0;
    if (this.limits.retentionMs > 0) {
      const before = this.opts.clock.now() - this.limits.retentionMs;
      for (let round = 0; round < 20; round++) {
        const n = await this.opts.storage.deleteFinishedBefore(before, this.limits.retentionBatch);
        deleted += n;
        if (n < this.limits.retentionBatch) break;
      }
    }
    if (deleted > 0) this.#finished.clear(); // never serve what retention deleted
    if (recovered > 0 || deleted > 0) this.opts.log.info("sweep", { recovered, deleted });
    return { recovered, deleted };
  }

  /** Stops timers and node attempts. Acknowledged work stays in storage for the next start. */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweepTimer !== null) this.opts.clock.clearTimer(this.#sweepTimer);
    this.#timers.stop();
    for (const actor of this.#actors.values()) {
      for (const c of actor.inflight?.values() ?? []) c.abort(new Error("engine stopping"));
      actor.localAbort?.abort(new Error("engine stopping"));
      for (const w of actor.waiters ?? []) w();
      this.#released(actor);
    }
    this.#actors.clear();
    return Promise.resolve();
  }

  /** The plan of a workflow version, compiled once. */
  async plan(workflowId: string, version: number): Promise<Plan | undefined> {
    const key = `${workflowId}@${version}`;
    const cached = this.#plans.get(key);
    if (cached) return cached;
    const stored = await this.opts.storage.getWorkflow(workflowId, version);
    if (!stored) return undefined;
    return this.#cachePlan(stored);
  }

  #cachePlan(stored: StoredWorkflow): Plan {
    const key = `${stored.id}@${stored.version}`;
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = compilePlan(stored.definition, stored.version);
      this.#plans.set(key, plan);
    }
    return plan;
  }

  /**
   * The id of a new execution of `workflowId`: derived from its idempotency key when it has one (so a retry
   * finds the same execution, on whichever member it lands), else fresh. The one place an id is made.
   */
  newExecutionId(workflowId: string, idempotencyKey?: string): string {
    return idempotencyKey !== undefined
      ? executionIdFor(workflowId, idempotencyKey)
      : `ex-${this.opts.newId()}`;
  }

  /**
   * Starts an execution of a stored workflow version. Acknowledged (resolved ok)
   * only once its first events are in storage. With an idempotency key, the same
   * key returns the same execution (`created: false`).
   */
  async submit(
    workflow: StoredWorkflow,
    sub: Submission,
  ): Promise<Result<{ executionId: string; created: boolean }>> {
    if (!this.ready) return { ok: false, error: { code: "overloaded", message: "the engine is not ready" } };
    const executionId = sub.executionId ?? this.newExecutionId(workflow.id, sub.idempotencyKey);
    // A duplicate still live here is answered at once; one stored already is caught by the creating
    // append (`execution_exists`), so a first submission costs no extra read.
    const live = this.#actors.get(executionId);
    if (sub.idempotencyKey !== undefined && live) {
      // Created here but not committed yet: its creation decides (a refused one must not be acknowledged).
      if (live.creation !== undefined && live.state.lastSeq === 0) {
        const first = await live.creation;
        // Refused as existing: stored before (a retry of a retired execution), so this is a duplicate too.
        const exists = !first.ok && "error" in first && first.error.code === "execution_exists";
        if (!first.ok && !exists) {
          return { ok: false, error: "error" in first ? first.error : first.rejection };
        }
      }
      return this.#duplicate(executionId, sub);
    }
    if (this.#actors.size >= this.limits.maxActiveExecutions) {
      return {
        ok: false,
        error: { code: "overloaded", message: `${this.#actors.size} executions are live; retry later` },
      };
    }
    const plan = this.#cachePlan(workflow);
    const shard = shardOf(executionId, this.shardCount);
    const epoch = this.#epochs.get(shard);
    if (epoch === undefined) {
      return { ok: false, error: { code: "not_owner", message: `shard ${shard} is not here` } };
    }
    const actor = new ExecutionActor(initialState(executionId, plan), { shard, epoch });
    actor.requireLatestVersion = sub.requireLatestVersion === true;
    this.#actors.set(executionId, actor);
    actor.creation = this.#dispatch(executionId, actor, {
      type: "Start",
      input: sub.input,
      idempotencyKey: sub.idempotencyKey ?? null,
      timeoutMs: sub.timeoutMs ?? null,
    }, sub.requestHash);
    const decision = await actor.creation;
    actor.creation = undefined; // decided: later duplicates see the committed state (or no actor)
    if (!decision.ok) {
      if ("error" in decision && decision.error.code === "execution_exists") {
        // Another submission created it first: with a key it is this one's duplicate.
        if (sub.idempotencyKey !== undefined) return this.#duplicate(executionId, sub);
        return { ok: false, error: { code: "conflict", message: decision.error.message } };
      }
      return { ok: false, error: "error" in decision ? decision.error : decision.rejection };
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
    const actor = this.#actors.get(executionId);
    if (actor) return actor.state;
    const finished = this.#finished.get(executionId);
    if (finished && finished.until > this.opts.clock.now()) return finished.state;
    const stored = await this.opts.storage.getExecution(executionId);
    if (!stored) return undefined;
    const plan = await this.plan(stored.workflowId, stored.version);
    if (!plan) {
      throw new Error(`assertion: workflow ${stored.workflowId}@${stored.version} of ${executionId} is gone`);
    }
    return replay(executionId, plan, await this.opts.storage.readEvents(executionId));
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
    const actor = this.#actors.get(executionId);
    return { ok: true, value: await this.#outputOf(state, actor, node) };
  }

  /** Waits until the execution ends or `ms` passes; returns its view then. */
  async wait(executionId: string, ms: number): Promise<ExecutionView | undefined> {
    const actor = this.#actors.get(executionId);
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

  async #command(executionId: string, command: Command): Promise<Result<ExecutionView>> {
    const actor = this.#actors.get(executionId);
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
    const d = await this.#dispatch(executionId, actor, command);
    if (!d.ok) return { ok: false, error: "error" in d ? d.error : d.rejection };
    return { ok: true, value: executionView(actor.state) };
  }

  #dispatch(
    executionId: string,
    actor: ExecutionActor,
    command: Command,
    requestHash?: string,
  ): Promise<Decision | { ok: false; error: EngineError }> {
    return new Promise((resolve, reject) => {
      this.#enqueue(executionId, actor, { command, resolve, reject }, requestHash);
    });
  }

  #enqueue(executionId: string, actor: ExecutionActor, item: Pending, requestHash?: string): void {
    actor.inbox.push(item);
    if (!actor.busy) void this.#pump(executionId, actor, requestHash);
  }

  /** Drains an actor's inbox: decides every queued command, appends the events once, then reacts. */
  async #pump(executionId: string, actor: ExecutionActor, requestHash?: string): Promise<void> {
    actor.busy = true;
    try {
      while (actor.inbox.length > 0 && !this.#stopped) {
        const batch = actor.inbox.splice(0, actor.inbox.length);
        let state = actor.state;
        const events: ExecutionEvent[] = [];
        const outputs: OutputWrite[] = [];
        const decisions: Decision[] = [];
        const now = this.opts.clock.now();
        const apply = (d: Decision) => {
          if (d.ok && d.events.length > 0) {
            state = d.state;
            for (const e of d.events) events.push(e);
          }
        };
        /** Outputs of this batch, not committed yet: local nodes read their inputs here first. */
        const staged = new Map<string, Json[]>();
        const startReady = (at: number) => {
          for (let ready = pendingWork(state).toStart; ready.length > 0; ready = pendingWork(state).toStart) {
            for (const nodeId of ready) apply(decide(state, { type: "StartNode", nodeId }, at));
          }
        };
        for (const item of batch) {
          const d = decide(state, item.command, now);
          decisions.push(d);
          if (d.ok && d.events.length > 0 && item.outputs) {
            for (const o of item.outputs) {
              outputs.push(o);
              staged.set(o.ref, o.records);
            }
          }
          apply(d);
          startReady(now);
        }
        // Local nodes started by these events run now, inside this commit: their records and their end
        // join the same append, and so do the nodes they start. Bounded: at most `localBatchBytes` of output
        // and `localBatchMs` of work, and no further once a command (a cancel, a signal) is waiting; nodes
        // with a timeout are left to the ordinary path, where their timer is armed before they run. What is
        // left runs after the commit, as other nodes do (`#react`).
        let stagedBytes = 0;
        const localSince = this.opts.clock.now();
        const within = () =>
          stagedBytes < this.limits.localBatchBytes &&
          this.opts.clock.now() - localSince < this.limits.localBatchMs &&
          actor.inbox.length === 0 && state.status === "running";
        for (let round = 0; within(); round++) {
          if (round > state.plan.nodes.length) throw new Error("assertion: local nodes did not converge");
          const local = pendingWork(state).toRun.filter((w) => {
            const node = state.plan.byId.get(w.nodeId)!;
            return node.local && node.timeoutMs === null && !actor.inflight?.has(`${w.nodeId}#${w.attempt}`);
          });
          if (local.length === 0) break;
          if (actor.state.lastSeq === 0) this.#observeStart(actor, state);
          actor.localAbort = new AbortController();
          for (const { nodeId, attempt } of local) {
            if (!within()) break;
            const node = state.plan.byId.get(nodeId)!;
            const r = await this.#attempt(
              executionId,
              actor,
              state,
              node,
              attempt,
              actor.localAbort.signal,
              staged,
            );
            if (this.#stopped || this.#actors.get(executionId) !== actor) {
              // Retired (its shard moved) or stopped meanwhile: nothing was appended; callers retry elsewhere.
              const gone = {
                code: "not_owner" as const,
                message: `execution ${executionId} is no longer live here`,
              };
              for (const item of [...batch, ...actor.inbox.splice(0)]) {
                item.resolve?.({ ok: false, error: gone });
              }
              return;
            }
            const d = decide(state, r.command, this.opts.clock.now());
            if (d.ok && d.events.length > 0 && r.outputs) {
              for (const o of r.outputs) {
                outputs.push(o);
                staged.set(o.ref, o.records);
              }
              stagedBytes += r.bytes;
            }
            apply(d);
          }
          actor.localAbort = undefined;
          startReady(this.opts.clock.now());
        }
        if (events.length > 0) {
          const obs = this.#observer;
          const t0 = obs ? performance.now() : 0;
          let failure: AppendError | undefined;
          try {
            const r = await this.#appender.append({
              executionId,
              expectedSeq: actor.state.lastSeq,
              fence: actor.fence,
              events,
              summary: executionSummary(state),
              outputs,
              nextTimerAt: pendingTimers(state)[0]?.dueAt ?? null,
              idempotencyKey: actor.state.lastSeq === 0 ? state.idempotencyKey : undefined,
              requestHash: actor.state.lastSeq === 0 ? requestHash ?? null : undefined,
              requireLatestVersion: actor.state.lastSeq === 0 && actor.requireLatestVersion,
            });
            if (!r.ok) failure = r.error;
          } catch (err) {
            obs?.appendFailed?.(performance.now() - t0);
            this.#storageFailed(executionId, actor, batch, err);
            return;
          }
          obs?.appendCommitted?.(performance.now() - t0, events.length);
          if (failure) {
            this.#appendRefused(executionId, actor, batch, failure);
            return;
          }
          const before = actor.state;
          actor.failures = 0;
          actor.state = state;
          for (const o of outputs) (actor.outputs ??= new Map()).set(o.ref, o.records);
          this.#committed(actor, before, events);
        }
        batch.forEach((item, i) => item.resolve?.(decisions[i]));
        this.#react(executionId, actor);
      }
    } finally {
      actor.busy = false;
    }
  }

  /** Tells the observer (and the debug log) what a committed batch did: a start, retries, failures, the end. */
  #committed(actor: ExecutionActor, before: ExecutionState, events: ExecutionEvent[]): void {
    const state = actor.state;
    const obs = this.#observer;
    if (before.lastSeq === 0 && state.status !== null) {
      this.#observeStart(actor, state);
      obs?.executionCreated?.(actor.observed);
      this.opts.log.debug("execution started", this.#fields("execution_started", actor));
    }
    if (obs && (obs.retryScheduled || obs.nodeFailed)) {
      for (const e of events) {
        if (e.type === "NodeRetryScheduled") obs.retryScheduled?.(kindOf(state.plan.byId.get(e.nodeId)!));
        else if (e.type === "NodeFailed") obs.nodeFailed?.(kindOf(state.plan.byId.get(e.nodeId)!));
      }
    }
    if (state.status !== null && state.status !== "running" && before.status !== state.status) {
      const durationMs = (state.endedAt ?? 0) - (state.startedAt ?? 0);
      if (actor.observing) obs?.executionEnded?.(state.status, durationMs, actor.observed);
      actor.observing = false;
      this.opts.log.debug("execution ended", {
        ...this.#fields("execution_ended", actor),
        status: state.status,
        durationMs,
      });
    }
  }

  /**
   * Tells the observer a submitted execution started (once): when its first append commits, or just before
   * local nodes run inside that first append, so their attempts have the execution as their parent.
   */
  #observeStart(actor: ExecutionActor, state: ExecutionState): void {
    if (actor.observing) return;
    const obs = this.#observer;
    if (obs?.executionStarted) {
      actor.observed = obs.executionStarted({
        executionId: state.executionId,
        workflowId: state.plan.workflowId,
        version: state.plan.version,
        shard: actor.fence.shard,
        submittedAt: state.startedAt ?? this.opts.clock.now(),
        recovered: false,
      });
    }
    actor.observing = true;
  }

  /** The execution is no longer live here without having ended: the observer lets go of it. */
  #released(actor: ExecutionActor): void {
    if (!actor.observing) return;
    actor.observing = false;
    this.#observer?.executionReleased?.(actor.observed);
  }

  /** The log fields of an execution. */
  #fields(event: string, actor: ExecutionActor): Record<string, unknown> {
    return {
      event,
      executionId: actor.state.executionId,
      workflowId: actor.state.plan.workflowId,
      shard: actor.fence.shard,
    };
  }

  /** Storage threw: callers waiting on an answer get the error; internal commands are retried. */
  #storageFailed(executionId: string, actor: ExecutionActor, batch: Pending[], err: unknown): void {
    const internal = batch.filter((p) => !p.resolve);
    for (const p of batch) p.reject?.(err);
    this.opts.log.warn("append failed; will retry", {
      ...this.#fields("append_failed", actor),
      error: String(err),
      retrying: internal.length,
    });
    if (actor.state.lastSeq === 0) {
      this.#released(actor);
      this.#actors.delete(executionId);
      return;
    }
    actor.inbox.unshift(...internal);
    const delay = STORAGE_RETRY_MS[Math.min(actor.failures++, STORAGE_RETRY_MS.length - 1)];
    this.opts.clock.setTimer(delay, () => {
      if (!this.#stopped && this.#actors.get(executionId) === actor && !actor.busy) {
        void this.#pump(executionId, actor);
      }
    });
  }

  /** Storage refused the append: a stale epoch means the shard is lost; otherwise reload. */
  #appendRefused(executionId: string, actor: ExecutionActor, batch: Pending[], error: AppendError): void {
    // What the callers hear: a duplicate creation is for submit to resolve; a fenced-off write means this
    // node no longer owns the shard (retry: the call will be routed to the new owner); else a conflict.
    const answer: { ok: false; error: EngineError } = {
      ok: false,
      error: error.code === "execution_exists" || error.code === "workflow_changed"
        ? { code: error.code, message: error.message }
        : error.code === "stale_epoch"
        ? { code: "not_owner", message: `shard ${actor.fence.shard} moved to another node; retry` }
        : { code: "conflict", message: error.message },
    };
    // Commands queued behind the refused append are answered the same way: this actor will not pump again.
    for (const p of [...batch, ...actor.inbox.splice(0)]) p.resolve?.(answer);
    this.#retire(executionId, actor);
    if (error.code === "stale_epoch") {
      this.opts.log.warn("shard lost: write fenced off", this.#fields("shard_lost", actor));
      this.releaseShard(actor.fence.shard);
    } else if (error.code === "sequence_conflict") {
      this.opts.log.warn("sequence conflict; reloading execution", this.#fields("sequence_conflict", actor));
      this.#recover(executionId).catch((err) =>
        this.opts.log.warn("reload failed; the sweep will retry", { executionId, error: String(err) })
      );
    }
  }

  #retire(executionId: string, actor: ExecutionActor): void {
    for (const c of actor.inflight?.values() ?? []) c.abort(new Error("execution no longer live here"));
    actor.inflight = undefined;
    actor.localAbort?.abort(new Error("execution no longer live here"));
    if (actor.state.status !== null && actor.state.status !== "running") this.#remember(actor.state);
    for (const w of actor.waiters ?? []) w();
    this.#released(actor);
    if (this.#actors.get(executionId) === actor) this.#actors.delete(executionId);
  }

  /** Keeps a finished execution's (final, committed) state for a while, so reads right after need no storage. */
  #remember(state: ExecutionState): void {
    this.#finished.set(state.executionId, { state, until: this.opts.clock.now() + FINISHED_TTL_MS });
  }

  /** Acts on committed state: timers, node attempts, waiters; retires a finished execution. */
  #react(executionId: string, actor: ExecutionActor): void {
    const state = actor.state;
    if (state.status !== "running") {
      this.#retire(executionId, actor);
      return;
    }
    for (const t of pendingTimers(state)) {
      if (!actor.armed?.has(t.id)) {
        (actor.armed ??= new Set()).add(t.id);
        this.#timers.add(executionId, t.id, t.dueAt);
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
      void this.#runAttempt(executionId, actor, state.plan.byId.get(nodeId)!, attempt, controller);
    }
  }

  async #acquireSlot(): Promise<void> {
    if (this.#attemptSlots > 0) {
      this.#attemptSlots--;
      return;
    }
    await new Promise<void>((resolve) => this.#attemptQueue.push(resolve));
  }

  #releaseSlot(): void {
    const next = this.#attemptQueue.shift();
    if (next) next();
    else this.#attemptSlots++;
  }

  async #runAttempt(
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
      result = await this.#attempt(executionId, actor, actor.state, node, attempt, controller.signal);
    } finally {
      this.#releaseSlot();
    }
    if (controller.signal.aborted || this.#actors.get(executionId) !== actor) return;
    // The attempt stays in `inflight` until its result is decided: `#react` drops it once the node is no
    // longer running it. Dropping it here let a `#react` of another append (while this result waits in
    // the inbox) see the node still running without an attempt in flight and run the attempt again.
    this.#enqueue(executionId, actor, result);
  }

  /**
   * Runs one attempt of a node's executor on `state` and turns its end into a command (with the records to
   * store). `staged` holds outputs not committed yet (local nodes run inside one pump).
   */
  async #attempt(
    executionId: string,
    actor: ExecutionActor,
    state: ExecutionState,
    node: PlanNode,
    attempt: number,
    signal: AbortSignal,
    staged?: ReadonlyMap<string, Json[]>,
  ): Promise<AttemptResult> {
    const obs = this.#observer;
    const kind = obs ? kindOf(node) : "";
    let observed: unknown = undefined;
    let startedAt = -1;
    let outcome: AttemptOutcome = "failed";
    let result: AttemptResult;
    try {
      if (obs) {
        observed = obs.attemptStarted?.(kind, { executionId, nodeId: node.id, attempt }, actor.observed);
        startedAt = performance.now();
      }
      const executor = this.opts.executorFor(node.type, node.nodeType);
      if (!executor) {
        throw new NodeError("no_executor", `no executor for ${node.type}/${node.nodeType}`, false);
      }
      const inputs = await this.#inputsOf(state, actor, node, staged);
      const context: NodeContext = {
        executionId,
        workflowId: state.plan.workflowId,
        nodeId: node.id,
        attempt,
        idempotencyKey: `${executionId}:${node.id}`,
        config: node.config,
        inputs,
        executionInput: state.input,
        limits: { maxRecords: this.limits.maxRecords, maxBytes: this.limits.maxBytes },
        signal,
        services: this.opts.services,
      };
      const traceparent = obs?.traceparent?.(observed);
      if (traceparent !== undefined) context.traceparent = traceparent;
      const out = await (obs?.runAttempt
        ? obs.runAttempt(observed, () => executor(context))
        : executor(context));
      const bytes = enforceLimits(
        out.records,
        { maxRecords: this.limits.maxRecords, maxBytes: this.limits.maxBytes },
        node.id,
      );
      if (node.behaviour === "condition" && out.handle !== "true" && out.handle !== "false") {
        throw new NodeError("condition_handle", `condition returned handle ${out.handle}`, false);
      }
      const ref = `${node.id}@${attempt}`;
      result = {
        command: {
          type: "CompleteNode",
          nodeId: node.id,
          attempt,
          outputRef: ref,
          recordsProcessed: out.recordsProcessed ??
            (node.type === "source" ? out.records.length : inputs.records.length),
          recordsEmitted: out.records.length,
          ...(out.handle === undefined ? {} : { handle: out.handle }),
        },
        outputs: [{ ref, records: out.records }],
        bytes,
      };
      outcome = "completed";
    } catch (err) {
      const e = err instanceof NodeError ? err : undefined;
      result = {
        command: {
          type: "FailNode",
          nodeId: node.id,
          attempt,
          error: { code: e?.code ?? "node_error", message: String((err as Error)?.message ?? err) },
          retryable: e?.retryable ?? true,
        },
        bytes: 0,
      };
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

  async #inputsOf(
    state: ExecutionState,
    actor: ExecutionActor | undefined,
    node: PlanNode,
    staged?: ReadonlyMap<string, Json[]>,
  ): Promise<NodeInputs> {
    if (node.parents.length === 1) {
      // One parent (a chain): its records are the input as they are, not copied (records are immutable).
      const edge = node.parents[0];
      if (!edgeLive(state, edge)) return { records: [], byParent: {}, byHandle: {} };
      const records = await this.#outputOf(state, actor, state.plan.byId.get(edge.source)!, staged);
      return { records, byParent: { [edge.source]: records }, byHandle: { [edge.targetHandle]: records } };
    }
    const inputs: NodeInputs = { records: [], byParent: {}, byHandle: {} };
    for (const edge of node.parents) {
      if (!edgeLive(state, edge)) continue;
      const records = await this.#outputOf(state, actor, state.plan.byId.get(edge.source)!, staged);
      for (const r of records) inputs.records.push(r);
      (inputs.byParent[edge.source] ??= []).push(...records);
      (inputs.byHandle[edge.targetHandle] ??= []).push(...records);
    }
    return inputs;
  }

  async #outputOf(
    state: ExecutionState,
    actor: ExecutionActor | undefined,
    node: PlanNode,
    staged?: ReadonlyMap<string, Json[]>,
  ): Promise<Json[]> {
    const ref = state.nodes[node.id].outputRef;
    if (ref === null) return (await this.#inputsOf(state, actor, node, staged)).records;
    const cached = staged?.get(ref) ?? actor?.outputs?.get(ref);
    if (cached) return cached;
    const stored = await this.opts.storage.getOutput(state.executionId, ref);
    if (!stored) throw new Error(`assertion: output ${ref} of ${state.executionId} is missing`);
    if (actor) (actor.outputs ??= new Map()).set(ref, stored);
    return stored;
  }

  /** Loads a running execution from storage and continues it. */
  async #recover(executionId: string): Promise<void> {
    const stored = await this.opts.storage.getExecution(executionId);
    if (!stored || stored.status !== "running") return;
    const epoch = this.#epochs.get(stored.shard);
    if (epoch === undefined) return;
    const plan = await this.plan(stored.workflowId, stored.version);
    if (!plan) {
      throw new Error(`assertion: workflow ${stored.workflowId}@${stored.version} of ${executionId} is gone`);
    }
    const state = replay(executionId, plan, await this.opts.storage.readEvents(executionId));
    const actor = new ExecutionActor(state, { shard: stored.shard, epoch });
    this.#actors.set(executionId, actor);
    if (this.#observer?.executionStarted) {
      actor.observed = this.#observer.executionStarted({
        executionId,
        workflowId: plan.workflowId,
        version: plan.version,
        shard: stored.shard,
        submittedAt: state.startedAt ?? this.opts.clock.now(),
        recovered: true,
      });
    }
    actor.observing = true;
    this.opts.log.debug("execution recovered", this.#fields("execution_recovered", actor));
    // Scheduled-but-unstarted nodes are started, running attempts re-run, due timers fire.
    const toStart = pendingWork(state).toStart;
    if (toStart.length > 0) {
      for (const nodeId of toStart) {
        this.#enqueue(executionId, actor, { command: { type: "StartNode", nodeId } });
      }
    } else this.#react(executionId, actor);
  }
}
