/**
 * The invariants a run must keep. Some are checked continuously (every append
 * as it lands, every ownership snapshot on a timer), the rest at the end of the
 * heal phase; the first violation stops the run and is reported.
 *
 * 1. No acknowledged execution is lost; after heal every execution (acknowledged
 *    or not) reaches a terminal state within the bound.
 * 2. Storage never accepts an append with a stale epoch; at most one node acts as
 *    owner of a shard per epoch.
 * 3. Each node of each execution succeeds at most once; the events of each
 *    execution replay to its stored state.
 * 4. The shard map converges: every shard owned by exactly one live worker,
 *    balanced within the threshold.
 * 5. Idempotency: one key, one execution.
 *
 * Invariants 6–8 (schedules) are `schedule_invariants.ts`'s; 9–12 (child executions and pauses)
 * `children_invariants.ts`'s; 13 (the messaging nodes' at-least-once contract) `messaging_invariants.ts`'s.
 *
 * @module
 */
import { balanced, DEFAULT_ALLOCATION } from "../core/cluster.ts";
import type { MemoryStorage } from "../storage/memory.ts";
import { PlanCache, replayStored } from "../server/runtime/plans.ts";
import { SIM_CATALOG } from "./custom_kinds.ts";
import type { AppendRequest, AppendResult } from "../storage/storage.ts";
import type { SimNode } from "./node.ts";
import type { WorkloadLog } from "./workload.ts";

/** A broken invariant. */
export interface Violation {
  /** Which invariant (1–13) and a short name. */
  invariant: string;
  at: number;
  message: string;
  /** Set when the violation matches a known, reported runtime bug (see `KNOWN_ISSUES`). */
  known?: string;
}

/**
 * Runtime bugs the simulator found, by tag. K1–K3 are fixed (server/runtime/engine.ts: a refused
 * creation is a duplicate only for `execution_exists`, a stale epoch is `not_owner`; the reload after a
 * sequence conflict catches its errors; server/runtime/children.ts: an execution the reload finds ended
 * is reported to its parent, and the sweep audits live parents and children). K4 and K5 are reported
 * (docs/SIMULATION.md). The tags stay so that a regression is named in the report; a tagged violation
 * still fails the run, and the test suite tolerates none.
 */
export const KNOWN_ISSUES: Record<string, string> = {
  K1: "Engine.submit acknowledges (created: false) an execution whose creating append was refused " +
    "with stale_epoch: with an Idempotency-Key, every refusal is treated as a duplicate, even when " +
    "nothing was stored (server/runtime/engine.ts, submit → #duplicate)",
  K2: "AppendFailures.refused reloads the execution (ShardOwnership.recover) on a sequence conflict; a " +
    "storage failure inside the reload is an unhandled rejection, which kills a real Deno process " +
    "(server/runtime/append_failures.ts)",
  K3:
    "A child execution whose ending append was acknowledged to nobody (the acknowledgement lost, the retry " +
    "refused as a sequence conflict) never told its parent: the reload (ShardOwnership.recover) skipped an " +
    "execution no longer running, so ChildRuntime never reported its ChildEnded, and the parent, live " +
    "on the same node, waited for it until its shard moved (server/runtime/shards.ts, children.ts)",
  K4: "A steering command (pause, resume, cancel, retry) that finds a live actor whose creation is still " +
    "pending — a duplicate submission that came late (a forwarded request queued for a node that was down, " +
    "run when it owned the shard again) — is dispatched through it and answered the creation's refusal, " +
    "409 execution_exists (server/runtime/engine.ts #command, steering.ts reopen)",
  K5: "A node that lost a shard without knowing it yet (its storage cut off while another node took the " +
    "shard over) answers a command's rejection (not_paused, already_paused, …) from its stale actor: the " +
    "rejection is decided in memory, with no fenced write to refuse it. A resume answered not_paused leaves " +
    "the execution paused for good (server/runtime/engine.ts #command)",
};

