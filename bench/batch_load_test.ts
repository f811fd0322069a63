/**
 * The batch load bench against a real node (in this process, memory storage) for a short run: every batch
 * item and every single execute is acknowledged, none refused, and every execution it started ended.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { getJson, withNode } from "../testing/server.ts";
import { runBatchLoad } from "./batch_load.ts";
import { WORKLOADS } from "./workloads.ts";

Deno.test("batch load: a short run of batches and of single executes, all acknowledged and ended", async () => {
  await withNode(async (node) => {
    const reports = await runBatchLoad(node.url, { batch: 20, inFlight: [2, 3], single: 2, durationMs: 300 });
    assertEquals(reports.map((r) => r.name), [
      "batch 20 x 2 in flight",
      "batch 20 x 3 in flight",
      "single x 2 workers",
    ]);
    for (const r of reports) {
      assert(r.acknowledged > 0, `${r.name}: ${JSON.stringify(r)}`);
      assertEquals(r.failed, 0, r.name);
      assert(
        r.perSecond > 0 && r.endedPerSecond > 0 && r.requestMs.p99 >= r.requestMs.p50,
        JSON.stringify(r),
      );
    }
    const id = WORKLOADS.standard.id as string;
    const running = await getJson(node, `/api/v1/workflows/${id}/executions?status=running&limit=1`);
    assertEquals(running.body, []);
    const status = await getJson(node, `/api/v1/workflows/${id}/status`);
    const acknowledged = reports.reduce((n, r) => n + r.acknowledged, 0);
    assert(status.body.executionCount >= acknowledged, `${status.body.executionCount} < ${acknowledged}`);
  });
});
