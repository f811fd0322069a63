/**
 * Sub-workflows over real HTTP: `workflow.run` and `foreach` with real child executions (a child workflow
 * with a node that has an effect) and on the inline path (an all-local child workflow), their order,
 * concurrency, failure policies and bounds, the cancel cascade, the depth bound, and the validation of the
 * workflows they name. The 1,000-item run is on PostgreSQL.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  execute,
  executeAndWait,
  getJson,
  n,
  nodeOutput,
  postJson,
  putJson,
  runWorkflow,
  startTarget,
  type TestNode,
  viewNode,
  waitForExecution,
  withNode,
  withNodeCalling,
} from "../../testing/server.ts";
import { sleep } from "../../testing/wait.ts";
import { startNode } from "../start.ts";

// deno-lint-ignore no-explicit-any
type Event = { type: string; [k: string]: any };

async function eventsOf(node: { url: string }, executionId: string): Promise<Event[]> {
  const r = await getJson(node, `/api/v1/executions/${executionId}/events`);
  assertEquals(r.status, 200, r.text);
  return r.body.events;
}

/** The child ids a parent started, in item order. */
async function childIds(node: { url: string }, executionId: string): Promise<string[]> {
  const started = (await eventsOf(node, executionId)).filter((e) => e.type === "ChildStarted");
  return started.sort((a, b) => a.index - b.index).map((e) => e.childId);
}

/**
 * A child workflow: one record, `expression` over the child's input, collected. `durable` puts a 0 ms delay
 * in it: the delay is not a local kind, so the child runs as a child execution rather than inline.
 */
function child(id: string, expression: string, durable: boolean) {
  const delay = durable ? [n("pause", "control/delay", { durationMs: 0 })] : [];
  return chain(
    id,
    n("one", "source/sequence.numbers", { start: 1, end: 1 }),
    ...delay,
    n("calc", "transform/map", { expression }),
    n("out", "sink/memory.collect"),
  );
}

/** A parent: `data` → the children node → collected. */
function parent(id: string, data: unknown[], node: TestNode) {
  return chain(id, n("src", "source/memory.collection", { data }), node, n("out", "sink/memory.collect"));
}

const each = (config: Record<string, unknown>) => n("each", "control/foreach", config);

Deno.test("workflow.run: the records go in as the child's input, its collected output comes out", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, child("sum", "$sum($input)", true));
    const r = await runWorkflow(
      node,
      parent("p-run", [1, 2, 3], n("each", "control/workflow.run", { workflow: "sum" })),
    );
    const id = r.body.executionId;
    assertEquals(await nodeOutput(node, id, "out"), [6]);
    assertEquals(viewNode(r.body, "each").recordsProcessed, 3);
    const [childId] = await childIds(node, id);
    assert(childId, "the child's id is in the parent's events");
    const view = await getJson(node, `/api/v1/executions/${childId}`);
    assertEquals(view.status, 200, view.text);
    assertEquals(view.body.status, "completed");
    assertEquals(view.body.workflowId, "sum");
    assertEquals(view.body.parent, { executionId: id, nodeId: "each", attempt: 1, index: 0, depth: 1 });
    const started = (await eventsOf(node, childId)).find((e) => e.type === "ExecutionStarted")!;
    assertEquals(started.input, [1, 2, 3]);
    const ended = (await eventsOf(node, id)).filter((e) => e.type === "ChildEnded");
    assertEquals(ended.map((e) => [e.childId, e.status]), [[childId, "completed"]]);
  });
});

Deno.test("foreach: the output is in input order though the children finish in another order", async () => {
  const target = startTarget(async (req) => {
    const v = Number(new URL(req.url).pathname.split("/").at(-1));
    await sleep((8 - v) * 15); // the last item answers first
    return Response.json({ v: v * 10 });
  });
  const finished: number[] = [];
  try {
    await withNodeCalling(target, async (node) => {
      await createWorkflow(
        node,
        chain(
          "call",
          n("call", "control/http", { url: `${target.url}/item/{{input}}` }),
          n("calc", "transform/map", { expression: "body.v" }),
          n("out", "sink/memory.collect"),
        ),
      );
      const items = [0, 1, 2, 3, 4, 5, 6, 7];
      const r = await runWorkflow(
        node,
        parent("p-order", items, each({ workflow: "call", maxConcurrency: 8 })),
      );
      const id = r.body.executionId;
      assertEquals(await nodeOutput(node, id, "out"), items.map((v) => v * 10));
      const ended = (await eventsOf(node, id)).filter((e) => e.type === "ChildEnded");
      for (const e of ended) finished.push(e.index);
      assertEquals(viewNode(r.body, "each").children, {
        count: 8,
        started: 8,
        running: 0,
        ended: 8,
        failed: 0,
      });
    });
  } finally {
    await target.close();
  }
  assert(finished.join() !== [...finished].sort((a, b) => a - b).join(), `finished in order: ${finished}`);
});

