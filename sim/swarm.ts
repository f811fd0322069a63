/**
 * Many runs and their summary (`--seeds N`), shrinking of a failing run, and
 * the throughput-scaling experiment (`--scaling`).
 *
 * @module
 */
import { FAULT_KINDS, type FaultKind } from "./faults.ts";
import { DEFAULT_COST } from "./faulty_storage.ts";
import { type RunOptions, type RunReport, runSimulation } from "./run.ts";

/** The command that replays a run exactly. */
export function replayCommand(
  o:
    & Pick<RunOptions, "seed" | "nodes" | "durationMs" | "faults" | "rate">
    & Partial<
      Pick<
        RunOptions,
        | "schedules"
        | "steering"
        | "messaging"
        | "unsafeDisableFencing"
        | "unsafeFireApart"
        | "unsafeChildIds"
        | "unsafeEarlyAck"
      >
    >,
): string {
  const faults = o.faults.length === FAULT_KINDS.length
    ? "all"
    : o.faults.length === 0
    ? "none"
    : o.faults.join(",");
  const flags = [
    o.schedules === false ? " --no-schedules" : "",
    o.steering === false ? " --no-steering" : "",
    o.messaging === false ? " --no-messaging" : "",
    o.unsafeDisableFencing ? " --unsafe-disable-fencing" : "",
    o.unsafeFireApart ? " --unsafe-fire-apart" : "",
    o.unsafeChildIds ? " --unsafe-child-ids" : "",
    o.unsafeEarlyAck ? " --unsafe-early-ack" : "",
  ].join("");
  return `deno task sim --seed ${o.seed} --nodes ${o.nodes} --duration ${
    o.durationMs / 1000
  }s --faults ${faults} --rate ${o.rate}${flags}`;
}

/** A swarm's outcome. */
export interface SwarmSummary {
  runs: number;
  passed: number;
  failed: { seed: number; command: string; violations: string[]; knownOnly: boolean }[];
  /** Runs that failed only with known runtime bugs. */
  knownOnly: number;
  wallMs: number;
  simulatedMs: number;
  byInvariant: Record<string, number>;
}

/** Runs seeds `first .. first+count-1` with the same options. */
export async function swarm(
  base: Partial<RunOptions> & Pick<RunOptions, "nodes" | "durationMs" | "faults" | "rate">,
  first: number,
  count: number,
  onRun?: (r: RunReport) => void,
): Promise<SwarmSummary> {
  const t0 = performance.now();
  const out: SwarmSummary = {
    runs: 0,
    passed: 0,
    failed: [],
    knownOnly: 0,
    wallMs: 0,
    simulatedMs: 0,
    byInvariant: {},
  };
  for (let seed = first; seed < first + count; seed++) {
    const r = await runSimulation({ ...base, seed });
    out.runs++;
    out.simulatedMs += r.simulatedMs;
    onRun?.(r);
    if (r.ok) {
      out.passed++;
      continue;
    }
    if (r.knownOnly) out.knownOnly++;
    for (const v of r.violations) {
      const k = v.known ? `${v.invariant} [${v.known}]` : v.invariant;
      out.byInvariant[k] = (out.byInvariant[k] ?? 0) + 1;
    }
    out.failed.push({
      seed,
      command: replayCommand({ ...base, seed }),
      violations: r.violations.map((v) => `${v.known ? `[${v.known}] ` : ""}${v.invariant}: ${v.message}`),
      knownOnly: r.knownOnly,
    });
  }
  out.wallMs = Math.round(performance.now() - t0);
  return out;
}

/** A run fails for shrinking purposes when it has a violation not explained by a known issue (or any, if `any`). */
function fails(r: RunReport, any: boolean): boolean {
  return any ? !r.ok : r.violations.some((v) => v.known === undefined);
}

/**
 * Shrinks a failing run: tries fewer nodes, a shorter fault phase, fewer fault
 * kinds, a lower rate, keeping each change that still fails. Returns the smallest
 * failing options found and its report.
 */
export async function shrink(
  o: RunOptions,
  opts: { any?: boolean; maxRuns?: number } = {},
): Promise<{ options: RunOptions; report: RunReport; runs: number }> {
  const any = opts.any ?? false;
  let best = o;
  let report = await runSimulation(o);
  let runs = 1;
  if (!fails(report, any)) return { options: o, report, runs };
  const limit = opts.maxRuns ?? 60;
  const tryIt = async (candidate: RunOptions): Promise<boolean> => {
    if (runs >= limit) return false;
    runs++;
    const r = await runSimulation(candidate);
    if (fails(r, any)) {
      best = candidate;
      report = r;
      return true;
    }
    return false;
  };
  let progress = true;
  while (progress && runs < limit) {
    progress = false;
    for (const nodes of [1, 2, 3].filter((n) => n < best.nodes)) {
      if (await tryIt({ ...best, nodes })) {
        progress = true;
        break;
      }
    }
    for (const f of [0.25, 0.5, 0.75]) {
      const durationMs = Math.max(3_000, Math.round((best.durationMs * f) / 1000) * 1000);
      if (durationMs < best.durationMs && await tryIt({ ...best, durationMs })) {
        progress = true;
        break;
      }
    }
    for (const k of best.faults) {
      if (await tryIt({ ...best, faults: best.faults.filter((x) => x !== k) as FaultKind[] })) {
        progress = true;
        break;
      }
    }
    if (best.rate > 1 && await tryIt({ ...best, rate: Math.max(1, Math.floor(best.rate / 2)) })) {
      progress = true;
    }
  }
  return { options: best, report, runs };
}

/** One row of the scaling experiment. */
export interface ScalingRow {
  nodes: number;
  completedPerSimSecond: number;
  speedup: number;
  oldEngineClaim: number | null;
  wallMs: number;
}

/** The old engine's claimed speed-ups (1, 2, 3, 5 nodes). */
export const OLD_ENGINE_CLAIMS: Record<number, number> = { 1: 1.0, 2: 1.8, 3: 2.4, 5: 4.0 };

/** The cost model of the scaling experiment: CPU-bound nodes (5 ms an attempt), 2–6 ms storage. */
export const SCALING_COST = {
  ...DEFAULT_COST,
  cpuPerAttemptMs: 5,
  cpuPerStorageCallMs: 0.5,
  storageLatencyMs: [2, 6] as [number, number],
};

/**
 * Completed executions per simulated second for each cluster size, no faults,
 * offered load well above capacity (so the cluster is saturated).
 */
export async function scaling(
  sizes = [1, 2, 3, 5, 10],
  durationMs = 10_000,
  seed = 1,
): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  let one = 0;
  for (const nodes of sizes) {
    const r = await runSimulation({
      seed,
      nodes,
      durationMs,
      faults: [],
      rate: 60 * nodes,
      shardCount: 32,
      healBoundMs: 0,
      cost: SCALING_COST,
      schedules: false,
      steering: false,
    });
    // Completed during the (saturated) fault phase only: the heal phase has no new load.
    const perSecond = r.finishedInPhase / (durationMs / 1000);
    if (nodes === sizes[0]) one = perSecond;
    rows.push({
      nodes,
      completedPerSimSecond: Math.round(perSecond * 10) / 10,
      speedup: Math.round((perSecond / one) * 100) / 100,
      oldEngineClaim: OLD_ENGINE_CLAIMS[nodes] ?? null,
      wallMs: r.wallMs,
    });
  }
  return rows;
}
