import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { type Json, NodeError } from "./executor.ts";
import { sqlTransform } from "./sql_transform.ts";
import { testNodeContext } from "../../testing/node_context.ts";
import {
  executeAndWait,
  n,
  nodeOutput,
  runWorkflow,
  through,
  viewNode,
  withNode,
} from "../../testing/server.ts";
import type { OutputLimits } from "./executor.ts";

const code = (c: string) => (e: unknown) => e instanceof NodeError && e.code === c && !e.retryable;

async function run(sql: string, records: Json[], limits: Partial<OutputLimits> = {}, timeoutMs = 10_000) {
  return (await sqlTransform(testNodeContext({ config: { sql, timeoutMs }, records, limits }))).records;
}

const people: Json[] = [
  { name: "ann", dept: "eng", salary: 100 },
  { name: "bob", dept: "ops", salary: 70 },
  { name: "cid", dept: "eng", salary: 80, remote: true },
];

Deno.test("sql transform: filter and aggregate over the records in table input", async () => {
  assertEquals(await run("SELECT name FROM input WHERE salary > 75 ORDER BY name", people), [
    { name: "ann" },
    { name: "cid" },
  ]);
  assertEquals(
    await run(
      "SELECT dept, count(*) AS n, sum(salary) AS total FROM input GROUP BY dept ORDER BY dept",
      people,
    ),
    [{ dept: "eng", n: 2, total: 180 }, { dept: "ops", n: 1, total: 70 }],
  );
  // A key missing from a record is NULL; booleans are 1/0.
  assertEquals(await run("SELECT name, remote FROM input ORDER BY name", people), [
    { name: "ann", remote: null },
    { name: "bob", remote: null },
    { name: "cid", remote: 1 },
  ]);
  assertEquals(await run("SELECT count(*) AS n FROM input", []), [{ n: 0 }]);
});

Deno.test("sql transform: records that are not objects fill a value column; nested values are JSON text", async () => {
  assertEquals(await run("SELECT value * 2 AS v FROM input WHERE value > 1", [1, 2, 3]), [{ v: 4 }, {
    v: 6,
  }]);
  assertEquals(await run("SELECT a, value FROM input", [{ a: 1 }, "x", null]), [
    { a: 1, value: null },
    { a: null, value: "x" },
    { a: null, value: null },
  ]);
  assertEquals(await run("SELECT json_extract(tags, '$[1]') AS t FROM input", [{ tags: ["a", "b"] }]), [{
    t: "b",
  }]);
  // Odd keys are quoted, not injected.
  assertEquals(await run('SELECT "we""ird key" AS k FROM input', [{ 'we"ird key': 5 }]), [{ k: 5 }]);
});

