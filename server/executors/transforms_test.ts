import { assertEquals, assertRejects } from "../../testing/assert.ts";
import { type Executor, type Json, NodeError } from "./executor.ts";
import { aggregate, aggregateCount, batch, distinct, filter, limit, map, sort } from "./transforms.ts";
import { testNodeContext } from "../../testing/node_context.ts";

const code = (c: string) => (e: unknown) => e instanceof NodeError && e.code === c && !e.retryable;

async function run(
  exec: Executor,
  config: Record<string, unknown>,
  records: Json[],
  executionInput: Json = null,
) {
  return (await exec(testNodeContext({ config, records, executionInput }))).records;
}

const people: Json[] = [
  { name: "ann", dept: "eng", city: "paris", salary: 100 },
  { name: "bob", dept: "ops", city: "oslo", salary: 70 },
  { name: "cid", dept: "eng", city: "oslo", salary: 80 },
  { name: "dee", dept: "eng", city: "paris", salary: 120 },
  { name: "eve", dept: "ops", city: "oslo", salary: null },
];

Deno.test("filter: bare values, object fields, $input, no-match is false", async () => {
  assertEquals(await run(filter, { condition: "value > 10" }, [5, 11, 10, 20]), [11, 20]);
  assertEquals(
    (await run(filter, { condition: "dept = 'ops'" }, people)).map((p) => (p as { name: string }).name),
    ["bob", "eve"],
  );
  assertEquals(await run(filter, { condition: "value >= $input.min" }, [1, 2, 3], { min: 2 }), [2, 3]);
  assertEquals(await run(filter, { condition: "missing = 1" }, [{ a: 1 }]), []);
  assertEquals(await run(filter, { condition: "$index % 2 = 0" }, ["a", "b", "c"]), ["a", "c"]);
  await assertRejects(() => run(filter, { condition: "value >" }, [1]), code("expression_invalid"));
});

Deno.test("map: expression, fields, no match", async () => {
  assertEquals(await run(map, { expression: "value * 2" }, [1, 2.5, -3]), [2, 5, -6]);
  assertEquals(await run(map, { expression: "missing" }, [{ a: 1 }]), [null]);
  assertEquals(
    await run(
      map,
      { fields: { who: "$uppercase(name)", pay: "salary / 10", none: "nope" } },
      people.slice(0, 2),
    ),
    [{ who: "ANN", pay: 10 }, { who: "BOB", pay: 7 }],
  );
  assertEquals(await run(map, { fields: { doubled: "value * 2", i: "$index" } }, [4, 5]), [
    { doubled: 8, i: 0 },
    { doubled: 10, i: 1 },
  ]);
  await assertRejects(() => run(map, { fields: { x: 3 } }, [1]), code("expression_invalid"));
  await assertRejects(() => run(map, { expression: "value + 1" }, ["a"]), code("expression_error"));
});

Deno.test("distinct: deep equality ignoring key order, and by key", async () => {
  assertEquals(
    await run(distinct, {}, [1, "1", 1, { a: 1, b: 2 }, { b: 2, a: 1 }, [1, 2], [2, 1], [1, 2], null]),
    [
      1,
      "1",
      { a: 1, b: 2 },
      [1, 2],
      [2, 1],
      null,
    ],
  );
  assertEquals(
    (await run(distinct, { key: "city" }, people)).map((p) => (p as { name: string }).name),
    ["ann", "bob"],
  );
  assertEquals(await run(distinct, { key: "value % 3" }, [1, 2, 3, 4, 5, 6]), [1, 2, 3]);
});

Deno.test("batch: arrays of batchSize, last shorter", async () => {
  assertEquals(await run(batch, { batchSize: 2 }, [1, 2, 3, 4, 5]), [[1, 2], [3, 4], [5]]);
  assertEquals(await run(batch, { batchSize: 10 }, []), []);
});

