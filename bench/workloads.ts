/**
 * The load harness's workloads: workflow definitions `bench:load`, the in-process benches and the ceiling
 * run (`standard` is the one the targets speak of).
 *
 * @module
 */

/**
 * The three standard workloads, by name.
 *
 * @example
 * ```ts
 * import { WORKLOADS } from "./workloads.ts";
 * if ((WORKLOADS.standard.nodes as unknown[]).length !== 5) throw new Error("5 nodes");
 * ```
 */
export const WORKLOADS: Record<string, Record<string, unknown>> = {
  standard: {
    id: "bench-standard",
    name: "standard 5-node",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
      { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
      { id: "big", type: "transform", nodeType: "filter", config: { condition: "value > 5" } },
      { id: "inc", type: "transform", nodeType: "map", config: { expression: "value + 1" } },
      { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "src", target: "double" },
      { source: "double", target: "big" },
      { source: "big", target: "inc" },
      { source: "inc", target: "collect" },
    ],
  },
  fanout: {
    id: "bench-fanout",
    name: "10-node fan-out/fan-in",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
      ...Array.from({ length: 8 }, (_, i) => ({
        id: `b${i}`,
        type: "transform",
        nodeType: "map",
        config: { expression: `value + ${i}` },
      })),
      { id: "join", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      ...Array.from({ length: 8 }, (_, i) => ({ source: "src", target: `b${i}` })),
      ...Array.from({ length: 8 }, (_, i) => ({ source: `b${i}`, target: "join" })),
    ],
  },
  delay: {
    id: "bench-delay",
    name: "with a 100 ms delay",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
      { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 100 } },
      { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "src", target: "wait" }, { source: "wait", target: "collect" }],
  },
};