Deno.test("sql transform: writes, ATTACH, VACUUM INTO, PRAGMA and a second statement are refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlt-" });
  try {
    for (
      const sql of [
        `ATTACH DATABASE '${dir}/x.db' AS x`,
        `VACUUM INTO '${dir}/y.db'`,
        "INSERT INTO input VALUES (1)",
        "DELETE FROM input",
        "DROP TABLE input",
        "CREATE TABLE t (a)",
        "PRAGMA query_only = OFF",
        "SELECT * FROM pragma_table_info('input')",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        `SELECT 1; ATTACH DATABASE '${dir}/z.db' AS z`,
      ]
    ) {
      const err = await run(sql, [1]).then(() => undefined, (e) => e);
      assert(code("sql_not_allowed")(err), `${sql}: ${err}`);
    }
    assertEquals([...Deno.readDirSync(dir)], [], "no file was made");
    await assertRejects(() => run("SELEC 1", [1]), code("sql_error"));
    await assertRejects(() => run("SELECT nope FROM input", [1]), code("sql_error"));
    // A run-time error part-way through fails the node; the rows before it are not emitted as if complete.
    await assertRejects(
      () => run("SELECT json_extract(value, '$[0]') AS x FROM input", ["[1]", "[2]", "nope", "[3]"]),
      code("sql_error"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sql transform: bounded in and out by the node's limits, and in time", async () => {
  const ten = Array.from({ length: 10 }, (_, i) => i);
  assertEquals((await run("SELECT value FROM input", ten, { maxRecords: 10 })).length, 10);
  await assertRejects(() => run("SELECT value FROM input", ten, { maxRecords: 9 }), code("input_too_large"));
  await assertRejects(() => run("SELECT value FROM input", ten, { maxBytes: 10 }), code("input_too_large"));
  await assertRejects(
    () => run("SELECT a.value FROM input a, input b", ten, { maxRecords: 50 }),
    code("output_too_large"),
  );
  await assertRejects(
    () => run("SELECT printf('%.*c', 1000, 'x') AS s FROM input", ten, { maxBytes: 2000 }),
    code("output_too_large"),
  );
  // No value SQLite makes may be longer than maxBytes (here a 1 GB blob).
  await assertRejects(
    () => run("SELECT zeroblob(1000000000) AS z", [1], { maxBytes: 5000 }),
    code("output_too_large"),
  );
  // A query that would run for ages is stopped by timeoutMs (its worker is terminated).
  const many = Array.from({ length: 2000 }, (_, i) => i);
  await assertRejects(
    () => run("SELECT count(*) FROM input a, input b, input c, input d", many, {}, 100),
    code("sql_timeout"),
  );
  // A cancelled attempt stops it too.
  const ac = new AbortController();
  const ctx = testNodeContext({
    config: { sql: "SELECT count(*) FROM input a, input b, input c, input d", timeoutMs: 600_000 },
    records: many,
    signal: ac.signal,
  });
  const p = sqlTransform(ctx);
  ac.abort(new NodeError("cancelled", "cancelled", false));
  await assertRejects(() => p, code("cancelled"));
});

Deno.test("sql transform through the API: the old JSON's transform/sql.query over real records", async () => {
  await withNode(async (node) => {
    const def = through(
      "wf-sqlt",
      people,
      n("q", "transform/sql.query", {
        sql: "SELECT dept, avg(salary) AS avg FROM input GROUP BY dept ORDER BY dept",
      }),
    );
    const r = await runWorkflow(node, def);
    assertEquals(await nodeOutput(node, r.body.executionId, "out"), [
      { dept: "eng", avg: 90 },
      { dept: "ops", avg: 70 },
    ]);

    const bare = through(
      "wf-sqlt-bare",
      [3, "x", 7],
      n("q", "transform/sql.query", { sql: "SELECT value FROM input WHERE typeof(value) = 'integer'" }),
    );
    const b = await runWorkflow(node, bare);
    assertEquals(await nodeOutput(node, b.body.executionId, "out"), [{ value: 3 }, { value: 7 }]);

    const evil = through(
      "wf-sqlt-evil",
      [1],
      n("q", "transform/sql.query", { sql: "ATTACH DATABASE '/tmp/flowmesh-sqlt-evil.db' AS x" }),
    );
    const e = await runWorkflow(node, evil, "failed");
    const q = viewNode(e.body, "q");
    assertEquals([q.error.code, q.attempts], ["sql_not_allowed", 1]);
    let made = true;
    try {
      Deno.statSync("/tmp/flowmesh-sqlt-evil.db");
    } catch {
      made = false;
    }
    assert(!made, "ATTACH made no file");
  });
});

Deno.test("sql transform through the API: output bound is the engine's maxOutputRecords", async () => {
  await withNode(
    async (node) => {
      const def = through(
        "wf-sqlt-big",
        [1, 2, 3, 4],
        n("q", "transform/sql.query", { sql: "SELECT a.value FROM input a, input b", timeoutMs: "5000" }),
      );
      const r = await runWorkflow(node, def, "failed");
      assertEquals(viewNode(r.body, "q").error.code, "output_too_large");
      const ok = through(
        "wf-sqlt-ok",
        [1, 2, 3],
        n("q", "transform/sql.query", { sql: "SELECT sum(value) AS s FROM input" }),
      );
      await runWorkflow(node, ok);
      const again = await executeAndWait(node, "wf-sqlt-ok");
      assertEquals(await nodeOutput(node, again.body.executionId, "q"), [{ s: 6 }]);
    },
    {},
    { maxOutputRecords: 10 },
  );
});
