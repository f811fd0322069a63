/**
 * The workflow routes over real HTTP: create, read back (UI data round-tripped),
 * re-post, conflicts, validation problems, versions, delete, listing, node types.
 */
import { CATALOG } from "../../core/catalog.ts";
import { checkWorkflow } from "../runtime/workflows.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
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
  SAMPLE_WORKFLOW_JSON,
  sampleWorkflow,
  waitForExecution,
  wf,
  withNode,
} from "../../testing/server.ts";
import { request } from "../../testing/http.ts";

Deno.test("POST the old engine's sample: 201 {workflowId, version: 1}, GET round-trips the UI data", async () => {
  await withNode(async (node) => {
    const created = await request(node, "POST", "/api/v1/workflows", {
      raw: SAMPLE_WORKFLOW_JSON,
      headers: { "content-type": "application/json" },
    });
    assertEquals(created.status, 201, created.text);
    assertEquals(created.body.workflowId, "wf-1");
    assertEquals(created.body.version, 1);
    assertEquals(created.body.message, "workflow created");
    assertEquals(created.headers.get("location"), "/api/v1/workflows/wf-1");
    // metadata.schedule becomes the schedule wf:wf-1 (api_schedules_test.ts checks it in full).
    assert(/^scheduled: fixed_rate every 1h, next \d{4}-/.test(created.body.scheduleStatus), created.text);

    const got = await getJson(node, "/api/v1/workflows/wf-1");
    assertEquals(got.status, 200, got.text);
    assertEquals(got.headers.get("x-workflow-version"), "1");
    // Everything comes back as posted; only the numeric string "10" is normalised to 10.
    const expected = JSON.parse(SAMPLE_WORKFLOW_JSON);
    expected.nodes[2].config.limit = 10;
    assertEquals(got.body, expected);
    // The UI data, spelled out.
    assertEquals(got.body.nodes.map((x: { position: unknown }) => x.position), [
      { x: 100, y: 80 },
      { x: 300, y: 80 },
      { x: 500, y: 80 },
    ]);
    assertEquals(got.body.nodes.map((x: { label: string }) => x.label), ["Numbers", "Big ones", "Print"]);
    assertEquals(got.body.edges[0], {
      id: "e1",
      source: "n1",
      target: "n2",
      sourceHandle: "out",
      targetHandle: "in",
      animated: false,
    });
    assertEquals(got.body.edges[1], { id: "e2", source: "n2", target: "n3" });
    assertEquals(got.body.metadata, {
      createdAt: "2024-11-15T10:00:00Z",
      updatedAt: "2024-11-15T10:00:00Z",
      schedule: { enabled: true, scheduleType: "fixed_rate", interval: "1h" },
    });
    assertEquals([got.body.version, got.body.author, got.body.tags, got.body.description], [
      "1.0",
      "ops",
      ["etl"],
      "",
    ]);

    // ?version=1 is the same; an unknown version is 404.
    const v1 = await getJson(node, "/api/v1/workflows/wf-1?version=1");
    assertEquals([v1.status, v1.body], [200, expected]);
    assertApiError(await getJson(node, "/api/v1/workflows/wf-1?version=2"), 404, "workflow_not_found");
    assertApiError(await getJson(node, "/api/v1/workflows/nope"), 404, "workflow_not_found");
  });
});

Deno.test("identical re-POST is 200 unchanged; a different definition with the same id is 409", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, sampleWorkflow());
    const again = await postJson(node, "/api/v1/workflows", sampleWorkflow());
    assertEquals(again.status, 200, again.text);
    assertEquals([again.body.workflowId, again.body.version, again.body.message], [
      "wf-1",
      1,
      "workflow unchanged",
    ]);

    // The same definition after normalisation ("10" and 10) is identical too.
    const normalised = sampleWorkflow();
    (normalised.nodes as { config: Record<string, unknown> }[])[2].config.limit = 10;
    const same = await postJson(node, "/api/v1/workflows", normalised);
    assertEquals([same.status, same.body.version], [200, 1], same.text);

    const changed = sampleWorkflow();
    changed.name = "Another name";
    const conflict = await postJson(node, "/api/v1/workflows", changed);
    assertApiError(conflict, 409, "workflow_exists");
    assert(conflict.body.error.message.includes("wf-1"), conflict.text);

    // Nothing was overwritten.
    const got = await getJson(node, "/api/v1/workflows/wf-1");
    assertEquals([got.body.name, got.headers.get("x-workflow-version")], ["My Workflow", "1"]);
  });
});

