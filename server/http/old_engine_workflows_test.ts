/**
 * The old engine's workflow files (`testing/old_engine/*.json`, one or more per node kind that needs no outside
 * service), posted unchanged — UI data, numeric strings, its edge handles — and run: each completes with the
 * records the old engine's meaning gives.
 */
import { assertEquals } from "../../testing/assert.ts";
import { executeAndWait, getJson, nodeOutput, postJson, withNode } from "../../testing/server.ts";

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
          "sql_transform.json",
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
        assertEquals(await nodeOutput(node, runs["old-sql-transform"], "out"), [{ item: "fig" }, {
          item: "pear",
        }]);
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

/** The node kinds `old-engine.md` lists (sources, transforms, sinks), as `category/kind`. */
const OLD_KINDS = [
  "source/random.numbers",
  "source/sequence.numbers",
  "source/file.csv",
  "source/file.text",
  "source/memory.collection",
  "source/sql.query",
  "source/mysql.query",
  "source/kafka.consumer",
  "transform/filter",
  "transform/map",
  "transform/distinct",
  "transform/batch",
  "transform/sql.query",
  "transform/aggregate.count",
  "sink/console.log",
  "sink/file.text",
  "sink/mysql.write",
];

Deno.test("old engine: every node kind it listed is in the palette", async () => {
  await withNode(async (node) => {
    const r = await getJson(node, "/api/v1/workflows/node-types");
    assertEquals(r.status, 200, r.text);
    const served = new Set<string>();
    for (const kinds of Object.values(r.body as Record<string, { type: string; category: string }[]>)) {
      for (const kind of kinds) served.add(`${kind.category}/${kind.type}`);
    }
    assertEquals(OLD_KINDS.filter((k) => !served.has(k)), []);
  });
});

Deno.test("old engine: its MySQL and Kafka files post unchanged where inline connections are allowed", async () => {
  const files = ["mysql_query_write.json", "kafka_consumer.json"];
  await withNode(
    async (node) => {
      for (const file of files) {
        const created = await postJson(node, "/api/v1/workflows", await oldWorkflow(file));
        assertEquals(created.status, 201, `${file}: ${created.text}`);
      }
      const palette = await getJson(node, "/api/v1/workflows/node-types");
      assertEquals(palette.status, 200);
    },
    {},
    { allowInlineConnections: true },
  );
  // By default an inline address is refused when the workflow is saved, with the path of the field.
  await withNode(async (node) => {
    const kafka = await postJson(node, "/api/v1/workflows", await oldWorkflow("kafka_consumer.json"));
    assertEquals(kafka.status, 400, kafka.text);
    assertEquals(
      kafka.body.error.details.map((p: { code: string; path: string }) => [p.code, p.path]),
      [["connection_not_granted", "$.nodes[0].config.brokers"]],
    );
  });
});
