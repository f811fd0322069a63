/**
 * Sample workflow definitions, for tests and examples. Each function returns a
 * fresh object, so callers may change it freely.
 *
 * @module
 */
import type { WorkflowDefinition } from "./workflow.ts";

/**
 * The old engine's sample workflow, exactly as its UI saved it: UI data
 * (`position`, `label`, `animated`, handles `"out"`/`"in"`), a schedule in
 * `metadata`, and a numeric string (`"limit": "10"`) where a number is meant.
 */
export function oldEngineSample(): WorkflowDefinition {
  return {
    id: "wf-1",
    name: "My Workflow",
    description: "",
    version: "1.0",
    author: "ops",
    tags: ["etl"],
    nodes: [
      {
        id: "n1",
        type: "source",
        nodeType: "sequence.numbers",
        label: "Numbers",
        position: { x: 100, y: 80 },
        config: { start: 1, end: 100, step: 1 },
      },
      {
        id: "n2",
        type: "transform",
        nodeType: "filter",
        label: "Big ones",
        position: { x: 300, y: 80 },
        config: { condition: "value > 50" },
      },
      {
        id: "n3",
        type: "sink",
        nodeType: "console.log",
        label: "Print",
        position: { x: 500, y: 80 },
        config: { limit: "10" },
      },
    ],
    edges: [
      { id: "e1", source: "n1", target: "n2", sourceHandle: "out", targetHandle: "in", animated: false },
      { id: "e2", source: "n2", target: "n3" },
    ],
    metadata: {
      createdAt: "2024-11-15T10:00:00Z",
      updatedAt: "2024-11-15T10:00:00Z",
      schedule: { enabled: true, scheduleType: "fixed_rate", interval: "1h" },
    },
  };
}

/** The old engine's sample as the JSON text its API received. */
export const OLD_ENGINE_SAMPLE_JSON: string = JSON.stringify(oldEngineSample());

/**
 * A branching workflow: numbers, a condition, and one sink per branch.
 */
export function conditionSample(): WorkflowDefinition {
  return {
    id: "wf-branch",
    name: "Branch",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { end: 10 } },
      { id: "even", type: "control", nodeType: "condition", config: { condition: "value % 2 = 0" } },
      { id: "yes", type: "sink", nodeType: "memory.collect", config: {} },
      { id: "no", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "src", target: "even" },
      { source: "even", target: "yes", sourceHandle: "true" },
      { source: "even", target: "no", sourceHandle: "false" },
    ],
  };
}

/**
 * A layered DAG of `nodeCount` nodes (at least 2): one source, transforms, and a
 * final sink; every node feeds up to `fanOut` of the nodes after it. With 1,000
 * nodes and a fan-out of 5 it has 4,985 edges, just under the default limits.
 */
export function largeDag(nodeCount: number, fanOut = 5): WorkflowDefinition {
  const nodes: WorkflowDefinition["nodes"] = [];
  const edges: WorkflowDefinition["edges"] = [];
  for (let i = 0; i < nodeCount; i++) {
    const id = `n${i}`;
    if (i === 0) nodes.push({ id, type: "source", nodeType: "sequence.numbers", config: { end: "1000" } });
    else if (i === nodeCount - 1) nodes.push({ id, type: "sink", nodeType: "memory.collect", config: {} });
    else nodes.push({ id, type: "transform", nodeType: "map", config: { expression: "value + 1" } });
    if (i < nodeCount - 1) {
      for (let k = 1; k <= fanOut && i + k < nodeCount; k++) {
        edges.push({ id: `e${i}-${i + k}`, source: id, target: `n${i + k}` });
      }
    }
  }
  return { id: "wf-large", name: "Large", nodes, edges };
}