Deno.test("foreach: at most maxConcurrency children are live at once", async () => {
  let inFlight = 0;
  let most = 0;
  const target = startTarget(async () => {
    most = Math.max(most, ++inFlight);
    await sleep(50);
    inFlight--;
    return Response.json({ ok: true });
  });
  try {
    await withNodeCalling(target, async (node) => {
      await createWorkflow(node, chain("hold", n("call", "control/http", { url: `${target.url}/hold` })));
      const items = Array.from({ length: 12 }, (_, i) => i);
      await runWorkflow(node, parent("p-conc", items, each({ workflow: "hold", maxConcurrency: 3 })));
      assertEquals(target.seen.length, 12);
    });
  } finally {
    await target.close();
  }
  assert(most <= 3, `${most} children at once`);
  assert(most >= 2, "children ran side by side");
});

/** A child that fails on items above 2 (an expression error: not retryable). */
const picky = (durable: boolean) => child("picky", '$input > 2 ? $error("too big") : $input', durable);

for (const durable of [true, false]) {
  const path = durable ? "child executions" : "inline";
  Deno.test(`foreach (${path}): fail_fast fails at the first failed child; continue keeps the others`, async () => {
    await withNode(async (node) => {
      await createWorkflow(node, picky(durable));
      const data = [1, 2, 3, 4, 0];
      const fast = await runWorkflow(
        node,
        parent("p-fast", data, each({ workflow: "picky", maxConcurrency: 1 })),
        "failed",
      );
      assertEquals(viewNode(fast.body, "each").error.code, "child_failed");
      assertEquals(viewNode(fast.body, "each").attempts, 1, "not retried");

      const cont = await runWorkflow(
        node,
        parent("p-cont", data, each({ workflow: "picky", failurePolicy: "continue" })),
      );
      assertEquals(await nodeOutput(node, cont.body.executionId, "out"), [1, 2, 0]);

      const one = await runWorkflow(
        node,
        parent(
          "p-one",
          data,
          each({ workflow: "picky", failurePolicy: "continue", toleratedFailureCount: 2 }),
        ),
      );
      assertEquals(await nodeOutput(node, one.body.executionId, "out"), [1, 2, 0]);
      const over = await runWorkflow(
        node,
        parent(
          "p-over",
          data,
          each({ workflow: "picky", failurePolicy: "continue", toleratedFailureCount: 1 }),
        ),
        "failed",
      );
      assertEquals(viewNode(over.body, "each").error.code, "child_failed");
    });
  });

  Deno.test(`foreach (${path}): more items than maxItems fails the node, not retried`, async () => {
    await withNode(async (node) => {
      await createWorkflow(node, child("id", "$input", durable));
      const r = await runWorkflow(
        node,
        parent("p-max", [1, 2, 3, 4, 5], each({ workflow: "id", maxItems: 3 })),
        "failed",
      );
      assertEquals(viewNode(r.body, "each").error.code, "foreach_too_many_items");
      assertEquals(viewNode(r.body, "each").attempts, 1);
      assertEquals(await childIds(node, r.body.executionId), []);
      const empty = await runWorkflow(node, parent("p-none", [], each({ workflow: "id" })));
      assertEquals(await nodeOutput(node, empty.body.executionId, "out"), []);
    });
  });
}