Deno.test("aggregate: groups by one and several fields, ops", async () => {
  assertEquals(await run(aggregate, { groupBy: "dept", op: "count" }, people), [
    { dept: "eng", count: 3 },
    { dept: "ops", count: 2 },
  ]);
  assertEquals(await run(aggregate, { groupBy: ["dept", "city"], op: "sum", field: "salary" }, people), [
    { dept: "eng", city: "paris", sum: 220 },
    { dept: "ops", city: "oslo", sum: 70 },
    { dept: "eng", city: "oslo", sum: 80 },
  ]);
  assertEquals(await run(aggregate, { groupBy: "dept", op: "avg", field: "salary" }, people), [
    { dept: "eng", avg: 100 },
    { dept: "ops", avg: 70 },
  ]);
  assertEquals(await run(aggregate, { op: "max", field: "salary" }, people), [{ max: 120 }]);
  assertEquals(await run(aggregate, { op: "min", field: "name" }, people), [{ min: "ann" }]);
  assertEquals(await run(aggregate, { op: "sum", field: "value" }, [1, 2, 3.5]), [{ sum: 6.5 }]);
  assertEquals(await run(aggregate, { groupBy: "value", op: "count" }, ["a", "b", "a"]), [
    { value: "a", count: 2 },
    { value: "b", count: 1 },
  ]);
  assertEquals(await run(aggregate, { op: "count" }, []), [{ count: 0 }]);
  assertEquals(await run(aggregate, { op: "avg", field: "x" }, []), [{ avg: null }]);
  assertEquals(await run(aggregate, { groupBy: "k", op: "count" }, []), []);
  assertEquals(await run(aggregate, { groupBy: "k", op: "count" }, [{ k: 1 }, {}, { k: null }]), [
    { k: 1, count: 1 },
    { k: null, count: 2 },
  ]);
});

Deno.test("aggregate: non-numeric sum/avg fail with aggregate_type", async () => {
  await assertRejects(
    () => run(aggregate, { op: "sum", field: "v" }, [{ v: 1 }, { v: "2" }]),
    code("aggregate_type"),
  );
  await assertRejects(() => run(aggregate, { op: "avg", field: "value" }, [true]), code("aggregate_type"));
  await assertRejects(() => run(aggregate, { op: "sum" }, [1]), code("config_missing"));
  await assertRejects(() => run(aggregate, { op: "count", groupBy: [1] }, [1]), code("config_type"));
});

Deno.test("aggregate.count: by group and in total", async () => {
  assertEquals(await run(aggregateCount, {}, people), [{ count: 5 }]);
  assertEquals(await run(aggregateCount, { groupBy: "city" }, people), [
    { city: "paris", count: 2 },
    { city: "oslo", count: 3 },
  ]);
});

Deno.test("sort: numbers numerically before strings, asc and desc, stable, by key", async () => {
  assertEquals(await run(sort, { order: "asc" }, [10, "b", 9, "a", 100, "B"]), [9, 10, 100, "B", "a", "b"]);
  assertEquals(await run(sort, { order: "desc" }, [10, 9, 100]), [100, 10, 9]);
  const rows: Json[] = [
    { k: 2, id: "a" },
    { k: 1, id: "b" },
    { k: 2, id: "c" },
    { k: 1, id: "d" },
    { id: "nokey" },
    { k: 2, id: "e" },
  ];
  const ids = (rs: Json[]) => rs.map((r) => (r as { id: string }).id);
  assertEquals(ids(await run(sort, { by: "k", order: "asc" }, rows)), ["b", "d", "a", "c", "e", "nokey"]);
  assertEquals(ids(await run(sort, { by: "k", order: "desc" }, rows)), ["a", "c", "e", "b", "d", "nokey"]);
  assertEquals(ids(await run(sort, { by: "$length(id)", order: "asc" }, rows)), [
    "a",
    "b",
    "c",
    "d",
    "e",
    "nokey",
  ]);
});

Deno.test("limit: first count records", async () => {
  assertEquals(await run(limit, { count: 2 }, [1, 2, 3]), [1, 2]);
  assertEquals(await run(limit, { count: 0 }, [1, 2, 3]), []);
  assertEquals(await run(limit, { count: 9 }, [1]), [1]);
});

Deno.test("transforms work through long inputs (yielding to the event loop)", async () => {
  const input = Array.from({ length: 5000 }, (_, i) => i);
  const out = await run(filter, { condition: "value % 1000 = 0" }, input);
  assertEquals(out, [0, 1000, 2000, 3000, 4000]);
});
