/**
 * Executions over real HTTP: every node kind in a small workflow, fan-out/fan-in,
 * retries, timeouts, cancel, signals, idempotent submission, and the read routes
 * (status, listings, events, the old history routes, health).
 */
import postgres from "npm:postgres@3.4.9";
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, TEST_DATABASE_URL } from "../../testing/pg.ts";
import { createLogger } from "../ops/log.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  e,
  execute,
  executeAndWait,
  getJson,
  n,
  nodeOutput,
  postJson,
  runWorkflow,
  sampleWorkflow,
  startTarget,
  startTestNode,
  through,
  viewNode,
  waitForExecution,
  wf,
  withNode,
  withNodeCalling,
} from "../../testing/server.ts";
import { sleep } from "../../testing/wait.ts";

/** Runs `memory.collection(data) → ...middle → memory.collect` and returns what the collect node got. */
async function transformed(
  node: { url: string },
  id: string,
  data: unknown[],
  ...middle: ReturnType<typeof n>[]
) {
  const r = await runWorkflow(node, through(id, data, ...middle));
  return await nodeOutput(node, r.body.executionId, "out");
}

// deno-lint-ignore no-explicit-any
type Event = { v: number; seq: number; at: number; type: string; [k: string]: any };

async function eventsOf(node: { url: string }, executionId: string): Promise<Event[]> {
  const r = await getJson(node, `/api/v1/executions/${executionId}/events`);
  assertEquals(r.status, 200, r.text);
  assertEquals(r.body.executionId, executionId);
  return r.body.events;
}

// ---- the sample, and each node kind

Deno.test("the old engine's sample runs: 100 numbers, 50 pass the filter, console.log passes them on", async () => {
  await withNode(async (node) => {
    const r = await runWorkflow(node, sampleWorkflow() as { id: string });
    assertEquals(r.body.message, "execution finished");
    assertEquals([r.body.workflowId, r.body.version], ["wf-1", 1]);
    assert(r.headers.get("location")!.endsWith(`/api/v1/executions/${r.body.executionId}`));
    assertEquals(
      r.body.nodes.map((x: { nodeId: string; status: string; recordsProcessed: number }) => [
        x.nodeId,
        x.status,
        x.recordsProcessed,
      ]),
      [["n1", "completed", 100], ["n2", "completed", 100], ["n3", "completed", 50]],
    );
    const fifty = Array.from({ length: 50 }, (_, i) => 51 + i);
    assertEquals(await nodeOutput(node, r.body.executionId, "n2"), fifty);
    assertEquals(await nodeOutput(node, r.body.executionId, "n3"), fifty);
    // The output route pages.
    const page = await getJson(
      node,
      `/api/v1/executions/${r.body.executionId}/nodes/n1/output?offset=10&limit=5`,
    );
    assertEquals([page.body.total, page.body.offset, page.body.limit, page.body.records], [
      100,
      10,
      5,
      [11, 12, 13, 14, 15],
    ]);
  });
});

Deno.test("sources: sequence.numbers (steps up, down, decimal) and memory.collection", async () => {
  await withNode(async (node) => {
    const def = wf("wf-src", [
      n("up", "source/sequence.numbers", { start: "2", end: 10, step: 3 }),
      n("down", "source/sequence.numbers", { start: 3, end: 1, step: -1 }),
      n("dec", "source/sequence.numbers", { start: 0, end: 0.3, step: 0.1 }),
      n("mem", "source/memory.collection", { data: [1, "a", { x: 1 }, [1, 2], null, true] }),
      n("c1", "sink/memory.collect"),
      n("c2", "sink/memory.collect"),
      n("c3", "sink/memory.collect"),
      n("c4", "sink/memory.collect"),
    ], [e("up", "c1"), e("down", "c2"), e("dec", "c3"), e("mem", "c4")]);
    const r = await runWorkflow(node, def);
    const id = r.body.executionId;
    assertEquals(await nodeOutput(node, id, "c1"), [2, 5, 8]);
    assertEquals(await nodeOutput(node, id, "c2"), [3, 2, 1]);
    assertEquals(await nodeOutput(node, id, "c3"), [0, 0.1, 0.2, 0.3]);
    assertEquals(await nodeOutput(node, id, "c4"), [1, "a", { x: 1 }, [1, 2], null, true]);
  });
});

Deno.test("random.numbers with a seed is reproducible across executions", async () => {
  await withNode(async (node) => {
    const def = wf("wf-rand", [
      n("seeded", "source/random.numbers", { count: 20, min: 1, max: 1000, seed: 42 }),
      n("other", "source/random.numbers", { count: 20, min: 1, max: 1000, seed: 43 }),
      n("c1", "sink/memory.collect"),
      n("c2", "sink/memory.collect"),
    ], [e("seeded", "c1"), e("other", "c2")]);
    const first = await runWorkflow(node, def);
    const second = await executeAndWait(node, "wf-rand");
    assert(first.body.executionId !== second.body.executionId);
    const a = await nodeOutput(node, first.body.executionId, "c1");
    const b = await nodeOutput(node, second.body.executionId, "c1");
    assertEquals(a.length, 20);
    assert(a.every((x) => Number.isInteger(x) && x >= 1 && x <= 1000), JSON.stringify(a));
    assertEquals(b, a);
    const otherSeed = await nodeOutput(node, first.body.executionId, "c2");
    assertEquals(otherSeed, await nodeOutput(node, second.body.executionId, "c2"));
    assert(JSON.stringify(otherSeed) !== JSON.stringify(a), "another seed, other numbers");
  });
});