Deno.test("the inline path gives the output of real child executions, with none made", async () => {
  await withNode(async (node) => {
    const expression = '{"n": $input.n, "sq": $input.n * $input.n, "tag": $input.tag}';
    await createWorkflow(node, child("local", expression, false));
    await createWorkflow(node, child("durable", expression, true));
    const data = Array.from({ length: 30 }, (_, i) => ({ n: i, tag: `t${i % 4}` }));
    const inline = await runWorkflow(node, parent("p-inline", data, each({ workflow: "local" })));
    const durable = await runWorkflow(node, parent("p-durable", data, each({ workflow: "durable" })));
    const expected = data.map((d) => ({ n: d.n, sq: d.n * d.n, tag: d.tag }));
    assertEquals(await nodeOutput(node, inline.body.executionId, "out"), expected);
    assertEquals(await nodeOutput(node, durable.body.executionId, "out"), expected);
    assertEquals((await childIds(node, inline.body.executionId)).length, 0, "inline: no child executions");
    assertEquals((await childIds(node, durable.body.executionId)).length, 30);
    // workflow.run inline too.
    await createWorkflow(node, child("count", "$count($input)", false));
    const run = await runWorkflow(
      node,
      parent("p-run-inline", data, n("each", "control/workflow.run", { workflow: "count" })),
    );
    assertEquals(await nodeOutput(node, run.body.executionId, "out"), [30]);
  });
});

Deno.test("execution.input: a child reads its item (foreach) or its records (workflow.run) as records", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "doubler",
        n("in", "source/execution.input"),
        n("twice", "transform/map", { expression: "value * 2" }),
        n("out", "sink/memory.collect"),
      ),
    );
    const data = [1, 2, 3];
    const each = await runWorkflow(
      node,
      parent("p-input-each", data, n("each", "control/foreach", { workflow: "doubler" })),
    );
    assertEquals(await nodeOutput(node, each.body.executionId, "out"), [2, 4, 6]);
    const whole = await runWorkflow(
      node,
      parent("p-input-run", data, n("each", "control/workflow.run", { workflow: "doubler" })),
    );
    assertEquals(await nodeOutput(node, whole.body.executionId, "out"), [2, 4, 6], "the array's items");
  });
});

Deno.test("cancel: cancelling the parent cancels its running children", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, chain("waits", n("w", "control/signal.wait", { name: "never" })));
    await createWorkflow(node, parent("p-cancel", [1, 2, 3], each({ workflow: "waits", maxConcurrency: 2 })));
    const started = await execute(node, "p-cancel", { wait: 0 });
    assertEquals(started.status, 202, started.text);
    const id = started.body.executionId;
    await waitForExecution(node, id, (v) => viewNode(v, "each").children?.running === 2);
    const ids = await childIds(node, id);
    assertEquals(ids.length, 2);
    for (const c of ids) await waitForExecution(node, c, (v) => v.status === "running");
    const cancelled = await postJson(node, `/api/v1/executions/${id}/cancel`, { reason: "stop" });
    assertEquals(cancelled.status, 200, cancelled.text);
    for (const c of ids) {
      const v = await waitForExecution(node, c, (v) => v.status !== "running");
      assertEquals(v.status, "cancelled");
    }
    assertEquals(await childIds(node, id), ids, "no child started after the cancel");
  });
});

/** Workflows nest-0 runs nest-1 runs … nest-9 (all local): nest-9 is `levels` below whichever runs first. */
async function nested(node: { url: string }): Promise<void> {
  await createWorkflow(node, child("nest-9", "$input", false));
  for (let i = 8; i >= 0; i--) {
    await createWorkflow(
      node,
      parent(`nest-${i}`, [i], n("each", "control/workflow.run", { workflow: `nest-${i + 1}` })),
    );
  }
}

Deno.test("depth: 8 levels of sub-workflows run; a 9th fails with workflow_depth_exceeded", async () => {
  await withNode(async (node) => {
    await nested(node);
    const ok = await executeAndWait(node, "nest-1"); // nest-9 runs 8 levels below
    assertEquals(await nodeOutput(node, ok.body.executionId, "out"), [[8]]);
    const deep = await executeAndWait(node, "nest-0", "failed"); // nest-9 would be 9 levels below
    assertEquals(viewNode(deep.body, "each").error.code, "child_failed");
    let id = deep.body.executionId;
    for (let level = 1; level <= 8; level++) [id] = await childIds(node, id);
    const view = await getJson(node, `/api/v1/executions/${id}`);
    assertEquals([view.body.workflowId, view.body.parent.depth], ["nest-8", 8]);
    assertEquals(viewNode(view.body, "each").error.code, "workflow_depth_exceeded");
  });
});