Deno.test("an invalid definition is 400 validation_failed listing every problem with path and code", async () => {
  await withNode(async (node) => {
    const bad = wf("wf-bad", [
      n("a", "transform/filter", {}), // condition missing
      n("b", "transform/no.such.kind", {}),
      n("c", "transform/limit", { count: 1 }),
      n("d", "source/sequence.numbers", { step: "x" }),
    ], [
      { source: "a", target: "c" },
      { source: "c", target: "a" }, // a cycle
      { source: "c", target: "ghost" },
    ]);
    const r = await postJson(node, "/api/v1/workflows", bad);
    assertApiError(r, 400, "validation_failed");
    const found = r.body.error.details.map((d: { path: string; code: string }) => ({
      path: d.path,
      code: d.code,
    }));
    const expected = [
      { path: "$.nodes[0].config.condition", code: "config_missing" },
      { path: "$.nodes[1].nodeType", code: "unknown_node_kind" },
      { path: "$.nodes[3].config.step", code: "config_type" },
      { path: "$.edges[2].target", code: "unknown_node" },
      { path: "$.edges", code: "cycle" },
    ];
    const key = (d: { path: string; code: string }) => `${d.path} ${d.code}`;
    assertEquals(found.map(key).sort(), expected.map(key).sort(), r.text);
    for (const d of r.body.error.details) assertEquals(typeof d.message, "string");
    assert(r.body.error.message.includes("5 problem"), r.body.error.message);
    // Nothing was stored.
    assertApiError(await getJson(node, "/api/v1/workflows/wf-bad"), 404, "workflow_not_found");

    // Not even an object.
    const notObject = await postJson(node, "/api/v1/workflows", [1, 2]);
    assertApiError(notObject, 400, "validation_failed");
    assertEquals(notObject.body.error.details.map((d: { path: string }) => d.path), ["$"]);
  });
});

Deno.test("invalid expression syntax is 400 with code expression_invalid at the config path", async () => {
  await withNode(async (node) => {
    const r = await postJson(
      node,
      "/api/v1/workflows",
      chain(
        "wf-expr",
        n("src", "source/memory.collection", { data: [1] }),
        n("f", "transform/filter", { condition: "value > " }),
        n("m", "transform/map", { fields: { ok: "value + 1", broken: "(((" } }),
        n("s", "transform/sort", { by: "a[" }),
        n("out", "sink/memory.collect"),
      ),
    );
    assertApiError(r, 400, "validation_failed");
    const found = r.body.error.details.map((d: { path: string; code: string }) => `${d.path} ${d.code}`);
    assertEquals(found.sort(), [
      "$.nodes[1].config.condition expression_invalid",
      "$.nodes[2].config.fields.broken expression_invalid",
      "$.nodes[3].config.by expression_invalid",
    ]);
    assertApiError(await getJson(node, "/api/v1/workflows/wf-expr"), 404, "workflow_not_found");
  });
});

