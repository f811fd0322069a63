/**
 * Memory per idle execution: starts a real node in this process, submits N
 * executions that then wait on a one-hour `delay`, and measures the JavaScript
 * heap after a full garbage collection, before and after (the executions' history
 * is in storage; what is measured is what the node keeps per waiting execution:
 * its actor, state, armed timer and cached outputs).
 *
 *   deno run -A --v8-flags=--expose-gc bench/idle_memory.ts --count 100000 --storage postgres
 *   deno run -A --v8-flags=--expose-gc bench/idle_memory.ts --count 100000 --storage memory
 *
 * With `--storage memory` the histories live in the same heap, so the figure
 * includes them.
 *
 * @module
 */
import { withInProcessNode } from "./in_process.ts";

const args = Deno.args;
const get = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const count = Number(get("count", "100000"));
const storageKind = get("storage", "postgres") as "postgres" | "memory";
const concurrency = Number(get("concurrency", "512"));

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with --v8-flags=--expose-gc");
  Deno.exit(2);
}
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
}

const WAITING = {
  id: "bench-idle",
  name: "waits an hour",
  nodes: [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
    { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 3_600_000 } },
    { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "src", target: "wait" }, { source: "wait", target: "collect" }],
};

await withInProcessNode(storageKind, WAITING, async (node, workflow) => {
  // Warm-up: plans, expressions, pools, the first timers.
  for (let i = 0; i < 20; i++) await node.engine.submit(workflow, { input: null });
  const live0 = node.engine.activeExecutions;
  const heap0 = heapAfterGc();
  const rss0 = Deno.memoryUsage().rss;
  const started = performance.now();
  let next = 0, failed = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      const r = await node.engine.submit(workflow, { input: null });
      if (!r.ok) failed++;
    }
  }));
  // Let the source node finish and the delay's timer be armed everywhere.
  const deadline = Date.now() + 120_000;
  while (node.engine.pendingTimers < live0 + count - failed && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const heap1 = heapAfterGc();
  const rss1 = Deno.memoryUsage().rss;
  const waiting = node.engine.activeExecutions - live0;
  console.log(JSON.stringify({
    storage: storageKind,
    submitted: count,
    failed,
    waiting,
    pendingTimers: node.engine.pendingTimers,
    submitSeconds: +seconds.toFixed(1),
    heapBytesPerWaitingExecution: Math.round((heap1 - heap0) / Math.max(1, waiting)),
    heapMiB: { before: +(heap0 / 1048576).toFixed(1), after: +(heap1 / 1048576).toFixed(1) },
    rssMiB: { before: +(rss0 / 1048576).toFixed(1), after: +(rss1 / 1048576).toFixed(1) },
  }));
});