Deno.test("file.text and file.csv sources read temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "api-src-" });
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "alpha\n\n  \nbeta\r\ngamma");
    await Deno.writeTextFile(`${dir}/in.csv`, 'name,age\r\nann,30\n"bo, b",4\n');
    await Deno.writeTextFile(`${dir}/semi.csv`, "a;b\n1;2\n");
    await withNode(
      async (node) => {
        const def = wf("wf-files", [
          n("text", "source/file.text", { path: `${dir}/in.txt` }),
          n("textSkip", "source/file.text", { path: `${dir}/in.txt`, skipEmpty: true }),
          n("csv", "source/file.csv", { path: `${dir}/in.csv` }),
          n("raw", "source/file.csv", { path: `${dir}/semi.csv`, delimiter: ";", header: false }),
          n("c1", "sink/memory.collect"),
          n("c2", "sink/memory.collect"),
          n("c3", "sink/memory.collect"),
          n("c4", "sink/memory.collect"),
        ], [e("text", "c1"), e("textSkip", "c2"), e("csv", "c3"), e("raw", "c4")]);
        const r = await runWorkflow(node, def);
        const id = r.body.executionId;
        assertEquals(await nodeOutput(node, id, "c1"), ["alpha", "", "  ", "beta", "gamma"]);
        assertEquals(await nodeOutput(node, id, "c2"), ["alpha", "beta", "gamma"]);
        assertEquals(await nodeOutput(node, id, "c3"), [{ name: "ann", age: "30" }, {
          name: "bo, b",
          age: "4",
        }]);
        assertEquals(await nodeOutput(node, id, "c4"), [["a", "b"], ["1", "2"]]);

        // A missing file fails the node (not retryable: one attempt).
        const missing = await runWorkflow(
          node,
          chain(
            "wf-missing",
            n("f", "source/file.text", { path: `${dir}/nope.txt` }),
            n("out", "sink/memory.collect"),
          ),
          "failed",
        );
        assertEquals(missing.body.error.code, "file_not_found");
        assertEquals(missing.body.error.nodeId, "f");
        assertEquals(viewNode(missing.body, "f").attempts, 1);
        assertEquals(viewNode(missing.body, "out").status, "cancelled");
      },
      {},
      { filesRoot: dir },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("transforms: filter (fields and bare values)", async () => {
  await withNode(async (node) => {
    assertEquals(
      await transformed(
        node,
        "wf-f1",
        [{ amount: 5 }, { amount: 20 }, { amount: 15 }],
        n("t", "transform/filter", {
          condition: "amount > 10",
        }),
      ),
      [{ amount: 20 }, { amount: 15 }],
    );
    assertEquals(
      await transformed(
        node,
        "wf-f2",
        [1, 2, 3, 4],
        n("t", "transform/filter", { condition: "value % 2 = 0" }),
      ),
      [2, 4],
    );
  });
});

Deno.test("transforms: map by expression and by fields", async () => {
  await withNode(async (node) => {
    assertEquals(
      await transformed(node, "wf-m1", [1, 2, 3], n("t", "transform/map", { expression: "value * 10" })),
      [10, 20, 30],
    );
    assertEquals(
      await transformed(
        node,
        "wf-m2",
        [{ first: "Ada", last: "Lovelace", n: 2 }],
        n("t", "transform/map", { fields: { full: "first & ' ' & last", double: "n * 2", gone: "nope" } }),
      ),
      [{ full: "Ada Lovelace", double: 4 }],
    );
    // $index and $input are bound.
    const r = await runWorkflow(
      node,
      through(
        "wf-m3",
        ["a", "b"],
        n("t", "transform/map", { expression: "$string($index) & value & $input.s" }),
      ),
      "completed",
      { input: { s: "!" } },
    );
    assertEquals(await nodeOutput(node, r.body.executionId, "out"), ["0a!", "1b!"]);
  });
});

Deno.test("transforms: distinct, batch, limit", async () => {
  await withNode(async (node) => {
    assertEquals(
      await transformed(
        node,
        "wf-d1",
        [1, 2, 1, 3, 2, { a: 1, b: 2 }, { b: 2, a: 1 }],
        n("t", "transform/distinct"),
      ),
      [1, 2, 3, { a: 1, b: 2 }],
    );
    assertEquals(
      await transformed(
        node,
        "wf-d2",
        [{ k: 1, v: "a" }, { k: 1, v: "b" }, { k: 2, v: "c" }],
        n("t", "transform/distinct", { key: "k" }),
      ),
      [{ k: 1, v: "a" }, { k: 2, v: "c" }],
    );
    assertEquals(
      await transformed(node, "wf-b", [1, 2, 3, 4, 5, 6, 7], n("t", "transform/batch", { batchSize: "3" })),
      [[1, 2, 3], [4, 5, 6], [7]],
    );
    assertEquals(
      await transformed(node, "wf-l", [5, 4, 3, 2, 1], n("t", "transform/limit", { count: "3" })),
      [5, 4, 3],
    );
  });
});

Deno.test("transforms: aggregate, aggregate.count, sort", async () => {
  await withNode(async (node) => {
    const rows = [{ g: "a", x: 1 }, { g: "b", x: 5 }, { g: "a", x: 3 }];
    assertEquals(
      await transformed(
        node,
        "wf-a1",
        rows,
        n("t", "transform/aggregate", { groupBy: "g", op: "sum", field: "x" }),
      ),
      [{ g: "a", sum: 4 }, { g: "b", sum: 5 }],
    );
    assertEquals(
      await transformed(node, "wf-a2", rows, n("t", "transform/aggregate", { op: "max", field: "x" })),
      [{ max: 5 }],
    );
    assertEquals(
      await transformed(
        node,
        "wf-a3",
        rows,
        n("t", "transform/aggregate", { groupBy: ["g"], op: "avg", field: "x" }),
      ),
      [{ g: "a", avg: 2 }, { g: "b", avg: 5 }],
    );
    assertEquals(
      await transformed(node, "wf-c1", rows, n("t", "transform/aggregate.count", { groupBy: "g" })),
      [{ g: "a", count: 2 }, { g: "b", count: 1 }],
    );
    assertEquals(await transformed(node, "wf-c2", rows, n("t", "transform/aggregate.count")), [{ count: 3 }]);
    assertEquals(
      await transformed(node, "wf-s1", rows, n("t", "transform/sort", { by: "x", order: "desc" })),
      [{ g: "b", x: 5 }, { g: "a", x: 3 }, { g: "a", x: 1 }],
    );
    assertEquals(await transformed(node, "wf-s2", [3, 1, 2], n("t", "transform/sort")), [1, 2, 3]);
  });
});

Deno.test("sinks: console.log passes its input on; file.text, file.csv, file.jsonl write files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "api-sink-" });
  try {
    await withNode(
      async (node) => {
        const data = [{ a: 1, b: "x,y" }, { a: 2, c: true }];
        const def = wf("wf-sinks", [
          n("src", "source/memory.collection", { data }),
          n("strs", "source/memory.collection", { data: ["plain", { b: 1 }, 3] }),
          n("log", "sink/console.log", { limit: "1" }),
          n("txt", "sink/file.text", { path: `${dir}/out.txt` }),
          n("csv", "sink/file.csv", { path: `${dir}/out.csv` }),
          n("jsonl", "sink/file.jsonl", { path: `${dir}/out.jsonl` }),
        ], [e("src", "log"), e("strs", "txt"), e("src", "csv"), e("src", "jsonl")]);
        const r = await runWorkflow(node, def);
        const id = r.body.executionId;
        assertEquals(await nodeOutput(node, id, "log"), data);
        assertEquals(viewNode(r.body, "log").recordsProcessed, 2);
        for (const sink of ["txt", "csv", "jsonl"]) {
          assertEquals(await nodeOutput(node, id, sink), [], `${sink} emits no records`);
        }
        assertEquals(viewNode(r.body, "txt").recordsProcessed, 3);
        assertEquals(viewNode(r.body, "csv").recordsProcessed, 2);
        assertEquals(await Deno.readTextFile(`${dir}/out.txt`), 'plain\n{"b":1}\n3\n');
        assertEquals(await Deno.readTextFile(`${dir}/out.csv`), 'a,b,c\r\n1,"x,y",\r\n2,,true\r\n');
        assertEquals(await Deno.readTextFile(`${dir}/out.jsonl`), '{"a":1,"b":"x,y"}\n{"a":2,"c":true}\n');
        // Atomic writes leave no temp files behind.
        const names = [];
        for await (const entry of Deno.readDir(dir)) names.push(entry.name);
        assertEquals(names.sort(), ["out.csv", "out.jsonl", "out.txt"]);
      },
      {},
      { filesRoot: dir },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control: http calls a local target and emits {status, headers, body}", async () => {
  const target = startTarget((req) =>
    req.method === "POST"
      ? Response.json({ ok: true }, { headers: { "x-from": "target" } })
      : new Response("not here", { status: 404 })
  );
  try {
    await withNodeCalling(target, async (node) => {
      const r = await runWorkflow(
        node,
        chain(
          "wf-http",
          n("src", "source/memory.collection", { data: [{ a: 1 }, { a: 2 }] }),
          n("h", "control/http", { method: "POST", url: `${target.url}/hook`, headers: { "x-token": "t" } }),
          n("out", "sink/memory.collect"),
        ),
      );
      const id = r.body.executionId;
      const [record] = await nodeOutput(node, id, "out");
      assertEquals([record.status, record.body, record.headers["x-from"]], [200, { ok: true }, "target"]);
      assertEquals(target.seen.length, 1);
      const seen = target.seen[0];
      assertEquals([seen.method, seen.path, JSON.parse(seen.body)], ["POST", "/hook", [{ a: 1 }, { a: 2 }]]);
      assertEquals(seen.headers.get("content-type"), "application/json");
      assertEquals(seen.headers.get("x-token"), "t");
      assertEquals(seen.headers.get("idempotency-key"), `${id}:h`);

      // 404 is not worth a retry: failed after one attempt, even with the default policy.
      const failed = await runWorkflow(
        node,
        chain(
          "wf-http-404",
          n("h", "control/http", { url: `${target.url}/missing` }),
          n("out", "sink/memory.collect"),
        ),
        "failed",
      );
      assertEquals([failed.body.error.code, failed.body.error.nodeId], ["http_status", "h"]);
      assert(failed.body.error.message.includes("404"), failed.text);
      assertEquals(viewNode(failed.body, "h").attempts, 1);
      assertEquals(viewNode(failed.body, "h").status, "failed");
    });
  } finally {
    await target.close();
  }
});

Deno.test("control: delay durationMs 100 holds the execution at least 100 ms", async () => {
  await withNode(async (node) => {
    const started = Date.now();
    const r = await runWorkflow(
      node,
      chain(
        "wf-delay",
        n("src", "source/memory.collection", { data: [7] }),
        n("d", "control/delay", { durationMs: 100 }),
        n("out", "sink/memory.collect"),
      ),
    );
    assert(Date.now() - started >= 100, "the request took at least the delay");
    assert(r.body.duration >= 100, `duration ${r.body.duration}`);
    assert(viewNode(r.body, "d").duration >= 100, r.text);
    assertEquals(await nodeOutput(node, r.body.executionId, "out"), [7]);
    // A delay node's output is the input it passed on.
    assertEquals(await nodeOutput(node, r.body.executionId, "d"), [7]);
    const events = await eventsOf(node, r.body.executionId);
    const dStarted = events.find((x) => x.type === "NodeStarted" && x.nodeId === "d")!;
    assertEquals(dStarted.wakeAt - dStarted.at, 100);
    const fired = events.find((x) => x.type === "TimerFired")!;
    assertEquals(fired.timerId, "delay:d:1");
    assert(fired.at >= dStarted.wakeAt, "the timer fired when due");
  });
});

Deno.test("control: condition runs the taken branch and skips the other (transitively)", async () => {
  await withNode(async (node) => {
    const def = wf("wf-cond", [
      n("src", "source/memory.collection", { data: [5, 20] }),
      n("c", "control/condition", { condition: "count > 1" }),
      n("yes", "sink/memory.collect"),
      n("noMap", "transform/map", { expression: "value * 2" }),
      n("no", "sink/memory.collect"),
      n("c2", "control/condition", { condition: "$sum(records) > 1000" }),
      n("yes2", "sink/memory.collect"),
      n("no2", "sink/memory.collect"),
    ], [
      e("src", "c"),
      e("c", "yes", "true"),
      e("c", "noMap", "false"),
      e("noMap", "no"),
      e("src", "c2"),
      e("c2", "yes2", "true"),
      e("c2", "no2", "false"),
    ]);
    const r = await runWorkflow(node, def);
    const status = (id: string) => viewNode(r.body, id).status;
    assertEquals(viewNode(r.body, "c").branch, "true");
    assertEquals(viewNode(r.body, "c2").branch, "false");
    assertEquals(
      ["yes", "noMap", "no", "yes2", "no2"].map(status),
      ["completed", "skipped", "skipped", "skipped", "completed"],
    );
    assertEquals(await nodeOutput(node, r.body.executionId, "yes"), [5, 20]);
    assertEquals(await nodeOutput(node, r.body.executionId, "no2"), [5, 20]);
    assertApiError(
      await getJson(node, `/api/v1/executions/${r.body.executionId}/nodes/no/output`),
      409,
      "output_not_ready",
    );
  });
});

Deno.test("control: signal.wait keeps the execution running until POST /signals/{name}", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "wf-sig",
        n("src", "source/memory.collection", { data: [1, 2] }),
        n("w", "control/signal.wait", { name: "approve" }),
        n("out", "sink/memory.collect"),
      ),
    );
    const started = await execute(node, "wf-sig", { wait: 150 });
    assertEquals(started.status, 202, started.text);
    assertEquals(started.body.status, "started"); // the old engine's word for a run not ended when answered
    assertEquals(started.body.message, "execution started");
    const id = started.body.executionId;
    const waiting = await getJson(node, `/api/v1/executions/${id}`);
    assertEquals(waiting.body.status, "running");
    assertEquals(viewNode(waiting.body, "w").status, "running");
    assertEquals(viewNode(waiting.body, "out").status, "pending");

    const unknown = await postJson(node, `/api/v1/executions/${id}/signals/nope`, {});
    assertApiError(unknown, 404, "signal_unknown");

    const signalled = await postJson(node, `/api/v1/executions/${id}/signals/approve`, {
      payload: { by: "ops" },
    });
    assertEquals(signalled.status, 200, signalled.text);
    assertEquals(signalled.body.executionId, id);
    const done = await waitForExecution(node, id, (v) => v.status !== "running");
    assertEquals(done.status, "completed");
    assertEquals(
      await nodeOutput(node, id, "out"),
      [{ by: "ops" }],
      "the payload is the signal node's output",
    );
    const received = (await eventsOf(node, id)).find((x) => x.type === "SignalReceived")!;
    assertEquals([received.name, received.payload], ["approve", { by: "ops" }]);

    // A signal after the end is refused.
    const late = await postJson(node, `/api/v1/executions/${id}/signals/approve`, {});
    assertApiError(late, 409, "execution_terminal");
  });
});

