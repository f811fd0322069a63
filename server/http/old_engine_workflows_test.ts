/**
 * The old engine's workflow files (`testing/old_engine/*.json`, one or more per node kind that needs no outside
 * service), posted unchanged — UI data, numeric strings, its edge handles — and run: each completes with the
 * records the old engine's meaning gives.
 */
import { assertEquals } from "../../testing/assert.ts";
import { executeAndWait, nodeOutput, postJson, withNode } from "../../testing/server.ts";

const dir = new URL("../../testing/old_engine/", import.meta.url);

async function oldWorkflow(file: string): Promise<{ id: string }> {
  return JSON.parse(await Deno.readTextFile(new URL(file, dir)));
}

Deno.test("old engine: its workflow files post unchanged and run", async () => {
  const root = await Deno.makeTempDir({ prefix: "old-engine-" });
  await Deno.writeTextFile(`${root}/orders.csv`, "item,qty\napple,2\npear,3\n");
  try {
    await withNode(
      async (node) => {
        const files = [
          "numbers_filter_console.json",
          "random_map_distinct_batch.json",
          "collection_count.json",
          "files_csv_text.json",
          "text_source.json",
        ];
        const runs: Record<string, string> = {};
        for (const file of files) {
          const definition = await oldWorkflow(file);
          const created = await postJson(node, "/api/v1/workflows", definition);
          assertEquals(created.status, 201, `${file}: ${created.text}`);
          const run = await executeAndWait(node, definition.id);
          runs[definition.id] = run.body.executionId;
        }
        const numbers = await nodeOutput(node, runs["old-numbers"], "n3");
        assertEquals(numbers, Array.from({ length: 50 }, (_, i) => 51 + i), "a DAG: filter then the sink");
        const batches = await nodeOutput(node, runs["old-random"], "c");
        const flat = batches.flat() as number[];
        assertEquals(new Set(flat).size, flat.length, "distinct");
        assertEquals(flat.every((v) => [10, 20, 30, 40, 50, 60].includes(v)), true, "times ten");
        assertEquals(await nodeOutput(node, runs["old-count"], "out"), [{ count: 3 }]);
        assertEquals(await Deno.readTextFile(`${root}/items.txt`), "apple\npear\n");
        assertEquals(await nodeOutput(node, runs["old-text"], "print"), ["apple", "pear"]);
        // The definition round-trips its UI data.
        const stored = await (await fetch(`${node.url}/api/v1/workflows/old-numbers`)).json();
        assertEquals(stored.nodes[0].position, { x: 100, y: 80 });
        assertEquals(stored.edges[0].animated, false);
      },
      {},
      { filesRoot: root },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