Deno.test("PUT stores version 2; an execution started on version 1 keeps version 1", async () => {
  await withNode(async (node) => {
    const v1 = chain(
      "wf-v",
      n("src", "source/memory.collection", { data: [1, 2] }),
      n("wait", "control/signal.wait", { name: "go" }),
      n("out", "sink/memory.collect"),
    );
    await createWorkflow(node, v1);
    const started = await execute(node, "wf-v", { wait: 0 });
    assertEquals(started.status, 202, started.text);
    assertEquals([started.body.version, started.body.status], [1, "started"]);
    const executionId = started.body.executionId;

    const v2 = chain(
      "wf-v",
      n("src", "source/memory.collection", { data: [1, 2] }),
      n("double", "transform/map", { expression: "value * 2" }),
      n("out", "sink/memory.collect"),
    );
    const put = await putJson(node, "/api/v1/workflows/wf-v", v2);
    assertEquals(put.status, 200, put.text);
    assertEquals([put.body.workflowId, put.body.version, put.body.message], ["wf-v", 2, "workflow updated"]);
    const latest = await getJson(node, "/api/v1/workflows/wf-v");
    assertEquals(latest.headers.get("x-workflow-version"), "2");
    assertEquals(latest.body.nodes.map((x: { id: string }) => x.id), ["src", "double", "out"]);
    const old = await getJson(node, "/api/v1/workflows/wf-v?version=1");
    assertEquals(old.body.nodes.map((x: { id: string }) => x.id), ["src", "wait", "out"]);

    // The running execution is still on version 1, with version 1's nodes; it finishes on them.
    const view = await getJson(node, `/api/v1/executions/${executionId}`);
    assertEquals([view.body.version, view.body.status], [1, "running"]);
    assertEquals(view.body.nodes.map((x: { nodeId: string }) => x.nodeId), ["src", "wait", "out"]);
    const signalled = await postJson(node, `/api/v1/executions/${executionId}/signals/go`, {});
    assertEquals(signalled.status, 200, signalled.text);
    const done = await waitForExecution(node, executionId, (v) => v.status !== "running");
    assertEquals([done.status, done.version], ["completed", 1]);
    assertEquals(await nodeOutput(node, executionId, "out"), [1, 2]);

    // A new execution runs version 2.
    const fresh = await execute(node, "wf-v");
    assertEquals([fresh.status, fresh.body.status, fresh.body.version], [200, "completed", 2], fresh.text);
    assertEquals(await nodeOutput(node, fresh.body.executionId, "out"), [2, 4]);

    // PUT of the same definition: unchanged; PUT with another id in the body: 400; unknown id: 404.
    const same = await putJson(node, "/api/v1/workflows/wf-v", v2);
    assertEquals([same.status, same.body.version, same.body.message], [200, 2, "workflow unchanged"]);
    const mismatch = await putJson(node, "/api/v1/workflows/wf-v", { ...v2, id: "other" });
    assertApiError(mismatch, 400, "id_mismatch");
    assertEquals(mismatch.body.error.details[0].path, "$.id");
    assertApiError(
      await putJson(node, "/api/v1/workflows/nope", { ...v2, id: "nope" }),
      404,
      "workflow_not_found",
    );
    // A body without an id takes the id of the path.
    const { id: _id, ...noId } = v2;
    assertApiError(await putJson(node, "/api/v1/workflows/nope", noId), 404, "workflow_not_found");
    const invalid = await putJson(node, "/api/v1/workflows/wf-v", { ...v2, nodes: [] });
    assertApiError(invalid, 400, "validation_failed");
    assertEquals(invalid.body.error.details[0].code, "empty_graph");
  });
});

Deno.test("DELETE is 200, then GET is 404; executions stay readable; a re-POST gets the next version", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, sampleWorkflow("wf-del"));
    const run = await execute(node, "wf-del");
    assertEquals([run.status, run.body.status], [200, "completed"], run.text);

    const del = await request(node, "DELETE", "/api/v1/workflows/wf-del");
    assertEquals(del.status, 200, del.text);
    assertEquals(del.body, { message: "workflow deleted", workflowId: "wf-del" });
    assertApiError(await getJson(node, "/api/v1/workflows/wf-del"), 404, "workflow_not_found");
    assertApiError(await request(node, "DELETE", "/api/v1/workflows/wf-del"), 404, "workflow_not_found");
    assertApiError(await execute(node, "wf-del"), 404, "workflow_not_found");
    const list = await getJson(node, "/api/v1/workflows");
    assertEquals(list.body.map((w: { id: string }) => w.id), []);

    // The execution of the deleted workflow can still be read.
    const view = await getJson(node, `/api/v1/executions/${run.body.executionId}`);
    assertEquals([view.status, view.body.status, view.body.version], [200, "completed", 1]);

    const again = await postJson(node, "/api/v1/workflows", sampleWorkflow("wf-del"));
    assertEquals([again.status, again.body.version], [201, 2], again.text);
  });
});

Deno.test("list pages with ?limit=1 and the x-next-cursor header", async () => {
  await withNode(async (node) => {
    for (const id of ["wf-c", "wf-a", "wf-b"]) await createWorkflow(node, sampleWorkflow(id));
    const ids: string[] = [];
    let path = "/api/v1/workflows?limit=1";
    const cursors: string[] = [];
    for (let page = 0; page < 10; page++) {
      const r = await getJson(node, path);
      assertEquals(r.status, 200, r.text);
      assertEquals(r.body.length, 1, r.text);
      ids.push(r.body[0].id);
      const next = r.headers.get("x-next-cursor");
      if (next === null) {
        assertEquals(r.headers.get("link"), null);
        break;
      }
      cursors.push(next);
      assertEquals(
        r.headers.get("link"),
        `</api/v1/workflows?limit=1&cursor=${encodeURIComponent(next)}>; rel="next"`,
      );
      path = `/api/v1/workflows?limit=1&cursor=${encodeURIComponent(next)}`;
    }
    assertEquals(ids, ["wf-a", "wf-b", "wf-c"]);
    assertEquals(cursors.length, 2);

    const all = await getJson(node, "/api/v1/workflows");
    assertEquals(all.headers.get("x-next-cursor"), null);
    assertEquals(all.body.length, 3);
    const summary = all.body[0];
    assertEquals({ ...summary, createdAt: 0 }, {
      id: "wf-a",
      name: "My Workflow",
      description: "",
      version: 1,
      tags: ["etl"],
      nodeCount: 3,
      edgeCount: 2,
      createdAt: 0,
    });
    assert(typeof summary.createdAt === "number" && summary.createdAt > 0, all.text);
  });
});

