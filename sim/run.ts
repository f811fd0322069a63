/**
 * One simulation run: builds the world (virtual clock, shared storage, network,
 * nodes, clients, faults) from a seed and options, runs the fault phase, then
 * the heal phase (every fault removed) until the cluster converged and every
 * execution ended, or the heal bound passed; checks the invariants and returns a
 * report. Same seed and options, same report and trace hash.
 *
 * @module
 */
import { hash128 } from "../core/ids.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { MemoryNetwork } from "../transport/memory.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import { type CostModel, DEFAULT_COST } from "./faulty_storage.ts";
import { FAULT_KINDS, FaultInjector, type FaultKind, planFaults } from "./faults.ts";
import { InvariantChecker, type Violation } from "./invariants.ts";
import { type NodeWorld, SimNode } from "./node.ts";
import { Random } from "./random.ts";
import { Scheduler } from "./scheduler.ts";
import { DEFAULT_WORKLOAD, fakeFetch, Workload } from "./workload.ts";

/** Options of a run. */
export interface RunOptions {
  seed: number;
  nodes: number;
  /** The fault phase (the workload submits during it), virtual ms. */
  durationMs: number;
  /** Fault kinds the run may draw from. */
  faults: FaultKind[];
  /** Submissions per simulated second. */
  rate: number;
  shardCount: number;
  /** The heal phase's bound: convergence and every execution terminal within it. */
  healBoundMs: number;
  /** The http node's fake endpoint fails at this rate. */
  httpFailRate: number;
  cost: CostModel;
  /** TEST-ONLY: run storage without fencing (the self-test). */
  unsafeDisableFencing: boolean;
  /** Keep the trace lines (for debugging a seed); the hash is always computed. */
  keepTrace: boolean;
}

/** The defaults: 3 nodes, 30 s, every fault kind, 5 submissions/s, 16 shards, heal bound 30 s. */
export const DEFAULT_RUN: Readonly<RunOptions> = Object.freeze({
  seed: 1,
  nodes: 3,
  durationMs: 30_000,
  faults: [...FAULT_KINDS],
  rate: 5,
  shardCount: 16,
  healBoundMs: 30_000,
  httpFailRate: 0.2,
  cost: DEFAULT_COST,
  unsafeDisableFencing: false,
  keepTrace: false,
});

