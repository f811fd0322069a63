/**
 * What the benches read about processes and latencies: CPU time and resident
 * memory of a process from `/proc` (Linux), and latency percentiles.
 *
 * @module
 */

/** CPU seconds (user + system) and resident memory of a process at one instant. */
export interface ProcessStats {
  cpuSeconds: number;
  /** Resident memory now (VmRSS), bytes. */
  rssBytes: number;
  /** Peak resident memory so far (VmHWM), bytes. */
  peakBytes: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on Linux). */
const TICKS = 100;

/**
 * The CPU seconds and resident memory of process `pid` (`Deno.pid` for this one: Deno asks for every
 * permission to read `/proc/self`); zeros when it is gone or `/proc` is not there.
 *
 * @example
 * ```ts
 * import { processStats } from "./process_stats.ts";
 * const gone = await processStats(2 ** 22 + 1); // above Linux's largest process id
 * if (gone.cpuSeconds !== 0 || gone.rssBytes !== 0) throw new Error("no such process: zeros");
 * const self = await processStats(Deno.pid); // with every permission (`-A`), this process's figures
 * if (self.peakBytes < self.rssBytes) throw new Error("the peak is at least the current");
 * ```
 */
export async function processStats(pid: number): Promise<ProcessStats> {
  try {
    const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
    const ticks = Number(stat[11]) + Number(stat[12]);
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: ticks / TICKS, rssBytes: kb("VmRSS"), peakBytes: kb("VmHWM") };
  } catch {
    return { cpuSeconds: 0, rssBytes: 0, peakBytes: 0 };
  }
}

/** CPU seconds of each process in `pids` now (a process gone counts 0). */
export async function cpuOf(pids: readonly number[]): Promise<Map<number, number>> {
  const stats = await Promise.all(pids.map((p) => processStats(p)));
  return new Map(pids.map((p, i) => [p, stats[i].cpuSeconds]));
}

/** The CPU seconds the processes of `after` used since `before` (one not in `before` counts from 0). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += Math.max(0, s - (before.get(pid) ?? 0));
  return total;
}

/** The p-th percentile of ascending `sorted` (nearest rank below); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** p50, p95, p99 and max of some latencies (ms), to 0.1 ms. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The percentiles of `latencies` (ms, in any order).
 *
 * @example
 * ```ts
 * import { latencySummary } from "./process_stats.ts";
 * const s = latencySummary(Array.from({ length: 100 }, (_, i) => i + 1));
 * if (s.p50 !== 51 || s.p99 !== 100 || s.max !== 100) throw new Error(JSON.stringify(s));
 * ```
 */
export function latencySummary(latencies: readonly number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (x: number) => +x.toFixed(1);
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? NaN),
  };
}
