/**
 * The options of one simulation run, and their defaults.
 *
 * @module
 */
import { type CostModel, DEFAULT_COST } from "./faulty_storage.ts";
import { FAULT_KINDS, type FaultKind } from "./faults.ts";

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
  /** Create the workload's schedules (`schedule_workload.ts`). */
  schedules: boolean;
  /** Sub-workflows in the mix, and clients that pause, resume and retry (`steer_workload.ts`). */
  steering: boolean;
  /** Producer and consumer workflows on the fake broker in the mix (`messaging_workload.ts`). */
  messaging: boolean;
  /** TEST-ONLY: run storage without fencing (the self-test). */
  unsafeDisableFencing: boolean;
  /** TEST-ONLY planted bug: schedules start their runs apart from their fires (`planted.ts`). */
  unsafeFireApart: boolean;
  /** TEST-ONLY planted bug: a relaunched child execution gets a fresh id (`planted.ts` `freshChildIds`). */
  unsafeChildIds: boolean;
  /** TEST-ONLY planted bug: consumers ack what they take at once (`planted.ts` `earlyAck`). */
  unsafeEarlyAck: boolean;
  /** Keep the trace lines (for debugging a seed); the hash is always computed. */
  keepTrace: boolean;
}

/**
 * The defaults: 3 nodes, 30 s, every fault kind, 5 submissions/s, the schedules, steering and messaging, 16
 * shards, heal bound 30 s.
 */
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
  schedules: true,
  steering: true,
  messaging: true,
  unsafeDisableFencing: false,
  unsafeFireApart: false,
  unsafeChildIds: false,
  unsafeEarlyAck: false,
  keepTrace: false,
});
