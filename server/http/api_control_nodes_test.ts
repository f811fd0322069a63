/**
 * The `switch` and `terminate` control nodes over real HTTP: a switch routes its input to the first case that
 * holds (else `default`) and skips the other branches; terminate ends the run completed or failed at once,
 * cancelling what still runs.
 */
import { assertEquals } from "../../testing/assert.ts";
import {
  createWorkflow,
  e,
  executeAndWait,
  n,
  nodeOutput,
  postJson,
  viewNode,
  wf,
  withNode,
} from "../../testing/server.ts";

function switchFlow(id: string) {
  return wf(id, [
    n("in", "source/execution.input"),
    n("route", "control/switch", {
      cases: [{ handle: "big", when: "value > 100" }, { handle: "some", when: "count > 0" }],
    }),
    n("big", "sink/memory.collect"),
    n("some", "sink/memory.collect"),
    n("none", "sink/memory.collect"),
  ], [e("in", "route"), e("route", "big", "big"), e("route", "some", "some"), e("route", "none", "default")]);
}

Deno.test("switch: the first case that holds takes the records; the other branches are skipped", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, switchFlow("sw"));
    const cases: [unknown, string][] = [[[500, 1], "big"], [[5, 7], "some"], [[], "none"]];
    for (const [input, taken] of cases) {
      const r = await executeAndWait(node, "sw", "completed", { input });
      const id = r.body.executionId;
      assertEquals(viewNode(r.body, "route").branch, taken === "none" ? "default" : taken);
      for (const sink of ["big", "some", "none"]) {
        assertEquals(
          viewNode(r.body, sink).status,
          sink === taken ? "completed" : "skipped",
          `${sink} for ${input}`,
        );
      }
      assertEquals(await nodeOutput(node, id, taken), input, "the switch passes its records on");
    }
  });
});

Deno.test("switch: a case handle the edges do not know, or a duplicate case, is refused at create", async () => {
  await withNode(async (node) => {
    const bad = switchFlow("sw-bad");
    bad.edges[1] = e("route", "big", "huge");
    const r = await postJson(node, "/api/v1/workflows", bad);
    assertEquals(r.status, 400, r.text);
    assertEquals(r.body.error.details.map((d: { path: string; code: string }) => [d.path, d.code]), [
      ["$.edges[1].sourceHandle", "unknown_handle"],
    ]);
    const dup = switchFlow("sw-dup");
    (dup.nodes[1].config!.cases as unknown[]).push({ handle: "big", when: "true" });
    const d = await postJson(node, "/api/v1/workflows", dup);
    assertEquals(d.status, 400, d.text);
    assertEquals(d.body.error.details[0].path, "$.nodes[1].config.cases[2].handle");
  });
});

Deno.test("terminate: ends the run completed, or failed with its reason; a parallel delay is cancelled", async () => {
  await withNode(async (node) => {
    for (const status of ["completed", "failed"] as const) {
      const id = `term-${status}`;
      await createWorkflow(
        node,
        wf(id, [
          n("src", "source/memory.collection", { data: [1] }),
          n("stop", "control/terminate", { status, reason: "enough" }),
          n("slow", "control/delay", { durationMs: 600_000 }),
          n("after", "sink/memory.collect"),
        ], [e("src", "stop"), e("src", "slow"), e("slow", "after")]),
      );
      const r = await executeAndWait(node, id, status, { wait: 5_000 });
      assertEquals(viewNode(r.body, "stop").status, "completed");
      assertEquals(viewNode(r.body, "slow").status, "cancelled");
      assertEquals(viewNode(r.body, "after").status, "cancelled");
      assertEquals(
        r.body.error,
        status === "failed" ? { code: "terminated", message: "enough", nodeId: "stop" } : null,
      );
    }
  });
});
