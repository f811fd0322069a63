/**
 * Builds the world of one run from its options: shared storage, network, the
 * invariant checker, the nodes, the fault injector and the clients, with the
 * observers that trace every append and claim, check it, and time executions
 * and failovers.
 *
 * @module
 */
import { MemoryStorage } from "../storage/memory.ts";
import { MemoryNetwork } from "../transport/memory.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import { FailoverTracker } from "./failover.ts";
import { FakeBroker } from "./fake_broker.ts";
import { MessagingChecker } from "./messaging_invariants.ts";
import type { StorageWorld } from "./faulty_storage.ts";
import { FaultInjector } from "./faults.ts";
import { ChildrenChecker } from "./children_invariants.ts";
import { InvariantChecker } from "./invariants.ts";
import { ScheduleChecker } from "./schedule_invariants.ts";
import { type NodeWorld, SimNode } from "./node.ts";
import type { RunOptions } from "./options.ts";
import { Random } from "./random.ts";
import type { Scheduler } from "./scheduler.ts";
import { TraceLog } from "./trace_log.ts";
import { DEFAULT_WORKLOAD, fakeFetch, Workload } from "./workload.ts";

/** Everything one run is made of. */
export interface SimWorld {
  readonly scheduler: Scheduler;
  /** The run's root random stream (concerns fork their own from it). */
  readonly rng: Random;
  /** The storage every node shares (each sees it through its own faulty view). */
  readonly base: MemoryStorage;
  readonly trace: TraceLog;
  readonly checker: InvariantChecker;
  /** The witness of schedules (invariants 6–8). */
  readonly schedules: ScheduleChecker;
  /** The witness of child executions and pauses (invariants 9–12). */
  readonly children: ChildrenChecker;
  /** The broker behind the messaging nodes, and its witness (invariant 13). */
  readonly broker: FakeBroker;
  readonly messaging: MessagingChecker;
  /** The node ids, `n1`…`nN`. */
  readonly ids: string[];
  readonly nodes: SimNode[];
  readonly injector: FaultInjector;
  readonly workload: Workload;
  /** When each execution first reached a terminal state, virtual ms. */
  readonly finishedAt: Map<string, number>;
  readonly failover: FailoverTracker;
}

/** What the append and claim observers update. */
interface Observed {
  scheduler: Scheduler;
  trace: TraceLog;
  checker: InvariantChecker;
  schedules: ScheduleChecker;
  children: ChildrenChecker;
  finishedAt: Map<string, number>;
  failover: FailoverTracker;
}

/** Traces and checks every append; times finished executions and failover progress. */
function appendObserver(
  { scheduler, trace, checker, schedules, children, finishedAt, failover }: Observed,
): StorageWorld["onAppend"] {
  return (node, req, result, currentEpoch) => {
    trace.write(
      `${node} append ${req.executionId} ${req.fence.shard}@${req.fence.epoch}/${currentEpoch} seq ${req.expectedSeq}+${req.events.length} ${
        result.ok ? "ok" : result.error.code
      }`,
    );
    checker.checkAppend(node, req, result, currentEpoch);
    schedules.checkAppend(node, req, result);
    children.checkAppend(req, result);
    if (!result.ok) return;
    if (req.summary.status !== "running" && !finishedAt.has(req.executionId)) {
      finishedAt.set(req.executionId, scheduler.now);
    }
    failover.appended(req.fence.shard, scheduler.now);
  };
}

/** Traces every claim; follows shard ownership and failover detection and takeover. */
function claimObserver({ scheduler, trace, failover }: Observed): StorageWorld["onClaim"] {
  return (node, shard, owner, expected, result) => {
    trace.write(
      `${node} claim ${shard} for ${owner} at ${expected} ${result ? `-> ${result.epoch}` : "refused"}`,
    );
    if (!result) return;
    failover.claimed(node, shard, owner, scheduler.now);
  };
}