pgTest("sql.insert and sql.query against PostgreSQL", async () => {
  const table = `api_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  const node = await startTestNode({}, { allowInlineConnections: true }); // the grant this test declares
  try {
    await sql.unsafe(`create table ${table} (id int primary key, name text not null, tags jsonb)`);
    const insert = await runWorkflow(
      node,
      chain(
        "wf-sql-in",
        n("src", "source/memory.collection", {
          data: [{ id: 1, name: "a", tags: ["x"] }, { id: 2, name: "b" }, {
            id: 1,
            name: "c",
            tags: { k: 1 },
          }],
        }),
        n("ins", "sink/sql.insert", { table, upsertKey: "id", connectionUrl: TEST_DATABASE_URL }),
      ),
    );
    assertEquals(viewNode(insert.body, "ins").recordsProcessed, 3);
    const rows = await sql.unsafe(`select id, name, tags from ${table} order by id`);
    assertEquals(rows.map((r) => ({ ...r })), [{ id: 1, name: "c", tags: { k: 1 } }, {
      id: 2,
      name: "b",
      tags: null,
    }]);

    const query = await runWorkflow(
      node,
      chain(
        "wf-sql-q",
        n("q", "source/sql.query", {
          sql: `select id, name, count(*) over () as total from ${table} where id >= $1 order by id`,
          params: [1],
          connectionUrl: TEST_DATABASE_URL,
        }),
        n("out", "sink/memory.collect"),
      ),
    );
    assertEquals(await nodeOutput(node, query.body.executionId, "out"), [
      { id: 1, name: "c", total: 2 },
      { id: 2, name: "b", total: 2 },
    ]);

    // A missing table fails the node without retries.
    const missing = await runWorkflow(
      node,
      chain(
        "wf-sql-missing",
        n("src", "source/memory.collection", { data: [{ id: 1 }] }),
        n("ins", "sink/sql.insert", { table: `${table}_nope`, connectionUrl: TEST_DATABASE_URL }),
      ),
      "failed",
    );
    assertEquals([missing.body.error.code, viewNode(missing.body, "ins").attempts], ["sql_table_missing", 1]);
    await sql.unsafe(`delete from engine_sink_marks where idempotency_key = $1`, [
      `${insert.body.executionId}:ins`,
    ]);
  } finally {
    await node.close();
    await sql.unsafe(`drop table if exists ${table}`).catch(() => {});
    await sql.end({ timeout: 1 });
  }
});

// ---- graph shape, retries, timeouts

Deno.test("fan-out/fan-in: the join gets both branches' records concatenated in edge order", async () => {
  await withNode(async (node) => {
    const def = wf("wf-fan", [
      n("src", "source/memory.collection", { data: [1, 2, 3] }),
      n("times", "transform/map", { expression: "value * 10" }),
      n("plus", "transform/map", { expression: "value + 0.5" }),
      n("join", "sink/memory.collect"),
    ], [e("src", "times"), e("src", "plus"), e("plus", "join"), e("times", "join")]);
    const r = await runWorkflow(node, def);
    // plus → join is listed before times → join, so plus's records come first.
    assertEquals(await nodeOutput(node, r.body.executionId, "join"), [1.5, 2.5, 3.5, 10, 20, 30]);
    assertEquals(viewNode(r.body, "join").recordsProcessed, 6);
  });
});

Deno.test("retries with backoff: 503, 503, 200 → completed after 3 attempts with one Idempotency-Key", async () => {
  const target = startTarget((_req, i) =>
    i < 2 ? new Response("busy", { status: 503 }) : Response.json({ attempt: i + 1 })
  );
  try {
    await withNodeCalling(target, async (node) => {
      const r = await runWorkflow(
        node,
        chain(
          "wf-retry",
          n("h", "control/http", { method: "POST", url: target.url, idempotent: true }, {
            retry: { maxAttempts: 3, initialIntervalMs: 50, backoffCoefficient: 2, maxIntervalMs: 1000 },
          }),
          n("out", "sink/memory.collect"),
        ),
      );
      const id = r.body.executionId;
      assertEquals(viewNode(r.body, "h").attempts, 3);
      assertEquals(viewNode(r.body, "h").status, "completed");
      assertEquals((await nodeOutput(node, id, "out"))[0].body, { attempt: 3 });
      assertEquals(target.seen.length, 3);
      assertEquals(target.seen.map((s) => s.headers.get("idempotency-key")), [
        `${id}:h`,
        `${id}:h`,
        `${id}:h`,
      ]);
      assert(target.seen[1].at - target.seen[0].at >= 50, "≥ 50 ms before attempt 2");
      assert(target.seen[2].at - target.seen[1].at >= 100, "≥ 100 ms before attempt 3");

      const events = await eventsOf(node, id);
      const failed = events.filter((x) => x.type === "NodeFailed");
      assertEquals(failed.map((x) => [x.attempt, x.error.code, x.retryable]), [
        [1, "http_status", true],
        [2, "http_status", true],
      ]);
      const retries = events.filter((x) => x.type === "NodeRetryScheduled");
      assertEquals(retries.map((x) => x.attempt), [2, 3]);
      assertEquals(retries.map((x) => x.dueAt - x.at), [50, 100]);
      assert(retries[1].dueAt - retries[0].dueAt >= 100, "the due times are ≥ 100 ms apart");
      const starts = events.filter((x) => x.type === "NodeStarted" && x.nodeId === "h");
      assertEquals(starts.map((x) => x.attempt), [1, 2, 3]);
      assert(starts[1].at >= retries[0].dueAt && starts[2].at >= retries[1].dueAt, "no attempt ran early");
    });
  } finally {
    await target.close();
  }
});

Deno.test("per-node timeout: node timeoutMs 100 fails with node_timeout; config timeoutMs with http_timeout", async () => {
  // Sleeps 2 s (cut short when the target closes).
  const target = startTarget(async (_req, _i, closing) => {
    await sleep(2_000, closing);
    return Response.json({ late: true });
  });
  try {
    await withNodeCalling(target, async (node) => {
      const started = Date.now();
      // The node's timeoutMs arms the engine's durable node-timeout timer (core/timers.ts), which fires at
      // 100 ms, long before the http executor's own timeout (config.timeoutMs, default 10 s): node_timeout.
      const r = await runWorkflow(
        node,
        chain(
          "wf-node-timeout",
          n("h", "control/http", { url: target.url }, { timeoutMs: 100, retry: { maxAttempts: 1 } }),
          n("out", "sink/memory.collect"),
        ),
        "failed",
      );
      assert(Date.now() - started < 1_500, "did not wait for the target");
      assertEquals(r.body.error, { code: "node_timeout", message: "attempt 1 timed out", nodeId: "h" });
      assertEquals(viewNode(r.body, "h").status, "failed");
      assertEquals(viewNode(r.body, "h").error.code, "node_timeout");
      assertEquals(viewNode(r.body, "h").attempts, 1);
      const fired = (await eventsOf(node, r.body.executionId)).find((x) => x.type === "TimerFired")!;
      assertEquals(fired.timerId, "node-timeout:h:1");

      // The executor's own timeout (config.timeoutMs) gives http_timeout instead.
      const own = await runWorkflow(
        node,
        chain(
          "wf-http-timeout",
          n("h", "control/http", { url: target.url, timeoutMs: 100 }, { retry: { maxAttempts: 1 } }),
          n("out", "sink/memory.collect"),
        ),
        "failed",
      );
      assertEquals([own.body.error.code, own.body.error.nodeId], ["http_timeout", "h"]);
      assertEquals(target.seen.length, 2);
    });
  } finally {
    await target.close();
  }
});

Deno.test("execution timeout: POST execute {timeoutMs: 200} with a 5 s delay → timed_out", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "wf-slow",
        n("src", "source/memory.collection", { data: [1] }),
        n("d", "control/delay", { durationMs: 5_000 }),
        n("out", "sink/memory.collect"),
      ),
    );
    const started = Date.now();
    const r = await executeAndWait(node, "wf-slow", "timed_out", { timeoutMs: 200 });
    assert(Date.now() - started < 2_000, "did not wait for the delay");
    assert(r.body.duration >= 200 && r.body.duration < 2_000, `duration ${r.body.duration}`);
    assertEquals(r.body.error.code, "execution_timeout");
    assertEquals(["src", "d", "out"].map((id) => viewNode(r.body, id).status), [
      "completed",
      "cancelled",
      "cancelled",
    ]);
    const events = await eventsOf(node, r.body.executionId);
    assertEquals(events[0].timeoutAt - events[0].at, 200);
    assertEquals(events.at(-1)!.type, "ExecutionTimedOut");
  });
});

// ---- cancel, idempotency

Deno.test("cancel: a waiting execution → cancelled; cancel again → 409 execution_terminal", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "wf-cancel",
        n("src", "source/memory.collection", { data: [1] }),
        n("w", "control/signal.wait", {
          name: "go",
        }),
      ),
    );
    const started = await execute(node, "wf-cancel", { wait: 0 });
    assertEquals(started.status, 202, started.text);
    const id = started.body.executionId;
    const cancelled = await postJson(node, `/api/v1/executions/${id}/cancel`, { reason: "no longer needed" });
    assertEquals(cancelled.status, 200, cancelled.text);
    assertEquals(cancelled.body.status, "cancelled");
    assertEquals(cancelled.body.error, { code: "cancelled", message: "no longer needed" });
    assertEquals(viewNode(cancelled.body, "w").status, "cancelled");
    const view = await getJson(node, `/api/v1/executions/${id}`);
    assertEquals(view.body.status, "cancelled");

    assertApiError(await postJson(node, `/api/v1/executions/${id}/cancel`, {}), 409, "execution_terminal");
    assertApiError(
      await postJson(node, `/api/v1/executions/${id}/signals/go`, {}),
      409,
      "execution_terminal",
    );
    const events = await eventsOf(node, id);
    assertEquals(events.filter((x) => x.type === "ExecutionCancelled").length, 1);
  });
});

Deno.test("idempotent submit: same key → same execution (replayed); same key, other body → 422", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, through("wf-idem", [1, 2]));
    const key = { "idempotency-key": "order-42" };
    const first = await execute(node, "wf-idem", { input: { a: 1 }, headers: key });
    assertEquals([first.status, first.body.status], [200, "completed"], first.text);
    assertEquals(first.headers.get("idempotent-replayed"), null);
    const id = first.body.executionId;

    const second = await execute(node, "wf-idem", { input: { a: 1 }, headers: key });
    assertEquals(second.status, 200, second.text);
    assertEquals(second.body.executionId, id);
    assertEquals(second.headers.get("idempotent-replayed"), "true");

    const noWait = await execute(node, "wf-idem", { input: { a: 1 }, headers: key, wait: 0 });
    assertEquals(noWait.status, 202, noWait.text);
    assertEquals([noWait.body.executionId, noWait.body.status], [id, "completed"]);
    assertEquals(noWait.body.message, "execution already submitted with this Idempotency-Key");
    assertEquals(noWait.headers.get("idempotent-replayed"), "true");

    const mismatch = await execute(node, "wf-idem", { input: { a: 2 }, headers: key });
    assertApiError(mismatch, 422, "idempotency_mismatch");
    const timeoutToo = await execute(node, "wf-idem", { input: { a: 1 }, timeoutMs: 5000, headers: key });
    assertApiError(timeoutToo, 422, "idempotency_mismatch");

    const other = await execute(node, "wf-idem", {
      input: { a: 1 },
      headers: { "idempotency-key": "order-43" },
    });
    assertEquals(other.status, 200, other.text);
    assert(other.body.executionId !== id, "another key, another execution");
    const list = await getJson(node, "/api/v1/workflows/wf-idem/executions");
    assertEquals(list.body.length, 2);
  });
});

// ---- read routes

Deno.test("status, executions list, events and logs", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "wf-read",
        n("src", "source/memory.collection", { data: [1, 2, 3] }),
        n("w", "control/signal.wait", { name: "go" }),
        n("out", "sink/memory.collect"),
      ),
    );
    const idle = await getJson(node, "/api/v1/workflows/wf-read/status");
    assertEquals([idle.status, idle.body], [200, {
      workflowId: "wf-read",
      state: "idle",
      executionCount: 0,
      currentExecution: null,
      lastExecution: null,
    }]);

    const first = (await execute(node, "wf-read", { wait: 0 })).body.executionId;
    await postJson(node, `/api/v1/executions/${first}/signals/go`, {});
    await waitForExecution(node, first, (v) => v.status === "completed");
    await sleep(2); // distinct start times, so the newest-first order is certain
    const second = (await execute(node, "wf-read", { wait: 0 })).body.executionId;

    const running = await getJson(node, "/api/v1/workflows/wf-read/status");
    assertEquals(running.status, 200);
    assertEquals(Object.keys(running.body).sort(), [
      "currentExecution",
      "executionCount",
      "lastExecution",
      "state",
      "workflowId",
    ]);
    assertEquals([running.body.state, running.body.executionCount], ["running", 2]);
    assertEquals(running.body.currentExecution.executionId, second);
    assertEquals(running.body.currentExecution.status, "running");
    assertEquals(running.body.currentExecution.endTime, null);
    const last = running.body.lastExecution;
    assertEquals(Object.keys(last).sort(), [
      "duration",
      "endTime",
      "executionId",
      "logsCount",
      "startTime",
      "status",
      "version",
      "workflowId",
    ]);
    assertEquals([last.executionId, last.status, last.version, last.workflowId], [
      first,
      "completed",
      1,
      "wf-read",
    ]);
    assertEquals(last.duration, last.endTime - last.startTime);

    const list = await getJson(node, "/api/v1/workflows/wf-read/executions");
    assertEquals(list.body.map((x: { executionId: string }) => x.executionId), [second, first]);
    const done = await getJson(node, "/api/v1/workflows/wf-read/executions?status=completed");
    assertEquals(done.body.map((x: { executionId: string }) => x.executionId), [first]);
    const page = await getJson(node, "/api/v1/workflows/wf-read/executions?limit=1");
    assertEquals(page.body.length, 1);
    const cursor = page.headers.get("x-next-cursor");
    assert(cursor, "a next cursor");
    const page2 = await getJson(
      node,
      `/api/v1/workflows/wf-read/executions?limit=1&cursor=${encodeURIComponent(cursor)}`,
    );
    assertEquals(page2.body.map((x: { executionId: string }) => x.executionId), [first]);
    assertEquals(page2.headers.get("x-next-cursor"), null);

    const events = await eventsOf(node, first);
    assertEquals(events.map((x) => x.seq), events.map((_, i) => i + 1));
    for (const ev of events) {
      assertEquals(ev.v, 1);
      assert(typeof ev.at === "number" && ev.at > 0, JSON.stringify(ev));
    }
    assertEquals(events[0].type, "ExecutionStarted");
    assertEquals([events[0].workflowId, events[0].version], ["wf-read", 1]);
    assertEquals(events.at(-1)!.type, "ExecutionSucceeded");
    assert(events.some((x) => x.type === "SignalReceived"), "the signal is in the history");
    assertEquals(last.logsCount, events.length);
    const after = await getJson(node, `/api/v1/executions/${first}/events?after=2`);
    assertEquals(after.body.events.map((x: Event) => x.seq)[0], 3);
    assertEquals(after.body.events.length, events.length - 2);

    const logs = await getJson(node, `/api/v1/workflows/wf-read/executions/${first}/logs`);
    assertEquals(logs.status, 200, logs.text);
    assertEquals(logs.body.executionId, first);
    assertEquals(logs.body.logs.map((l: { event: string }) => l.event), events.map((x) => x.type));
    assertEquals(logs.body.logs.map((l: { timestamp: number }) => l.timestamp), events.map((x) => x.at));

    await postJson(node, `/api/v1/executions/${second}/cancel`, {});
  });
});

Deno.test("the old history routes answer with their shapes", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, sampleWorkflow());
    const a = (await executeAndWait(node, "wf-1")).body;
    await sleep(2);
    const b = (await executeAndWait(node, "wf-1")).body;

    const history = await getJson(node, "/api/history/wf-1");
    assertEquals(history.status, 200, history.text);
    assertEquals(Object.keys(history.body).sort(), ["executions", "workflowId"]);
    assertEquals(history.body.workflowId, "wf-1");
    assertEquals(history.body.executions.map((x: { executionId: string }) => x.executionId), [
      b.executionId,
      a.executionId,
    ]);
    const h = history.body.executions[1];
    assertEquals(Object.keys(h).sort(), [
      "duration",
      "endTime",
      "error",
      "executionId",
      "nodes",
      "startTime",
      "status",
      "workflowName",
    ]);
    assertEquals([h.workflowName, h.status, h.error, h.startTime, h.endTime, h.duration], [
      "My Workflow",
      "completed",
      null,
      a.startTime,
      a.endTime,
      a.duration,
    ]);
    assertEquals(
      h.nodes.map((x: { nodeId: string; nodeType: string; recordsProcessed: number; error: null }) => [
        x.nodeId,
        x.nodeType,
        x.recordsProcessed,
        x.error,
      ]),
      [["n1", "sequence.numbers", 100, null], ["n2", "filter", 100, null], ["n3", "console.log", 50, null]],
    );
    assertEquals(Object.keys(h.nodes[0]).sort(), [
      "duration",
      "endTime",
      "error",
      "nodeId",
      "nodeType",
      "recordsProcessed",
      "startTime",
      "status",
    ]);
    const paged = await getJson(node, "/api/history/wf-1?limit=1");
    assertEquals(paged.body.executions.length, 1);
    assert(paged.headers.get("x-next-cursor"), "a next cursor");

    const status = await getJson(node, "/api/history/wf-1/status");
    assertEquals(status.status, 200);
    assertEquals([status.body.workflowId, status.body.state, status.body.executionCount], [
      "wf-1",
      "completed",
      2,
    ]);
    assertEquals([status.body.currentExecution, status.body.lastExecution.executionId], [
      null,
      b.executionId,
    ]);

    const one = await getJson(node, `/api/history/wf-1/execution/${a.executionId}`);
    assertEquals([one.status, one.body], [200, h]);

    const timeline = await getJson(node, `/api/history/wf-1/timeline?executionId=${a.executionId}`);
    assertEquals([timeline.status, timeline.body], [200, {
      executionId: a.executionId,
      startTime: a.startTime,
      endTime: a.endTime,
      duration: a.duration,
      nodes: h.nodes,
    }]);
    const latest = await getJson(node, "/api/history/wf-1/timeline");
    assertEquals(latest.body.executionId, b.executionId);
  });
});

Deno.test("health: /health, /health/live and /health/ready answer 200 once started", async () => {
  await withNode(async (node) => {
    const health = await getJson(node, "/health");
    assertEquals([health.status, health.body.status, health.body.storage, health.body.ready], [
      200,
      "ok",
      "memory",
      true,
    ]);
    assertEquals(health.body.checks.storage.status, "up");
    assertEquals(health.body.checks.engine.status, "up");
    assertEquals(health.body.checks.cluster.status, "up");
    const live = await getJson(node, "/health/live");
    assertEquals([live.status, live.body], [200, { status: "ok" }]);
    const ready = await getJson(node, "/health/ready");
    assertEquals([ready.status, ready.body], [200, {
      status: "ready",
      engine: true,
      cluster: true,
      storage: true,
      shards: 128,
    }]);
  });
});

Deno.test("each node attempt runs once, even when parallel nodes finish together", async () => {
  // console.log lines are the observable side effect: captured from the node's logger.
  const lines: { msg: string; executionId?: string; nodeId?: string }[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const dir = await Deno.makeTempDir({ prefix: "api-once-" });
  try {
    await withNode(
      async (node) => {
        const width = 4;
        const nodes = [
          n("a", "source/memory.collection", { data: ["x"] }),
          n("b", "source/memory.collection", { data: ["y"] }),
        ];
        const edges = [];
        for (let i = 0; i < width; i++) {
          nodes.push(
            n(`log${i}`, "sink/console.log"),
            n(`file${i}`, "sink/file.text", { path: `${dir}/${i}.txt` }),
          );
          edges.push(e("a", `log${i}`), e("b", `file${i}`));
        }
        await createWorkflow(node, wf("wf-once", nodes, edges));
        for (let round = 0; round < 10; round++) {
          const id: string = (await executeAndWait(node, "wf-once")).body.executionId;
          const logged = lines.filter((l) => l.executionId === id && l.nodeId !== undefined)
            .map((l) => l.msg).sort();
          assertEquals(
            logged,
            Array.from({ length: width }, (_, i) => `[log${i}] x`),
            `round ${round}: ${JSON.stringify(logged)}`,
          );
          const names: string[] = [];
          for await (const entry of Deno.readDir(dir)) names.push(entry.name);
          assertEquals(
            names.filter((x) => x.includes(".tmp-")),
            [],
            `round ${round}: no write still running`,
          );
        }
      },
      { log },
      { filesRoot: dir },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
