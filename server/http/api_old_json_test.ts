/**
 * The old engine's workflow JSON through the API: its handle names (`output`,
 * `input`, `source`, `target`) and numeric strings are accepted, stored as ours,
 * and the workflow runs.
 */
import { assertEquals } from "../../testing/assert.ts";
import {
  assertApiError,
  executeAndWait,
  getJson,
  nodeOutput,
  postJson,
  withNode,
} from "../../testing/server.ts";

function oldJson(id: string, sourceHandle: string, targetHandle: string) {
  return {
    id,
    name: "old handles",
    nodes: [
      { id: "n1", type: "source", nodeType: "sequence.numbers", config: { start: "1", end: "6", step: "1" } },
      { id: "n2", type: "transform", nodeType: "filter", config: { condition: "value > 2" } },
      { id: "n3", type: "transform", nodeType: "aggregate.count", config: {} },
      { id: "n4", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { id: "e1", source: "n1", target: "n2", sourceHandle, targetHandle, animated: false },
      { id: "e2", source: "n2", target: "n3", sourceHandle, targetHandle },
      { id: "e3", source: "n3", target: "n4", sourceHandle: null, targetHandle: null },
    ],
  };
}

Deno.test("old JSON through the API: output/input and source/target handles are stored as out/in and run", async () => {
  await withNode(async (node) => {
    for (const [id, sh, th] of [["wf-old-1", "output", "input"], ["wf-old-2", "source", "target"]]) {
      const created = await postJson(node, "/api/v1/workflows", oldJson(id, sh, th));
      assertEquals(created.status, 201, created.text);
      const got = await getJson(node, `/api/v1/workflows/${id}`);
      assertEquals(got.status, 200, got.text);
      assertEquals(
        got.body.edges.map((e: Record<string, unknown>) => [e.sourceHandle, e.targetHandle]),
        [["out", "in"], ["out", "in"], [undefined, undefined]],
      );
      assertEquals(got.body.edges[0].animated, false);
      assertEquals(got.body.nodes[0].config, { start: 1, end: 6, step: 1 });
      const run = await executeAndWait(node, id);
      assertEquals(await nodeOutput(node, run.body.executionId, "n4"), [{ count: 4 }]);
    }
  });
});

Deno.test("old JSON through the API: an unknown handle and `output` on a condition are still refused", async () => {
  await withNode(async (node) => {
    const bad = oldJson("wf-old-bad", "result", "input");
    const r = await postJson(node, "/api/v1/workflows", bad);
    assertApiError(r, 400, "validation_failed");
    assertEquals(
      r.body.error.details.map((p: { code: string; path: string }) => [p.code, p.path]),
      [["unknown_handle", "$.edges[0].sourceHandle"], ["unknown_handle", "$.edges[1].sourceHandle"]],
    );
    const cond = await postJson(node, "/api/v1/workflows", {
      id: "wf-old-cond",
      name: "cond",
      nodes: [
        { id: "s", type: "source", nodeType: "sequence.numbers", config: {} },
        { id: "c", type: "control", nodeType: "condition", config: { condition: "value > 2" } },
        { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
      ],
      edges: [{ source: "s", target: "c", sourceHandle: "output" }, {
        source: "c",
        target: "k",
        sourceHandle: "output",
      }],
    });
    assertApiError(cond, 400, "validation_failed");
    assertEquals(
      cond.body.error.details.map((p: { code: string; path: string }) => [p.code, p.path]),
      [["unknown_handle", "$.edges[1].sourceHandle"]],
    );
  });
});