Deno.test("node-types lists every catalog kind per category with its config schema", async () => {
  await withNode(async (node) => {
    const r = await getJson(node, "/api/v1/workflows/node-types");
    assertEquals(r.status, 200, r.text);
    assertEquals(Object.keys(r.body), ["source", "transform", "sink", "control"]);
    const names = Object.fromEntries(
      Object.entries(r.body).map(([c, kinds]) => [c, (kinds as { type: string }[]).map((k) => k.type)]),
    );
    assertEquals(names, {
      source: [
        "sequence.numbers",
        "random.numbers",
        "execution.input",
        "memory.collection",
        "file.text",
        "file.csv",
        "sql.query",
        "mysql.query",
        "kafka.consumer",
        "nats.consumer",
        "rabbitmq.consumer",
        "redis.consumer",
      ],
      transform: [
        "sql.query",
        "filter",
        "map",
        "distinct",
        "batch",
        "aggregate",
        "aggregate.count",
        "sort",
        "limit",
      ],
      sink: [
        "console.log",
        "file.text",
        "file.csv",
        "file.jsonl",
        "memory.collect",
        "sql.insert",
        "mysql.write",
        "kafka.producer",
        "nats.producer",
        "rabbitmq.producer",
        "redis.producer",
      ],
      control: [
        "http",
        "delay",
        "condition",
        "signal.wait",
        "switch",
        "terminate",
        "workflow.run",
        "foreach",
      ],
    });
    let listed = 0;
    for (const kind of CATALOG) {
      const entry = (r.body[kind.type] as { type: string }[]).find((k) => k.type === kind.nodeType);
      assert(entry, `${kind.type}/${kind.nodeType} is listed`);
      assertEquals(entry, {
        type: kind.nodeType,
        category: kind.type,
        displayName: kind.displayName,
        icon: kind.icon,
        description: kind.description,
        acceptsInput: kind.acceptsInput,
        outputs: [...kind.outputs],
        // Every field says whether it is required (the old palette's shape).
        config: Object.fromEntries(
          Object.entries(JSON.parse(JSON.stringify(kind.config)) as Record<string, { required?: boolean }>)
            .map(([key, spec]) => [key, { ...spec, required: spec.required === true }]),
        ),
      });
      listed++;
    }
    assertEquals(listed, Object.values(names).flat().length);
    // A schema spelled out: the filter's condition is a required expression.
    const filter = (r.body.transform as { type: string; config: Record<string, unknown> }[])
      .find((k) => k.type === "filter")!;
    assertEquals(filter.config.condition, {
      type: "string",
      required: true,
      expression: true,
      label: "Condition",
    });
  });
});

Deno.test("execute starts the latest version even when another node changed or deleted it behind this one", async () => {
  await withNode(async (node) => {
    const v1 = chain(
      "wf-behind",
      n("src", "source/memory.collection", { data: [1] }),
      n("out", "sink/memory.collect"),
    );
    await createWorkflow(node, v1);
    const first = await executeAndWait(node, "wf-behind");
    assertEquals([first.body.version, await nodeOutput(node, first.body.executionId, "out")], [1, [1]]);
    // Version 2 written straight to storage, as another member of the cluster would: this node's API never
    // saw the update, and its cached version 1 must not be started.
    const v2 = chain(
      "wf-behind",
      n("src", "source/memory.collection", { data: [2] }),
      n("out", "sink/memory.collect"),
    );
    const checked = checkWorkflow(v2);
    assert(checked.ok);
    const put = await node.storage.putWorkflow(checked.value.definition, checked.value.hash, 1, Date.now());
    assert(put.ok);
    const second = await executeAndWait(node, "wf-behind");
    assertEquals([second.body.version, await nodeOutput(node, second.body.executionId, "out")], [2, [2]]);
    assert(await node.storage.deleteWorkflow("wf-behind", Date.now()));
    assertApiError(await execute(node, "wf-behind"), 404, "workflow_not_found");
  });
});
