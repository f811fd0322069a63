/**
 * `POST /api/v1/workflows/{id}/execute/batch` and `?view=id` over real HTTP on one node: 1,000 items in one
 * call all run (sharing commit groups), a bad item fails alone with its paths under `$.items[i]`, an
 * Idempotency-Key per item (a replay, a conflict, the same key twice in one batch, the single route's key),
 * the whole-request faults (1,001 items, a bad body, a header, an unknown workflow) start nothing, the compact
 * answers, and the operator role and audit of the single execute.
 */
import { assert, assertEquals, assertStrictEquals } from "../../../testing/assert.ts";
import { request } from "../../../testing/http.ts";
import {
  assertApiError,
  createWorkflow,
  getJson,
  n,
  postJson,
  through,
  withNode,
} from "../../../testing/server.ts";
import { waitUntil } from "../../../testing/wait.ts";
import { startNode } from "../../start.ts";

const batchPath = (id: string, query = "") => `/api/v1/workflows/${id}/execute/batch${query}`;

/** Local nodes only: each run ends inside its first commit. */
const doubling = (id: string, extra: Record<string, unknown> = {}) => ({
  ...through(id, [1, 2, 3], n("double", "transform/map", { expression: "value * 2" })),
  ...extra,
});

/** How many executions the workflow has. */
async function executionCount(node: { url: string }, id: string): Promise<number> {
  const r = await getJson(node, `/api/v1/workflows/${id}/status`);
  assertEquals(r.status, 200, r.text);
  return r.body.executionCount;
}

Deno.test("batch: 1,000 items in one call all run, answered in order, sharing commit groups", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, doubling("wf-thousand"));
    const items = Array.from({ length: 1_000 }, (_, i) => ({ input: { n: i } }));
    const before = { ...node.commitGroup.stats };
    const r = await postJson(node, batchPath("wf-thousand"), { items });
    assertEquals(r.status, 200, r.text.slice(0, 500));
    assertEquals(
      [r.body.workflowId, r.body.count, r.body.created, r.body.replayed, r.body.failed],
      ["wf-thousand", 1_000, 1_000, 0, 0],
    );
    assertStrictEquals(r.body.results.length, 1_000);
    for (const result of r.body.results) {
      assertEquals(Object.keys(result).sort(), ["executionId", "executionStatus", "status", "version"]);
      assertEquals([result.status, result.version], [201, 1]);
      assert(["started", "completed"].includes(result.executionStatus), result.executionStatus);
    }
    const ids = r.body.results.map((x: { executionId: string }) => x.executionId);
    assertStrictEquals(new Set(ids).size, 1_000);
    assertStrictEquals(await executionCount(node, "wf-thousand"), 1_000);
    await waitUntil("every execution ended", async () => {
      const running = await getJson(node, "/api/v1/workflows/wf-thousand/executions?status=running&limit=1");
      return running.body.length === 0;
    }, 30_000);
    const done = await getJson(node, "/api/v1/workflows/wf-thousand/executions?status=completed&limit=500");
    assertStrictEquals(done.body.length, 500, "the first page of completed executions is full");
    // In the order posted: item i ran with input {n: i}.
    for (const i of [0, 1, 517, 999]) {
      const events = await getJson(node, `/api/v1/executions/${ids[i]}/events`);
      assertEquals(events.body.events[0].input, { n: i }, events.text.slice(0, 300));
      const out = await getJson(node, `/api/v1/executions/${ids[i]}/nodes/out/output`);
      assertEquals(out.body.records, [2, 4, 6]);
    }
    // Submitted together, not one after another: far fewer storage calls than items.
    const flushes = node.commitGroup.stats.flushes - before.flushes;
    const appends = node.commitGroup.stats.appends - before.appends;
    assert(appends >= 1_000, `${appends} appends`);
    assert(flushes < appends / 4, `${flushes} flushes for ${appends} appends`);
  });
});