/** Traces and checks every owner's write of a schedule's fires and state. */
function scheduleWriteObserver({ trace, schedules }: Observed): StorageWorld["onScheduleWrite"] {
  return (node, write, result, currentEpoch) => {
    const fires = write.fires.map((f) => `${f.tickAt}:${f.outcome}:${f.reason}`).join(",");
    trace.write(
      `${node} schedule ${write.scheduleId} ${write.fence.shard}@${write.fence.epoch}/${currentEpoch} v${write.expectedVersion} [${fires}] next ${write.state.nextTickAt} ${
        result.ok ? "ok" : result.error.code
      }`,
    );
    schedules.checkWrite(node, write, result, currentEpoch);
  };
}

/** Each node's CPU as a queue: reserving `ms` returns the virtual delay until that work is done. */
function cpuQueues(scheduler: Scheduler): StorageWorld["cpu"] {
  const cpuFree = new Map<string, number>();
  return (node, ms) => {
    const start = Math.max(scheduler.now, cpuFree.get(node) ?? 0);
    cpuFree.set(node, start + ms);
    return start + ms - scheduler.now;
  };
}

/** Builds the world of a run on `scheduler` (nothing runs until the scheduler does). */
export function buildWorld(o: RunOptions, scheduler: Scheduler): SimWorld {
  const rng = new Random(o.seed);
  const base = new MemoryStorage({ unsafeDisableFencing: o.unsafeDisableFencing });
  const trace = new TraceLog(o.seed, () => scheduler.now, o.keepTrace);
  const checker = new InvariantChecker(() => scheduler.now, (v) => {
    trace.write(`VIOLATION ${v.invariant}: ${v.message}`);
    scheduler.stop();
  });
  const network = new MemoryNetwork({
    schedule: (fn, delayMs) => scheduler.after(delayMs, fn),
    logger: silentLogger,
  });
  const schedules = new ScheduleChecker(checker.report);
  const observed: Observed = {
    scheduler,
    trace,
    checker,
    schedules,
    children: new ChildrenChecker(checker.report),
    finishedAt: new Map(),
    failover: new FailoverTracker(),
  };
  const messaging = new MessagingChecker(base, checker.report);
  const broker = new FakeBroker(scheduler, { ...messaging.witness, trace: trace.write });
  let injector: FaultInjector | null = null;
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const world: NodeWorld = {
    scheduler,
    base,
    cost: o.cost,
    faults: (n) => injector!.storageFaults(n),
    cpu: cpuQueues(scheduler),
    epochs: new Map(),
    trace: trace.write,
    onAppend: appendObserver(observed),
    onClaim: claimObserver(observed),
    onScheduleWrite: scheduleWriteObserver(observed),
    onScheduleFire: (node, fire, lagMs) => {
      trace.write(
        `${node} fire ${fire.scheduleId} ${fire.tickAt} ${fire.outcome} ${fire.reason} lag ${lagMs}`,
      );
      if (lagMs !== null) schedules.lag(lagMs, fire.firedAt);
    },
    unsafeFireApart: o.unsafeFireApart,
    unsafeChildIds: o.unsafeChildIds,
    childIdsSubmitted: new Set(),
    broker,
    unsafeEarlyAck: o.unsafeEarlyAck,
    network,
    shardCount: o.shardCount,
    fetch: fakeFetch(scheduler, rng.fork("fetch"), o.httpFailRate),
    skew: (n) => injector!.skews.get(n) ?? 0,
    rng,
  };
  const nodes = ids.map((id) => new SimNode(id, world));
  injector = new FaultInjector(
    scheduler,
    network,
    nodes,
    rng.fork("faults/apply"),
    o.cost.networkLatencyMs,
    trace.write,
    Math.max(1, Math.floor((o.nodes - 1) / 2)),
  );
  injector.onCrash = (node) => observed.failover.crashed(node, scheduler.now);
  const workload = new Workload(scheduler, nodes, rng.fork("workload"), {
    ...DEFAULT_WORKLOAD,
    rate: o.rate,
    schedules: o.schedules,
    steering: o.steering,
    messaging: o.messaging,
  }, trace.write);
  const { finishedAt, failover } = observed;
  return {
    scheduler,
    rng,
    base,
    trace,
    checker,
    schedules,
    children: observed.children,
    broker,
    messaging,
    ids,
    nodes,
    injector,
    workload,
    finishedAt,
    failover,
  };
}
