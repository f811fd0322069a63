/**
 * The crash tests' workflow (`server/crash_test.ts`, `server/cluster/cluster_process_test.ts`):
 * a five-node chain with a durable delay, and the check that one execution of it completed
 * exactly once. Imported only by tests and benches.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import type { HttpTarget } from "./http.ts";
import { getRetrying } from "./process.ts";

/** The nodes of {@link delayChain}. */
export const DELAY_CHAIN_NODES = ["src", "double", "wait", "inc", "out"];
/** The records the sink of {@link delayChain} collects. */
export const DELAY_CHAIN_OUTPUT = [3, 5, 7, 9, 11];

/** The crash tests' workflow: sequence 1..5 → value*2 → delay → value+1 → collect. */
export function delayChain(id: string, name: string, delayMs: number) {
  return {
    id,
    name,
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 5 } },
      { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
      { id: "wait", type: "control", nodeType: "delay", config: { durationMs: delayMs } },
      { id: "inc", type: "transform", nodeType: "map", config: { expression: "value + 1" } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "src", target: "double" },
      { source: "double", target: "wait" },
      { source: "wait", target: "inc" },
      { source: "inc", target: "out" },
    ],
  };
}

/**
 * Checks one finished execution of {@link delayChain}: contiguous sequence numbers, started and
 * succeeded once, no node failed, one NodeSucceeded per node, the exact records collected. Returns
 * when it ended. Reads with `getRetrying` (`pauseMs` between retries).
 */
export async function checkDelayChainExecution(
  target: HttpTarget,
  executionId: string,
  pauseMs = 100,
): Promise<number> {
  const ev = await getRetrying(target, `/api/v1/executions/${executionId}/events`, pauseMs);
  assertEquals(ev.status, 200, ev.text);
  // deno-lint-ignore no-explicit-any
  const events: any[] = ev.body.events;
  const where = `${executionId}: ${events.map((e) => `${e.seq}:${e.type}:${e.nodeId ?? ""}`).join(" ")}`;
  assertEquals(events.map((e) => e.seq), events.map((_, i) => i + 1), `sequence numbers: ${where}`);
  assertEquals(events[0].type, "ExecutionStarted", where);
  assertEquals(events.at(-1).type, "ExecutionSucceeded", where);
  const count = (type: string, nodeId?: string) =>
    events.filter((e) => e.type === type && (nodeId === undefined || e.nodeId === nodeId)).length;
  assertEquals(count("ExecutionStarted"), 1, where);
  assertEquals(count("ExecutionSucceeded"), 1, where);
  assertEquals(count("NodeFailed"), 0, where);
  for (const node of DELAY_CHAIN_NODES) assertEquals(count("NodeSucceeded", node), 1, `${node} in ${where}`);
  const out = await getRetrying(target, `/api/v1/executions/${executionId}/nodes/out/output`, pauseMs);
  assertEquals(out.status, 200, out.text);
  assertEquals(out.body.records, DELAY_CHAIN_OUTPUT, `collected records of ${executionId}`);
  assertEquals(out.body.total, DELAY_CHAIN_OUTPUT.length);
  return events.at(-1).at;
}