Deno.test("batch: a bad item fails alone, at its path under $.items[i]; the others run", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, doubling("wf-keyed", { concurrency: { key: "input.customer", limit: 100 } }));
    const ok = (customer: string) => ({ input: { customer } });
    const items = [
      ok("c-0"),
      { input: { customer: "c-1" }, timeoutMs: -1 },
      "not an object",
      { input: { who: "no customer" } },
      { inptu: { customer: "c-4" }, verison: 1 },
      { input: { customer: "c-5" }, version: 9 },
      { input: { customer: "c-6" }, idempotencyKey: "" },
      { input: { customer: "c-7" }, idempotencyKey: "k".repeat(256) },
      ok("c-8"),
    ];
    const r = await postJson(node, batchPath("wf-keyed"), { items });
    assertEquals(r.status, 200, r.text);
    const shape = r.body.results.map((
      x: { status: number; error?: { code: string; details: { path: string }[] } },
    ) => x.error === undefined ? [x.status] : [x.status, x.error.code, x.error.details.map((d) => d.path)]);
    assertEquals(shape, [
      [201],
      [400, "validation_failed", ["$.items[1].timeoutMs"]],
      [400, "validation_failed", ["$.items[2]"]],
      [400, "concurrency_key_invalid", ["$.items[3].input"]],
      [400, "validation_failed", ["$.items[4].inptu", "$.items[4].verison"]],
      [404, "version_not_found", ["$.items[5].version"]],
      [400, "validation_failed", ["$.items[6].idempotencyKey"]],
      [400, "validation_failed", ["$.items[7].idempotencyKey"]],
      [201],
    ]);
    assertEquals([r.body.created, r.body.replayed, r.body.failed], [2, 0, 7]);
    assert(r.body.results[4].error.message.includes("idempotencyKey?"), r.body.results[4].error.message);
    for (const x of r.body.results.filter((x: { error?: unknown }) => x.error !== undefined)) {
      assertEquals(Object.keys(x).sort(), ["error", "status"]);
      assertEquals(Object.keys(x.error).sort(), ["code", "details", "message"]);
    }
    assertStrictEquals(await executionCount(node, "wf-keyed"), 2);
    // ?version applies to every item; an item's other version is its own 400.
    const pinned = await postJson(node, batchPath("wf-keyed", "?version=1"), {
      items: [ok("c-9"), { input: { customer: "c-10" }, version: 2 }],
    });
    assertEquals(pinned.body.results.map((x: { status: number }) => x.status), [201, 400], pinned.text);
    assertEquals(pinned.body.results[1].error.details.map((d: { path: string }) => d.path), [
      "$.items[1].version",
      "?version",
    ]);
  });
});