/** Collects violations; `onViolation` stops the run. */
export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** Accepted appends whose fence was checked against the shard's epoch. */
  appendsChecked = 0;
  ownershipChecks = 0;

  constructor(private readonly now: () => number, private readonly onViolation: (v: Violation) => void) {}

  /** Executions whose creating append storage refused for a stale epoch (K1 candidates). */
  readonly refusedCreations = new Set<string>();

  #fail(invariant: string, message: string, known?: string): void {
    const v: Violation = { invariant, at: this.now(), message, ...(known ? { known } : {}) };
    this.violations.push(v);
    this.onViolation(v);
  }

  /**
   * Reports a violation found by another checker (the schedules', the children's), tagged with a known issue
   * when it matches one; it stops the run like any other.
   */
  readonly report = (invariant: string, message: string, known?: string): void =>
    this.#fail(invariant, message, known);

  /** Invariant 2, storage side: an accepted append must carry the shard's current epoch. */
  checkAppend(node: string, req: AppendRequest, result: AppendResult, currentEpoch: number): void {
    if (!result.ok) {
      if (req.expectedSeq === 0 && result.error.code === "stale_epoch") {
        this.refusedCreations.add(req.executionId);
      }
      return;
    }
    this.appendsChecked++;
    if (req.fence.epoch !== currentEpoch) {
      this.#fail(
        "2 fencing",
        `storage accepted ${node}'s append to ${req.executionId} (seq ${
          req.expectedSeq + 1
        }) at epoch ${req.fence.epoch} ` +
          `of shard ${req.fence.shard}, whose epoch is ${currentEpoch}`,
      );
    }
  }

  /** Invariant 2, node side: no two live engines hold the same shard at the same epoch. */
  checkOwnership(nodes: readonly SimNode[]): void {
    this.ownershipChecks++;
    const holder = new Map<string, string>();
    for (const n of nodes) {
      const engine = n.state === "down" ? null : n.engine;
      if (!engine) continue;
      for (const [shard, epoch] of engine.ownedShards) {
        const k = `${shard}@${epoch}`;
        const other = holder.get(k);
        if (other !== undefined) {
          this.#fail("2 single owner", `shard ${shard} at epoch ${epoch} is owned by ${other} and ${n.id}`);
        }
        holder.set(k, n.id);
      }
    }
  }

  /** Invariant 4: every shard owned by one live worker that holds it, loads balanced. Returns whether so. */
  async shardMapConverged(
    base: MemoryStorage,
    nodes: readonly SimNode[],
    shardCount: number,
  ): Promise<string | null> {
    const live = nodes.filter((n) => n.state === "up").map((n) => n.id);
    const shards = await base.getShards();
    if (shards.length !== shardCount) return `${shards.length} of ${shardCount} shards have a record`;
    for (const s of shards) {
      if (s.owner === null || !live.includes(s.owner)) {
        return `shard ${s.shard} owned by ${s.owner} (not live)`;
      }
      const held = nodes.find((n) => n.id === s.owner)!.engine?.ownedShards.get(s.shard);
      if (held !== s.epoch) return `shard ${s.shard}: ${s.owner} holds epoch ${held}, storage has ${s.epoch}`;
      for (const n of nodes) {
        if (n.id !== s.owner && n.engine?.ownedShards.has(s.shard)) {
          return `shard ${s.shard} also held by ${n.id}`;
        }
      }
    }
    if (!balanced(shards, live, DEFAULT_ALLOCATION.rebalanceThreshold)) return "shard loads are not balanced";
    return null;
  }

  /**
   * Executions not terminal yet (acknowledged or merely stored). A schedule's run (an id `<scheduleId>@…`)
   * that started after `youngAfter` (epoch ms) is not counted: the schedules keep starting runs through the
   * heal phase, and one that just started has had no time to end.
   */
  async unfinished(
    base: MemoryStorage,
    log: WorkloadLog,
    skipKnown = false,
    youngAfter = Infinity,
  ): Promise<string[]> {
    const out: string[] = [];
    for (const ack of log.acks.values()) {
      const e = await base.getExecution(ack.executionId);
      if (!e && skipKnown && this.refusedCreations.has(ack.executionId)) continue;
      if (!e || e.status === "running") out.push(ack.executionId);
    }
    for (const e of (await base.listExecutions({ limit: 1_000_000 })).items) {
      const young = e.executionId.includes("@") && e.startTime > youngAfter;
      if (e.status === "running" && !young && !out.includes(e.executionId)) out.push(e.executionId);
    }
    return out;
  }

  /** The end-of-run checks: 1 (lost, unfinished), 3 (success once, replay), 5 (idempotency). */
  async final(base: MemoryStorage, log: WorkloadLog, bounded: boolean): Promise<void> {
    for (const ack of log.acks.values()) {
      const e = await base.getExecution(ack.executionId);
      if (!e) {
        this.#fail(
          "1 durability",
          `acknowledged execution ${ack.executionId} (${ack.key}) is not in storage`,
          this.refusedCreations.has(ack.executionId) ? "K1" : undefined,
        );
      }
    }
    if (!bounded) {
      const all = await this.unfinished(base, log);
      const left = await this.unfinished(base, log, true);
      if (all.length > left.length) {
        this.#fail("1 liveness", `${all.length - left.length} acknowledged execution(s) never existed`, "K1");
      }
      if (left.length > 0) {
        this.#fail(
          "1 liveness",
          `${left.length} execution(s) still running after the heal bound, e.g. ${
            left.slice(0, 3).join(", ")
          }`,
        );
      }
    }
    const byKey = new Map<string, string[]>();
    const plans = new PlanCache(base, SIM_CATALOG);
    for (const e of (await base.listExecutions({ limit: 1_000_000 })).items) {
      const wf = await base.getWorkflow(e.workflowId, e.version);
      if (!wf) {
        this.#fail("3 replay", `execution ${e.executionId}: workflow ${e.workflowId}@${e.version} is gone`);
        continue;
      }
      const events = await base.readEvents(e.executionId);
      const successes = new Map<string, number>();
      for (const ev of events) {
        if (ev.type === "NodeSucceeded") {
          const id = (ev as { nodeId: string }).nodeId;
          successes.set(id, (successes.get(id) ?? 0) + 1);
        } else if (ev.type === "ExecutionReopened") {
          for (const id of ev.nodes) successes.delete(id); // a retry or rerun runs these nodes again
        }
      }
      for (const [nodeId, n] of successes) {
        if (n > 1) this.#fail("3 success once", `node ${nodeId} of ${e.executionId} succeeded ${n} times`);
      }
      try {
        const state = await replayStored(e.executionId, e, events, plans);
        if (state.lastSeq !== e.lastSeq || state.status !== e.status) {
          this.#fail(
            "3 replay",
            `${e.executionId}: events replay to seq ${state.lastSeq} ${state.status}, stored ${e.lastSeq} ${e.status}`,
          );
        }
      } catch (err) {
        this.#fail("3 replay", `${e.executionId}: replay threw ${String(err)}`);
      }
      if (e.idempotencyKey !== null) {
        const k = `${e.workflowId}\u0000${e.idempotencyKey}`;
        byKey.set(k, [...(byKey.get(k) ?? []), e.executionId]);
      }
    }
    for (const [k, ids] of byKey) {
      if (ids.length > 1) {
        this.#fail("5 idempotency", `key ${k.replace("\u0000", "/")} has executions ${ids.join(", ")}`);
      }
    }
    for (const [key, ids] of log.idsByKey) {
      if (ids.size > 1) this.#fail("5 idempotency", `key ${key} was answered with ${[...ids].join(", ")}`);
    }
  }
}
