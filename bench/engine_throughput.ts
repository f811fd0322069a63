/**
 * The engine's own capacity, without HTTP: a node started in this process, driven
 * through `Engine.submit` and `Engine.wait` by a closed loop of `--concurrency`
 * callers. Set beside `bench/load.ts` (the same workloads over HTTP), it shows how
 * much of a request's cost is the engine and how much is HTTP and the generator.
 *
 *   deno run -A bench/engine_throughput.ts --storage memory --workload standard --duration 10s
 *   deno run -A bench/engine_throughput.ts --storage postgres --workload standard --duration 10s
 *
 * @module
 */
import { parseDuration } from "../core/duration.ts";
import { withInProcessNode } from "./in_process.ts";
import { WORKLOADS } from "./workloads.ts";

const args = Deno.args;
const get = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const storageKind = get("storage", "memory") as "memory" | "postgres";
const workloadName = get("workload", "standard");
const concurrency = Number(get("concurrency", "256"));
const durationMs = parseDuration(get("duration", "10s")) ?? 10_000;

/** CPU seconds (user + system) of this process so far, from /proc. */
async function cpuSeconds(): Promise<number> {
  const stat = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1].split(" ");
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

await withInProcessNode(storageKind, WORKLOADS[workloadName], async (node, workflow) => {
  const one = async (): Promise<boolean> => {
    const r = await node.engine.submit(workflow, { input: null });
    if (!r.ok) return false;
    const view = await node.engine.wait(r.value.executionId, 60_000);
    return view?.status === "completed";
  };
  for (let i = 0; i < 200; i++) await one(); // warm-up
  const cpu0 = await cpuSeconds();
  const t0 = performance.now();
  const end = t0 + durationMs;
  let completed = 0, failed = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      if (await one()) completed++;
      else failed++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = (await cpuSeconds() - cpu0) * 1000;
  console.log(JSON.stringify({
    storage: storageKind,
    workload: workloadName,
    concurrency,
    seconds: +seconds.toFixed(1),
    completed,
    failed,
    executionsPerSecond: Math.round(completed / seconds),
    cpuMsPerExecution: +(cpuMs / Math.max(1, completed)).toFixed(3),
  }));
});