Deno.test("batch: an Idempotency-Key per item: replayed, refused when reused with another request, shared with the single route", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, doubling("wf-keys"));
    const first = await postJson(node, batchPath("wf-keys"), {
      items: [{ idempotencyKey: "a", input: 1 }, { idempotencyKey: "b", input: 2 }],
    });
    assertEquals(first.body.results.map((x: { status: number }) => x.status), [201, 201], first.text);
    const [a, b] = first.body.results.map((x: { executionId: string }) => x.executionId);
    const again = await postJson(node, batchPath("wf-keys"), {
      items: [
        { idempotencyKey: "a", input: 1 },
        { idempotencyKey: "b", input: 3 },
        { idempotencyKey: "c", input: 1 },
        { idempotencyKey: "b", input: 2, timeoutMs: 60_000 },
      ],
    });
    assertEquals(again.status, 200, again.text);
    const [replay, conflict, fresh, conflict2] = again.body.results;
    assertEquals([replay.status, replay.executionId, replay.executionStatus], [200, a, "completed"]);
    assertEquals([conflict.status, conflict.error.code], [422, "idempotency_mismatch"]);
    assertEquals(conflict.error.details.map((d: { path: string }) => d.path), ["$.items[1].idempotencyKey"]);
    assert(conflict.error.details[0].message.includes(b), conflict.error.details[0].message);
    assertEquals([fresh.status, conflict2.status], [201, 422]);
    assertEquals([again.body.created, again.body.replayed, again.body.failed], [1, 1, 2]);
    // The single route's header and an item's key are one key: the same execution.
    const single = await postJson(node, "/api/v1/workflows/wf-keys/execute", { input: 1 }, {
      "idempotency-key": "a",
    });
    assertEquals([single.status, single.body.executionId], [202, a], single.text);
    assertEquals(single.headers.get("idempotent-replayed"), "true");
    const viaSingle = await postJson(node, "/api/v1/workflows/wf-keys/execute", { input: 5 }, {
      "idempotency-key": "s",
    });
    const back = await postJson(node, batchPath("wf-keys"), { items: [{ idempotencyKey: "s", input: 5 }] });
    assertEquals([back.body.results[0].status, back.body.results[0].executionId], [
      200,
      viaSingle.body.executionId,
    ]);
    // One key twice in a batch: one execution, created once.
    const twice = await postJson(node, batchPath("wf-keys"), {
      items: [{ idempotencyKey: "d", input: 1 }, { idempotencyKey: "d", input: 1 }],
    });
    const statuses = twice.body.results.map((x: { status: number }) => x.status).sort();
    assertEquals(statuses, [200, 201], twice.text);
    assertStrictEquals(twice.body.results[0].executionId, twice.body.results[1].executionId);
    assertStrictEquals(await executionCount(node, "wf-keys"), 5);
  });
});

Deno.test("batch: faults of the whole request answer 4xx and start nothing", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, doubling("wf-whole"));
    const tooMany = await postJson(node, batchPath("wf-whole"), { items: new Array(1_001).fill({}) });
    assertApiError(tooMany, 400, "batch_too_large");
    assertEquals(tooMany.body.error.details.map((d: { path: string }) => d.path), ["$.items"]);
    const faults: [unknown, string, string][] = [
      [{ items: [] }, "validation_failed", "$.items"],
      [{ items: {} }, "validation_failed", "$.items"],
      [{}, "validation_failed", "$.items"],
      [[{}], "validation_failed", "$"],
      [{ items: [{}], wait: 1 }, "validation_failed", "$.wait"],
    ];
    for (const [body, code, path] of faults) {
      const r = await postJson(node, batchPath("wf-whole"), body);
      assertApiError(r, 400, code);
      assertEquals(r.body.error.details.map((d: { path: string }) => d.path), [path], r.text);
    }
    const empty = await request(node, "POST", batchPath("wf-whole"));
    assertApiError(empty, 400, "malformed_json");
    const header = await postJson(node, batchPath("wf-whole"), { items: [{}] }, { "idempotency-key": "k" });
    assertApiError(header, 400, "invalid_header");
    assertApiError(
      await postJson(node, batchPath("wf-whole", "?wait=100"), { items: [{}] }),
      400,
      "invalid_parameter",
    );
    assertApiError(
      await postJson(node, batchPath("wf-whole", "?view=ids"), { items: [{}] }),
      400,
      "invalid_parameter",
    );
    assertApiError(await postJson(node, batchPath("wf-nope"), { items: [{}] }), 404, "workflow_not_found");
    const huge = await request(node, "POST", batchPath("wf-whole"), {
      raw: JSON.stringify({ items: [{ input: "x".repeat(5 * 1024 * 1024) }] }),
    });
    assertApiError(huge, 413, "body_too_large");
    assertStrictEquals(await executionCount(node, "wf-whole"), 0);
    // A body of 1,000 items of 2 KiB each (over a single execute's 1 MiB) is read.
    const big = await postJson(node, batchPath("wf-whole", "?view=id"), {
      items: Array.from({ length: 1_000 }, (_, i) => ({ input: { i, pad: "p".repeat(2_048) } })),
    });
    assertEquals(big.status, 200, big.text.slice(0, 300));
    assertStrictEquals(await executionCount(node, "wf-whole"), 1_000);
  });
});