Deno.test("validation: unknown workflows and versions, and cycles, are refused at create and update", async () => {
  await withNode(async (node) => {
    const run = (id: string, config: Record<string, unknown>) =>
      chain(
        id,
        n("src", "source/memory.collection", { data: [1] }),
        n("run", "control/workflow.run", config),
      );
    const detail = (r: { body: { error: { details: { path: string; code: string }[] } } }) =>
      r.body.error.details.map((d) => [d.path, d.code]);

    const unknown = await postJson(node, "/api/v1/workflows", run("a", { workflow: "nope" }));
    assertApiError(unknown, 400, "validation_failed");
    assertEquals(detail(unknown), [["$.nodes[1].config.workflow", "workflow_unknown"]]);
    const self = await postJson(node, "/api/v1/workflows", run("a", { workflow: "a" }));
    assertEquals(detail(self), [["$.nodes[1].config.workflow", "workflow_cycle"]]);

    await createWorkflow(node, child("leaf", "$input", false));
    const version = await postJson(node, "/api/v1/workflows", run("a", { workflow: "leaf", version: 2 }));
    assertEquals(detail(version), [["$.nodes[1].config.version", "version_unknown"]]);
    await createWorkflow(node, run("a", { workflow: "leaf", version: 1 }));
    await createWorkflow(node, run("b", { workflow: "a" }));
    await createWorkflow(node, run("c", { workflow: "b" }));
    // a → c → b → a: refused; the path names a's node.
    const cycle = await putJson(node, "/api/v1/workflows/a", run("a", { workflow: "c" }));
    assertApiError(cycle, 400, "validation_failed");
    assertEquals(detail(cycle), [["$.nodes[1].config.workflow", "workflow_cycle"]]);
    assert(cycle.body.error.details[0].message.includes("a → c → b → a"), cycle.text);
    // b pinned to a's version 1 (which runs leaf) is no cycle.
    const pinned = await putJson(node, "/api/v1/workflows/a", run("a", { workflow: "leaf" }));
    assertEquals(pinned.status, 200, pinned.text);
    const fine = await putJson(node, "/api/v1/workflows/c", run("c", { workflow: "a", version: 1 }));
    assertEquals(fine.status, 200, fine.text);
  });
});

Deno.test("a child workflow that is gone fails the node, not retried", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, child("gone", "$input", true));
    await createWorkflow(node, parent("p-gone", [1], each({ workflow: "gone" })));
    assertEquals((await getJson(node, "/api/v1/workflows/gone")).status, 200);
    const del = await (await fetch(`${node.url}/api/v1/workflows/gone`, { method: "DELETE" })).text();
    assert(del.length > 0);
    const r = await executeAndWait(node, "p-gone", "failed");
    assertEquals(viewNode(r.body, "each").error.code, "workflow_not_found");
    assertEquals(viewNode(r.body, "each").attempts, 1);
  });
});

pgTest("PostgreSQL: a 1,000-item foreach with 50 children at once completes in order", async () => {
  await withTempDatabase(async (databaseUrl) => {
    const node = await startNode({
      port: 0,
      host: "127.0.0.1",
      logLevel: "error",
      storage: "postgres",
      databaseUrl,
    });
    try {
      await createWorkflow(node, child("twice", "$input * 2", true));
      const items = Array.from({ length: 1000 }, (_, i) => i);
      await createWorkflow(
        node,
        parent("p-1000", items, each({ workflow: "twice", maxConcurrency: 50, maxItems: 1000 })),
      );
      const started = await execute(node, "p-1000", { wait: 0 });
      assertEquals(started.status, 202, started.text);
      const id = started.body.executionId;
      const view = await waitForExecution(node, id, (v) => v.status !== "running", 60_000);
      assertEquals(view.status, "completed", JSON.stringify(view.error));
      assertEquals(viewNode(view, "each").children, {
        count: 1000,
        started: 1000,
        running: 0,
        ended: 1000,
        failed: 0,
      });
      const out = await getJson(node, `/api/v1/executions/${id}/nodes/out/output?limit=1000`);
      assertEquals(out.body.total, 1000);
      assertEquals(out.body.records, items.map((i) => i * 2));
      const ids = await childIds(node, id);
      assertEquals(new Set(ids).size, 1000);
    } finally {
      await node.close();
    }
  });
});
