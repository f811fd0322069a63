/**
 * The web console's cluster page in headless Chromium, on a real 3-member cluster in this process (three
 * nodes sharing a fresh PostgreSQL database and a cluster secret, each with its own HTTP and cluster port):
 * opened on one member, it lists the three members up with the leader marked, the shard map with every shard
 * owned by one of them at its epoch, the recent cluster events and the metric charts; a run submitted
 * through another member is listed and opens.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import {
  keepScreenshot,
  pageErrors,
  requireChromium,
  waitForCount,
  withBrowser,
} from "../../testing/browser.ts";
import { freePort } from "../../testing/net.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { createWorkflow, execute, getJson } from "../../testing/server.ts";
import { waitUntil } from "../../testing/wait.ts";
import { type RunningNode, startNode } from "../start.ts";

const SHARDS = 24;
const IDS = ["n1", "n2", "n3"];

function member(id: string, databaseUrl: string): Promise<RunningNode> {
  return startNode({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    storage: "postgres",
    databaseUrl,
    nodeId: id,
    clusterPort: freePort(),
    clusterSecret: "console-e2e-cluster-secret",
    shards: SHARDS,
  });
}

/** Waits until `node` sees the three members up and the shards balanced between them (a settled split). */
async function formed(node: RunningNode): Promise<void> {
  await waitUntil(
    "three members up, the shards balanced between them",
    async () => {
      const stats = await getJson(node, "/api/v1/cluster/stats");
      const shards = await getJson(node, "/api/v1/cluster/shards");
      const up = (stats.body?.members ?? []).filter((m: { status: string }) => m.status === "up").length;
      const load = new Map(IDS.map((id) => [id, 0]));
      for (const s of shards.body?.shards ?? []) {
        if (load.has(s.location)) {
          load.set(s.location, load.get(s.location)! + 1);
        }
      }
      const counts = [...load.values()];
      return up === 3 && shards.body?.activeShards === SHARDS && Math.min(...counts) >= SHARDS / 3 - 1;
    },
    30_000,
    200,
  );
}

pgTest("console e2e: the cluster page of a 3-member cluster", async () => {
  if (!requireChromium()) return;
  await withTempDatabase(async (url) => {
    const nodes: RunningNode[] = [];
    try {
      for (const id of IDS) nodes.push(await member(id, url));
      await formed(nodes[0]);
      await createWorkflow(nodes[1], {
        id: "cluster-e2e",
        name: "Cluster e2e",
        nodes: [{ id: "n", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } }],
        edges: [],
      });
      // Through n3 (forwarded to the shard's owner); the same key again while a peer link is still coming up.
      let run = await execute(nodes[2], "cluster-e2e", { headers: { "idempotency-key": "console-e2e" } });
      await waitUntil(
        "the run through n3 completed",
        async () => {
          if (run.status === 200 && run.body.status === "completed") return true;
          assert([503, 504].includes(run.status) || run.body.status === "started", run.text);
          run = await execute(nodes[2], "cluster-e2e", { headers: { "idempotency-key": "console-e2e" } });
          return false;
        },
        30_000,
        300,
      );

      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        const errors = pageErrors(page);
        await page.goto(`${nodes[0].url}/ui/cluster`);
        await waitForCount(page, 'tr[data-member-status="up"]', 3);
        const members = await page.locator("tr[data-member]").evaluateAll((rows) =>
          rows.map((r) => r.getAttribute("data-member"))
        );
        assertEquals(members.sort(), IDS);
        assertEquals(await page.locator("[data-leader]").count(), 1, "one leader marked");
        const leader = await page.locator("[data-leader-id]").innerText();
        assert(IDS.includes(leader), leader);
        await waitForCount(page, "[data-shard-map] [data-shard]", SHARDS);
        let owners: (string | null)[] = [];
        await waitUntil(
          "every shard owned by a member, each member owning some",
          async () => {
            owners = await page.locator("[data-shard-map] [data-shard]").evaluateAll((cells) =>
              cells.map((c) => c.getAttribute("data-owner"))
            );
            return owners.every((o) => IDS.includes(o ?? "")) && new Set(owners).size === 3;
          },
          10_000,
          200,
        ).catch((err) => {
          throw new Error(`${err.message}: ${owners}`);
        });
        await waitForCount(page, "table[data-table=cluster-events] tbody tr", 1, { atLeast: true });
        await waitForCount(page, "figure.spark", 3);
        // A second read gives the charts their first points between two scrapes.
        await waitUntil(
          "a throughput figure",
          async () => (await page.locator('[data-metric^="throughput"] .spark-value').innerText()) !== "—",
          10_000,
          200,
        );
        await keepScreenshot(page, "console-cluster.png");

        // The run submitted through n3 is listed by n1's console, and opens.
        await page.goto(`${nodes[0].url}/ui/executions?workflowId=cluster-e2e`);
        await waitForCount(page, `tr[data-execution-id="${run.body.executionId}"]`, 1);
        await page.click(`tr[data-execution-id="${run.body.executionId}"] a`);
        await waitForCount(page, '.dag-node[data-status="completed"]', 1);
        assertEquals(errors, []);
      });
    } finally {
      for (const n of nodes.reverse()) await n.close();
    }
  });
});