/** p50, p99 and max of a sample (null when empty). */
export interface Percentiles {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Percentiles of `xs`. */
export function percentiles(xs: readonly number[]): Percentiles {
  if (xs.length === 0) return { n: 0, p50: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: Math.round(s[s.length - 1]) };
}

/** The outcome of a run. */
export interface RunReport {
  seed: number;
  nodes: number;
  durationMs: number;
  faultsAllowed: string[];
  faultsInjected: Record<string, number>;
  submitted: number;
  acknowledged: number;
  finished: number;
  /** Executions finished during the fault phase. */
  finishedInPhase: number;
  clientRetries: number;
  signalsSent: number;
  /** Executions finished per simulated second (fault phase plus heal). */
  throughputPerSimSecond: number;
  /** Submission to terminal state, simulated ms. */
  latencyMs: Percentiles;
  failover: { detectionMs: Percentiles; takeoverMs: Percentiles; firstProgressMs: Percentiles };
  /** From heal to converged (shard map and every execution terminal); null if it did not within the bound. */
  convergedAfterHealMs: number | null;
  simulatedMs: number;
  wallMs: number;
  /** Simulated time per wall time. */
  simPerWall: number;
  events: number;
  traceLines: number;
  traceHash: string;
  violations: Violation[];
  ok: boolean;
  /** Failed only by violations of known, reported runtime bugs (`KNOWN_ISSUES`). */
  knownOnly: boolean;
  trace?: string[];
}

interface CrashRecord {
  node: string;
  at: number;
  shards: Set<number>;
  detectedAt: number | null;
  takenOver: Set<number>;
  takeoverAt: number | null;
  progressAt: number | null;
}

/** Runs one simulation. */
export async function runSimulation(partial: Partial<RunOptions> = {}): Promise<RunReport> {
  const o: RunOptions = { ...DEFAULT_RUN, ...partial };
  const wall0 = performance.now();
  // A rejection nobody handles kills a real Deno process: record it as a violation instead.
  const unhandled: { at: number; text: string }[] = [];
  const onUnhandled = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    const r = e.reason;
    unhandled.push({ at: scheduler.now, text: r instanceof Error ? r.stack ?? r.message : String(r) });
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const scheduler = new Scheduler();
  const rng = new Random(o.seed);
  const base = new MemoryStorage({ unsafeDisableFencing: o.unsafeDisableFencing });
  let traceHash = hash128(`seed ${o.seed}`);
  let traceLines = 0;
  const lines: string[] = [];
  const trace = (line: string) => {
    const l = `${scheduler.now.toFixed(3)} ${line}`;
    traceHash = hash128(traceHash + "\n" + l);
    traceLines++;
    if (o.keepTrace) lines.push(l);
  };
  const checker = new InvariantChecker(() => scheduler.now, (v) => {
    trace(`VIOLATION ${v.invariant}: ${v.message}`);
    scheduler.stop();
  });
  const network = new MemoryNetwork({
    schedule: (fn, delayMs) => scheduler.after(delayMs, fn),
    logger: silentLogger,
  });
  const cpuFree = new Map<string, number>();
  const owners = new Map<number, string>();
  const crashes: CrashRecord[] = [];
  const finishedAt = new Map<string, number>();
  let injector: FaultInjector | null = null;
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const world: NodeWorld = {
    scheduler,
    base,
    cost: o.cost,
    faults: (n) => injector!.storageFaults(n),
    cpu: (node, ms) => {
      const start = Math.max(scheduler.now, cpuFree.get(node) ?? 0);
      cpuFree.set(node, start + ms);
      return start + ms - scheduler.now;
    },
    epochs: new Map(),
    trace,
    onAppend: (node, req, result, currentEpoch) => {
      trace(
        `${node} append ${req.executionId} ${req.fence.shard}@${req.fence.epoch}/${currentEpoch} seq ${req.expectedSeq}+${req.events.length} ${
          result.ok ? "ok" : result.error.code
        }`,
      );
      checker.checkAppend(node, req, result, currentEpoch);
      if (!result.ok) return;
      if (req.summary.status !== "running" && !finishedAt.has(req.executionId)) {
        finishedAt.set(req.executionId, scheduler.now);
      }
      for (const c of crashes) {
        const open = c.takeoverAt === null || scheduler.now - c.takeoverAt <= 10_000; // first progress: near the takeover
        if (c.progressAt === null && open && c.shards.has(req.fence.shard)) {
          c.progressAt = scheduler.now;
        }
      }
    },
    onClaim: (node, shard, owner, expected, result) => {
      trace(
        `${node} claim ${shard} for ${owner} at ${expected} ${result ? `-> ${result.epoch}` : "refused"}`,
      );
      if (!result) return;
      owners.set(shard, owner);
      for (const c of crashes) {
        if (!c.shards.has(shard)) continue;
        // Detection: the leader reassigned one of its shards before they were all taken up again.
        if (c.detectedAt === null && c.takeoverAt === null && owner !== c.node) c.detectedAt = scheduler.now;
        if (owner === node && !c.takenOver.has(shard)) {
          c.takenOver.add(shard);
          if (c.takenOver.size === c.shards.size) c.takeoverAt = scheduler.now;
        }
      }
    },
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
    trace,
    Math.max(1, Math.floor((o.nodes - 1) / 2)),
  );
  injector.onCrash = (node) => {
    const shards = new Set([...owners].filter(([, owner]) => owner === node).map(([s]) => s));
    if (shards.size > 0) {
      crashes.push({
        node,
        at: scheduler.now,
        shards,
        detectedAt: null,
        takenOver: new Set(),
        takeoverAt: null,
        progressAt: null,
      });
    }
  };
  const workload = new Workload(scheduler, nodes, rng.fork("workload"), {
    ...DEFAULT_WORKLOAD,
    rate: o.rate,
  }, trace);

  const violated = () => checker.violations.length > 0;
  const runUntil = async (done: () => boolean, limitMs: number, stepMs = 100) => {
    while (!done() && !violated() && scheduler.now < limitMs) await scheduler.run(scheduler.now + stepMs);
  };

  // Form the cluster.
  nodes.forEach((n, i) => scheduler.after(i * 10, () => void injector!.restart(n)));
  const watch = () => {
    checker.checkOwnership(nodes);
    if (!violated()) scheduler.after(100, watch);
  };
  scheduler.after(100, watch);
  let registered = false;
  let registerError: unknown = null;
  scheduler.after(1_000, () => {
    workload.register().then(() => registered = true, (e) => registerError = e);
  });
  await runUntil(() => registered || registerError !== null, 60_000);
  if (registerError !== null) throw registerError;

  // Fault phase.
  const faultStart = scheduler.now;
  const faultEnd = faultStart + o.durationMs;
  const episodes = planFaults(rng.fork("faults/plan"), o.faults, ids, o.durationMs)
    .map((e) => ({ ...e, at: e.at + faultStart }));
  injector.schedule(episodes);
  workload.start(faultStart, faultEnd);
  if (!violated()) await scheduler.run(faultEnd);
  let finishedInPhase = 0;
  for (const at of finishedAt.values()) if (at >= faultStart && at <= faultEnd) finishedInPhase++;

  // Heal phase.
  injector.healAll();
  workload.stopSubmitting();
  const healStart = scheduler.now;
  let convergedAt: number | null = null;
  let converging = false;
  const probe = async () => {
    if (converging) return;
    converging = true;
    const map = await checker.shardMapConverged(base, nodes, o.shardCount);
    const left = map === null ? await checker.unfinished(base, workload.log, true) : ["map"];
    if (map === null && left.length === 0) convergedAt = scheduler.now;
    converging = false;
  };
  while (convergedAt === null && !violated() && scheduler.now < healStart + o.healBoundMs) {
    await scheduler.run(scheduler.now + 250);
    await probe();
  }
  workload.stop();
  if (!violated()) {
    if (convergedAt === null) {
      const why = await checker.shardMapConverged(base, nodes, o.shardCount);
      if (why !== null) {
        checker.violations.push({
          invariant: "4 convergence",
          at: scheduler.now,
          message: `the shard map did not converge within ${o.healBoundMs} ms of heal: ${why}`,
        });
      }
    }
    await checker.final(base, workload.log, convergedAt !== null);
    for (const u of workload.log.unexpected.slice(0, 5)) {
      const id = /signal (ex-[0-9a-f]+)/.exec(u)?.[1];
      const known = id !== undefined && checker.refusedCreations.has(id) ? { known: "K1" } : {};
      checker.violations.push({
        invariant: "client",
        at: scheduler.now,
        message: `unexpected answer: ${u}`,
        ...known,
      });
    }
  }
  globalThis.removeEventListener("unhandledrejection", onUnhandled);
  for (const e of scheduler.errors.slice(0, 5)) {
    checker.violations.push({ invariant: "runtime", at: scheduler.now, message: `a callback threw: ${e}` });
  }
  for (const u of unhandled.slice(0, 5)) {
    checker.violations.push({
      invariant: "runtime",
      at: u.at,
      message: `unhandled rejection (a real node would crash): ${u.text.split("\n").slice(0, 4).join(" | ")}`,
      ...(u.text.includes("#recover") ? { known: "K2" } : {}),
    });
  }
  const wallMs = performance.now() - wall0;
  const latencies: number[] = [];
  for (const ack of workload.log.acks.values()) {
    const f = finishedAt.get(ack.executionId);
    if (f !== undefined) latencies.push(f - ack.submittedAt);
  }
  const simulatedMs = scheduler.now;
  trace(`end events ${scheduler.executed} finished ${finishedAt.size}`);
  const report: RunReport = {
    seed: o.seed,
    nodes: o.nodes,
    durationMs: o.durationMs,
    faultsAllowed: o.faults,
    faultsInjected: Object.fromEntries([...injector.injected].sort()),
    submitted: workload.log.submitted,
    acknowledged: workload.log.acks.size,
    finished: finishedAt.size,
    finishedInPhase,
    clientRetries: workload.log.clientRetries,
    signalsSent: workload.log.signalsSent,
    throughputPerSimSecond: Math.round((finishedAt.size / ((simulatedMs - faultStart) / 1000)) * 100) / 100,
    latencyMs: percentiles(latencies),
    failover: {
      detectionMs: percentiles(crashes.filter((c) => c.detectedAt !== null).map((c) => c.detectedAt! - c.at)),
      takeoverMs: percentiles(crashes.filter((c) => c.takeoverAt !== null).map((c) => c.takeoverAt! - c.at)),
      firstProgressMs: percentiles(
        crashes.filter((c) => c.progressAt !== null).map((c) => c.progressAt! - c.at),
      ),
    },
    convergedAfterHealMs: convergedAt === null ? null : convergedAt - healStart,
    simulatedMs: Math.round(simulatedMs),
    wallMs: Math.round(wallMs),
    simPerWall: Math.round((simulatedMs / Math.max(1, wallMs)) * 10) / 10,
    events: scheduler.executed,
    traceLines,
    traceHash,
    violations: checker.violations,
    ok: checker.violations.length === 0,
    knownOnly: checker.violations.length > 0 && checker.violations.every((v) => v.known !== undefined),
  };
  if (o.keepTrace) report.trace = lines;
  return report;
}