Deno.test("view=id: the single execute and the batch answer only {executionId, status}", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, doubling("wf-view"));
    const started = await postJson(node, "/api/v1/workflows/wf-view/execute?view=id", {});
    assertEquals(started.status, 202, started.text);
    assertEquals(Object.keys(started.body).sort(), ["executionId", "status"]);
    assertEquals(started.body.status, "completed");
    assertEquals(started.headers.get("location"), `/api/v1/executions/${started.body.executionId}`);
    const waited = await postJson(node, "/api/v1/workflows/wf-view/execute?view=id&wait=5000", {}, {
      "idempotency-key": "v1",
    });
    assertEquals([waited.status, Object.keys(waited.body).sort()], [200, ["executionId", "status"]]);
    assertEquals(waited.body.status, "completed");
    const replay = await postJson(node, "/api/v1/workflows/wf-view/execute?view=id", {}, {
      "idempotency-key": "v1",
    });
    assertEquals([replay.status, replay.body.executionId], [202, waited.body.executionId]);
    assertEquals(replay.headers.get("idempotent-replayed"), "true");
    // The default answer is unchanged.
    const full = await postJson(node, "/api/v1/workflows/wf-view/execute?view=full", {});
    assertEquals(Object.keys(full.body).sort(), [
      "executionId",
      "message",
      "note",
      "status",
      "version",
      "workflowId",
    ]);
    assertApiError(
      await postJson(node, "/api/v1/workflows/wf-view/execute?view=x", {}),
      400,
      "invalid_parameter",
    );

    const batch = await postJson(node, batchPath("wf-view", "?view=id"), {
      items: [{}, { idempotencyKey: "v1" }, { timeoutMs: 0 }],
    });
    assertEquals(batch.status, 200, batch.text);
    assertEquals(Object.keys(batch.body), ["results"]);
    const [made, replayed, bad] = batch.body.results;
    assertEquals([Object.keys(made).sort(), made.status], [["executionId", "status"], 201]);
    assertEquals([replayed.status, replayed.executionId], [200, waited.body.executionId]);
    assertEquals([Object.keys(bad).sort(), bad.status, bad.error.details[0].path], [
      ["error", "status"],
      400,
      "$.items[2].timeoutMs",
    ]);
  });
});

Deno.test("batch: the operator role, as the single execute; every call audited with its route", async () => {
  const ADMIN = "admin-token-for-batch-tests-0123456789";
  const OPERATOR = "operator-token-for-batch-tests-0123456789";
  const VIEWER = "viewer-token-for-batch-tests-0123456789";
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "memory",
    logLevel: "error",
    apiTokens: [{ role: "admin", token: ADMIN }, { role: "operator", token: OPERATOR }, {
      role: "viewer",
      token: VIEWER,
    }],
  });
  try {
    const as = (token: string | null): Record<string, string> =>
      token === null ? {} : { authorization: `Bearer ${token}` };
    const made = await postJson(node, "/api/v1/workflows", doubling("wf-auth"), as(ADMIN));
    assertEquals(made.status, 201, made.text);
    const body = { items: [{ input: 1 }] };
    assertApiError(await postJson(node, batchPath("wf-auth"), body, as(null)), 401, "unauthenticated");
    assertApiError(await postJson(node, batchPath("wf-auth"), body, as(VIEWER)), 403, "forbidden");
    const ok = await postJson(node, batchPath("wf-auth"), body, as(OPERATOR));
    assertEquals([ok.status, ok.body.results[0].status], [200, 201], ok.text);
    await waitUntil("the batch calls are audited", async () => {
      const r = await request(node, "GET", "/api/v1/audit?limit=100", { headers: as(ADMIN) });
      const routes = r.body.events
        .filter((e: { route: string }) => e.route === "/api/v1/workflows/:id/execute/batch")
        .map((e: { status: number; role: string | null }) => [e.status, e.role]);
      return JSON.stringify(routes) === JSON.stringify([[200, "operator"], [403, "viewer"]]);
    });
  } finally {
    await node.close();
  }
});
