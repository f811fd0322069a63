/**
 * The deterministic simulator: the real runtime — engines, cluster members, the API — on a virtual clock over
 * the memory transport and a fault-injecting memory storage, with seeded crashes, partitions, message loss and
 * storage faults, invariants checked as it runs, and a trace hash that a seed always reproduces.
 *
 * @example
 * ```ts
 * import { runSimulation } from "./mod.ts";
 *
 * const report = await runSimulation({ seed: 3, nodes: 2, durationMs: 2_000, faults: [] });
 * if (!report.ok) throw new Error(report.violations.map((v) => v.message).join("; "));
 * const again = await runSimulation({ seed: 3, nodes: 2, durationMs: 2_000, faults: [] });
 * if (again.traceHash !== report.traceHash) throw new Error("the same seed gives the same trace");
 * ```
 *
 * @module
 */
export {
  DEFAULT_RUN,
  type Percentiles,
  percentiles,
  type RunOptions,
  type RunReport,
  runSimulation,
  type SteeringStats,
} from "./run.ts";
export { replayCommand, scaling, type ScalingRow, shrink, swarm, type SwarmSummary } from "./swarm.ts";
export { FAULT_KINDS, type FaultEpisode, type FaultKind, parseFaultKinds } from "./faults.ts";
export { KNOWN_ISSUES, type Violation } from "./invariants.ts";
export { FIRE_LAG_BOUND_MS, type ScheduleStats } from "./schedule_invariants.ts";
export { type ChildrenStats, GRACE_MS } from "./children_invariants.ts";
export { type MessagingStats } from "./messaging_invariants.ts";
export { type CostModel, DEFAULT_COST } from "./faulty_storage.ts";
