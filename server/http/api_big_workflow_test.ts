/**
 * `--max-workflow-nodes`: a node refuses a definition over its bound with `too_many_nodes` at `$.nodes`, and
 * one raised to 3,000 takes a 2,000-node DAG over HTTP, runs it and shows it.
 */
import { assertEquals } from "../../testing/assert.ts";
import { startNode } from "../start.ts";

/** A chain of `n` nodes: a source, n-2 maps, a sink. */
function chain(n: number) {
  const nodes = [
    { id: "n0", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    ...Array.from({ length: n - 2 }, (_, i) => ({
      id: `n${i + 1}`,
      type: "transform",
      nodeType: "map",
      config: { expression: "value + 1" },
    })),
    { id: `n${n - 1}`, type: "sink", nodeType: "memory.collect", config: {} },
  ];
  const edges = nodes.slice(1).map((node, i) => ({ source: `n${i}`, target: node.id }));
  return { id: `chain-${n}`, name: `chain of ${n}`, nodes, edges };
}

Deno.test("--max-workflow-nodes bounds a definition; a 2,000-node DAG runs over HTTP under a raised bound", async () => {
  const small = await startNode({ port: 0, storage: "memory", logLevel: "error" });
  try {
    const refused = await fetch(`${small.url}/api/v1/workflows`, {
      method: "POST",
      body: JSON.stringify(chain(2000)),
    });
    const body = await refused.json();
    assertEquals(refused.status, 400);
    assertEquals(body.error.details[0].path, "$.nodes");
    assertEquals(body.error.details[0].code, "too_many_nodes");
  } finally {
    await small.close();
  }
  const big = await startNode({ port: 0, storage: "memory", logLevel: "error", maxWorkflowNodes: 3000 });
  try {
    const created = await fetch(`${big.url}/api/v1/workflows`, {
      method: "POST",
      body: JSON.stringify(chain(2000)),
    });
    assertEquals(created.status, 201, await created.clone().text());
    await created.body?.cancel();
    const run = await (await fetch(`${big.url}/api/v1/workflows/chain-2000/execute?wait=60000`, {
      method: "POST",
    })).json();
    assertEquals(run.status, "completed");
    assertEquals(run.nodes.length, 2000);
    const out = await (await fetch(`${big.url}/api/v1/executions/${run.executionId}/nodes/n1999/output`))
      .json();
    assertEquals(out.records, [1999, 2000, 2001]);
  } finally {
    await big.close();
  }
});
