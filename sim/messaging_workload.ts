/**
 * The workload's messaging workflows (issue 16): producers that publish records into one queue of the fake
 * broker (`fake_broker.ts`) and consumers that take small batches of it, submitted with the rest of the mix,
 * so that consumers race crashes, partitions, storage faults and failovers while they hold messages.
 *
 * - `msg-produce`: `sequence.numbers` 1..3 → `redis.producer` on {@link MESSAGING_QUEUE} (keys
 *   `<executionId>:publish:<index>`);
 * - `msg-consume`: `redis.consumer` (at most 5 messages, waiting up to 800 ms of virtual time for them,
 *   `output: message`, so each record carries the message's id) → `map` to `{id, v}` → `memory.collect`;
 * - `msg-consume-timed`: the same consumer (at most 3, waiting up to 1.5 s) with a 1 s attempt timeout and 3
 *   attempts: on a thin queue its attempts time out while they hold messages, which go back to the broker.
 *
 * The consumers can take more than the producers publish, so they often wait on a thin queue, holding what
 * they took: a crash, a partition or a storage fault then hits them between the consume and the commit.
 *
 * Invariant 13 (`messaging_invariants.ts`) checks what the broker saw against the histories.
 *
 * @example
 * ```ts
 * import { MESSAGING_QUEUE, messagingWorkflows } from "./messaging_workload.ts";
 * const [produce, consume] = messagingWorkflows();
 * if (produce.nodes[1].config?.stream !== MESSAGING_QUEUE) throw new Error("one queue");
 * if (consume.nodes[0].nodeType !== "redis.consumer") throw new Error("a consumer");
 * ```
 *
 * @module
 */
import type { WorkflowDefinition } from "../core/workflow.ts";

/** The queue (a Redis stream, to the nodes) every messaging workflow of the mix uses. */
export const MESSAGING_QUEUE = "sim-q";

/** The ids of the messaging workflows. */
export const MESSAGING_WORKFLOWS = ["msg-produce", "msg-consume", "msg-consume-timed"] as const;

/** A consumer of {@link MESSAGING_QUEUE} → records `{id, v}` → collected. */
function consumer(
  id: string,
  name: string,
  take: { maxMessages: number; maxWaitMs: number },
  bounds: { timeoutMs?: number; retry?: { maxAttempts: number; initialIntervalMs: number } } = {},
): WorkflowDefinition {
  return {
    id,
    name,
    nodes: [
      {
        id: "take",
        type: "source",
        nodeType: "redis.consumer",
        config: { stream: MESSAGING_QUEUE, ...take, output: "message" },
        ...bounds,
      },
      {
        id: "tag",
        type: "transform",
        nodeType: "map",
        config: { expression: '{"id": position.id, "v": value * 10}' },
      },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "take", target: "tag" }, { source: "tag", target: "out" }],
  };
}

/** The producer and the consumer workflows. */
export function messagingWorkflows(): WorkflowDefinition[] {
  return [
    {
      id: "msg-produce",
      name: "Messaging: publish",
      nodes: [
        { id: "src", type: "source", nodeType: "sequence.numbers", config: { end: 3 } },
        { id: "publish", type: "sink", nodeType: "redis.producer", config: { stream: MESSAGING_QUEUE } },
      ],
      edges: [{ source: "src", target: "publish" }],
    },
    consumer("msg-consume", "Messaging: consume", { maxMessages: 5, maxWaitMs: 800 }),
    consumer("msg-consume-timed", "Messaging: consume, timed out", { maxMessages: 3, maxWaitMs: 1_500 }, {
      timeoutMs: 1_000,
      retry: { maxAttempts: 3, initialIntervalMs: 100 },
    }),
  ];
}
