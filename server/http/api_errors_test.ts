/**
 * Error answers over real HTTP: each has a status, and a body
 * `{error: {code, message, details: []}}`.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { MAX_BODY_BYTES } from "./body.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  execute,
  getJson,
  n,
  postJson,
  sampleWorkflow,
  withNode,
} from "../../testing/server.ts";
import { request } from "../../testing/http.ts";

Deno.test("an unknown route is 404 route_not_found (JSON)", async () => {
  await withNode(async (node) => {
    // (`/` redirects to the web console: server/console/console_serve_test.ts.)
    for (const path of ["/nope", "/api/v1/nope", "/api/v1/workflows/wf-1/nope/deeper"]) {
      const r = await getJson(node, path);
      assertApiError(r, 404, "route_not_found");
      assert(r.body.error.message.includes(path), r.text);
      assertEquals(r.body.error.details, []);
    }
    assertApiError(await request(node, "POST", "/api/v2/workflows", { json: {} }), 404, "route_not_found");
  });
});

Deno.test("a known route with another method is 405 with an allow header", async () => {
  await withNode(async (node) => {
    const health = await request(node, "DELETE", "/health");
    assertApiError(health, 405, "method_not_allowed");
    assertEquals(health.headers.get("allow"), "GET");

    const workflows = await request(node, "PATCH", "/api/v1/workflows");
    assertApiError(workflows, 405, "method_not_allowed");
    assertEquals(workflows.headers.get("allow")!.split(", ").sort(), ["GET", "POST"]);

    const one = await request(node, "POST", "/api/v1/workflows/wf-1");
    assertApiError(one, 405, "method_not_allowed");
    assertEquals(one.headers.get("allow")!.split(", ").sort(), ["DELETE", "GET", "PUT"]);

    const execute = await request(node, "GET", "/api/v1/workflows/wf-1/execute");
    assertApiError(execute, 405, "method_not_allowed");
    assertEquals(execute.headers.get("allow"), "POST");

    // HEAD is served by the GET route.
    const head = await fetch(`${node.url}/health`, { method: "HEAD" });
    await head.body?.cancel();
    assertEquals(head.status, 200);
  });
});

Deno.test("malformed JSON is 400 malformed_json; an empty body where one is required too", async () => {
  await withNode(async (node) => {
    const headers = { "content-type": "application/json" };
    const broken = await request(node, "POST", "/api/v1/workflows", { raw: '{"id": "wf-1",', headers });
    assertApiError(broken, 400, "malformed_json");
    assertEquals(broken.body.error.details.length, 1);
    assertEquals(broken.body.error.details[0].path, "$");

    const empty = await request(node, "POST", "/api/v1/workflows", { raw: "", headers });
    assertApiError(empty, 400, "malformed_json");

    await createWorkflow(node, sampleWorkflow());
    const exec = await request(node, "POST", "/api/v1/workflows/wf-1/execute", { raw: "{input:", headers });
    assertApiError(exec, 400, "malformed_json");
    const signal = await request(node, "POST", "/api/v1/executions/ex-1/signals/go", { raw: "[", headers });
    assertApiError(signal, 400, "malformed_json");

    const notUtf8 = await request(node, "POST", "/api/v1/workflows", {
      raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      headers,
    });
    assertApiError(notUtf8, 400, "malformed_body");
  });
});

Deno.test("a body over 1 MiB is 413 body_too_large, declared or streamed", async () => {
  await withNode(async (node) => {
    const big = `{"pad":"${"x".repeat(MAX_BODY_BYTES)}"}`;
    const declared = await request(node, "POST", "/api/v1/workflows", {
      raw: big,
      headers: { "content-type": "application/json" },
    });
    assertApiError(declared, 413, "body_too_large");

    // Without a content-length (chunked): the limit holds while reading.
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_BODY_BYTES + chunk.length) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const streamed = await request(node, "POST", "/api/v1/workflows", {
      raw: stream,
      headers: { "content-type": "application/json" },
    });
    assertApiError(streamed, 413, "body_too_large");

    // Just under the limit is read (and then judged as a workflow).
    const fits = await request(node, "POST", "/api/v1/workflows", {
      raw: `{"pad":"${"x".repeat(MAX_BODY_BYTES - 20)}"}`,
      headers: { "content-type": "application/json" },
    });
    assertApiError(fits, 400, "validation_failed");
  });
});

Deno.test("an unknown workflow is 404 on execute, status, executions and history", async () => {
  await withNode(async (node) => {
    assertApiError(await execute(node, "nope"), 404, "workflow_not_found");
    assertApiError(await execute(node, "nope", { wait: 0 }), 404, "workflow_not_found");
    for (
      const path of [
        "/api/v1/workflows/nope",
        "/api/v1/workflows/nope/status",
        "/api/v1/workflows/nope/executions",
        "/api/history/nope",
        "/api/history/nope/status",
        "/api/history/nope/timeline",
        "/api/history/nope/execution/ex-1",
      ]
    ) {
      assertApiError(await getJson(node, path), 404, "workflow_not_found");
    }
  });
});

Deno.test("an unknown execution is 404 on every execution route", async () => {
  await withNode(async (node) => {
    for (
      const path of [
        "/api/v1/executions/ex-nope",
        "/api/v1/executions/ex-nope/events",
        "/api/v1/executions/ex-nope/nodes/n1/output",
      ]
    ) {
      assertApiError(await getJson(node, path), 404, "execution_not_found");
    }
    // Cancel and signal answer the engine's code, `not_found` (docs/API.md lists it so), not
    // `execution_not_found` as the GET routes do.
    assertApiError(await postJson(node, "/api/v1/executions/ex-nope/cancel", {}), 404, "execution_not_found");
    assertApiError(
      await postJson(node, "/api/v1/executions/ex-nope/signals/go", {}),
      404,
      "execution_not_found",
    );

    await createWorkflow(node, sampleWorkflow());
    assertApiError(
      await getJson(node, "/api/v1/workflows/wf-1/executions/ex-nope/logs"),
      404,
      "execution_not_found",
    );
    assertApiError(await getJson(node, "/api/history/wf-1/execution/ex-nope"), 404, "execution_not_found");
    assertApiError(
      await getJson(node, "/api/history/wf-1/timeline?executionId=ex-nope"),
      404,
      "execution_not_found",
    );
    // No executions yet: the timeline has none to show.
    assertApiError(await getJson(node, "/api/history/wf-1/timeline"), 404, "execution_not_found");

    // A known execution with an unknown node, and a node that has not completed.
    await createWorkflow(
      node,
      chain(
        "wf-wait",
        n("src", "source/memory.collection", { data: [1] }),
        n("w", "control/signal.wait", { name: "go" }),
        n("out", "sink/memory.collect"),
      ),
    );
    const started = await execute(node, "wf-wait", { wait: 0 });
    assertEquals(started.status, 202, started.text);
    const id = started.body.executionId;
    assertApiError(await getJson(node, `/api/v1/executions/${id}/nodes/ghost/output`), 404, "node_not_found");
    assertApiError(await getJson(node, `/api/v1/executions/${id}/nodes/out/output`), 409, "output_not_ready");
    // An execution of another workflow is not found under this one.
    assertApiError(
      await getJson(node, `/api/v1/workflows/wf-1/executions/${id}/logs`),
      404,
      "execution_not_found",
    );
    assertApiError(await getJson(node, `/api/history/wf-1/execution/${id}`), 404, "execution_not_found");
    const cancelled = await postJson(node, `/api/v1/executions/${id}/cancel`, {});
    assertEquals(cancelled.status, 200, cancelled.text);
  });
});

Deno.test("a bad query parameter is 400 invalid_parameter naming it", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, sampleWorkflow());
    for (const limit of ["abc", "0", "-1", "1.5", "501", "1e3"]) {
      const r = await getJson(node, `/api/v1/workflows?limit=${limit}`);
      assertApiError(r, 400, "invalid_parameter");
      assertEquals(r.body.error.details, [{ path: "?limit", message: `got ${JSON.stringify(limit)}` }]);
    }
    assertApiError(
      await getJson(node, "/api/v1/workflows/wf-1/executions?limit=x"),
      400,
      "invalid_parameter",
    );
    const status = await getJson(node, "/api/v1/workflows/wf-1/executions?status=bogus");
    assertApiError(status, 400, "invalid_parameter");
    assertEquals(status.body.error.details[0].path, "?status");
    assertApiError(await getJson(node, "/api/history/wf-1?limit=0"), 400, "invalid_parameter");
    assertApiError(await getJson(node, "/api/v1/workflows/wf-1?version=zero"), 400, "invalid_parameter");
    const wait = await postJson(node, "/api/v1/workflows/wf-1/execute?wait=-5", {});
    assertApiError(wait, 400, "invalid_parameter");
    assertEquals(wait.body.error.details[0].path, "?wait");
    assertApiError(
      await postJson(node, "/api/v1/workflows/wf-1/execute?wait=300001", {}),
      400,
      "invalid_parameter",
    );
    // Nothing was started by the refused requests.
    const list = await getJson(node, "/api/v1/workflows/wf-1/executions");
    assertEquals([list.status, list.body], [200, []]);
  });
});

Deno.test("bad execute bodies and headers are 400 with the path at fault", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, sampleWorkflow());
    const array = await postJson(node, "/api/v1/workflows/wf-1/execute", [1]);
    assertApiError(array, 400, "validation_failed");
    assertEquals(array.body.error.details[0].path, "$");
    for (const timeoutMs of [0, -1, 1.5, "100"]) {
      const r = await postJson(node, "/api/v1/workflows/wf-1/execute", { timeoutMs });
      assertApiError(r, 400, "validation_failed");
      assertEquals(r.body.error.details[0].path, "$.timeoutMs");
    }
    const key = await postJson(node, "/api/v1/workflows/wf-1/execute", {}, {
      "idempotency-key": "k".repeat(256),
    });
    assertApiError(key, 400, "invalid_header");
    assertEquals(key.body.error.details[0].path, "headers.Idempotency-Key");
  });
});

Deno.test("a signal payload over 64 KiB (as UTF-8 JSON) is 413 payload_too_large", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "wf-s",
        n("src", "source/memory.collection", { data: [] }),
        n("w", "control/signal.wait", {
          name: "go",
        }),
      ),
    );
    const started = await execute(node, "wf-s", { wait: 0 });
    const id = started.body.executionId;
    const r = await postJson(node, `/api/v1/executions/${id}/signals/go`, { payload: "x".repeat(70_000) });
    assertApiError(r, 413, "payload_too_large");
    // The bound is in bytes of JSON, not characters: 30,000 "€" are 90,000 bytes.
    const wide = await postJson(node, `/api/v1/executions/${id}/signals/go`, { payload: "€".repeat(30_000) });
    assertApiError(wide, 413, "payload_too_large");
    const view = await getJson(node, `/api/v1/executions/${id}`);
    assertEquals(view.body.status, "running");
    assertEquals((await postJson(node, `/api/v1/executions/${id}/cancel`, {})).status, 200);
  });
});
