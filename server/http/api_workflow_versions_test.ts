/**
 * A workflow's versions over real HTTP: the version list, one version's definition, the diff of two versions,
 * and execute of a named version (`?version=` or the body's `version`), its idempotency, and the execute body's
 * unknown keys.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  getJson,
  n,
  nodeOutput,
  postJson,
  putJson,
  withNode,
} from "../../testing/server.ts";
import { request } from "../../testing/http.ts";

/** Version 1: numbers 1..3 collected. */
const V1 = chain("pinned", n("src", "source/sequence.numbers", { end: 3 }), n("out", "sink/memory.collect"));

/** Version 2: numbers 1..5, doubled, collected (a node added, a config changed, the edges moved). */
const V2 = {
  ...chain(
    "pinned",
    n("src", "source/sequence.numbers", { end: 5 }),
    n("double", "transform/map", { expression: "value * 2" }),
    n("out", "sink/memory.collect"),
  ),
  name: "Pinned, doubled",
  timeoutMs: 60_000,
};

/** Version 3: the sink replaced. */
const V3 = chain("pinned", n("src", "source/sequence.numbers", { end: 5 }), n("print", "sink/console.log"));

/** Creates `pinned` and updates it to versions 2 and 3. */
async function threeVersions(node: { url: string }): Promise<void> {
  await createWorkflow(node, V1);
  for (const [def, version] of [[V2, 2], [V3, 3]] as const) {
    const r = await putJson(node, "/api/v1/workflows/pinned", def);
    assertEquals([r.status, r.body.version], [200, version], r.text);
  }
}

Deno.test("GET /versions lists every version newest first, paged; a deleted workflow's too", async () => {
  await withNode(async (node) => {
    await threeVersions(node);
    const all = await getJson(node, "/api/v1/workflows/pinned/versions");
    assertEquals(all.status, 200, all.text);
    assertEquals(all.headers.get("x-next-cursor"), null);
    assertEquals(
      all.body.map((v: Record<string, unknown>) => [v.version, v.name, v.nodeCount, v.edgeCount]),
      [[3, "test pinned", 2, 1], [2, "Pinned, doubled", 3, 2], [1, "test pinned", 2, 1]],
    );
    assertEquals(Object.keys(all.body[0]).sort(), [
      "createdAt",
      "edgeCount",
      "hash",
      "name",
      "nodeCount",
      "version",
    ]);
    assert(
      all.body.every((v: { hash: string; createdAt: number }) =>
        /^[0-9a-f]+$/.test(v.hash) && v.createdAt > 0
      ),
    );
    assertEquals(
      new Set(all.body.map((v: { hash: string }) => v.hash)).size,
      3,
      "three definitions, three hashes",
    );

    // Pages of 2: the cursor headers, then the last page.
    const first = await getJson(node, "/api/v1/workflows/pinned/versions?limit=2");
    assertEquals(first.body.map((v: { version: number }) => v.version), [3, 2]);
    const cursor = first.headers.get("x-next-cursor");
    assert(cursor !== null, first.text);
    assertEquals(
      first.headers.get("link"),
      `</api/v1/workflows/pinned/versions?limit=2&cursor=${cursor}>; rel="next"`,
    );
    const second = await getJson(node, `/api/v1/workflows/pinned/versions?limit=2&cursor=${cursor}`);
    assertEquals([
      second.body.map((v: { version: number }) => v.version),
      second.headers.get("x-next-cursor"),
    ], [
      [1],
      null,
    ]);

    // Deleted: still listed (its executions may name any version); a later POST goes on counting.
    assertEquals((await request(node, "DELETE", "/api/v1/workflows/pinned")).status, 200);
    const deleted = await getJson(node, "/api/v1/workflows/pinned/versions");
    assertEquals([deleted.status, deleted.body.length], [200, 3], deleted.text);
    await createWorkflow(node, V1);
    const again = await getJson(node, "/api/v1/workflows/pinned/versions?limit=1");
    assertEquals([again.body[0].version, again.body[0].hash], [4, all.body[2].hash], "v4 is v1's definition");

    assertApiError(await getJson(node, "/api/v1/workflows/nope/versions"), 404, "workflow_not_found");
    for (const [query, path] of [["limit=0", "?limit"], ["limit=501", "?limit"], ["cursor=x", "?cursor"]]) {
      const bad = await getJson(node, `/api/v1/workflows/pinned/versions?${query}`);
      assertApiError(bad, 400, "invalid_parameter");
      assertEquals(bad.body.error.details[0].path, path, bad.text);
    }
  });
});

Deno.test("GET /versions/{n} is version n's definition, credentials hidden as GET ?version=n hides them", async () => {
  await withNode(
    async (node) => {
      const secretName = "postgres://app:name-s3cret@db/app";
      const def = {
        ...chain(
          "creds",
          n("h", "control/http", {
            url: "https://api.example/v1",
            headers: { Authorization: "Bearer tok-s3cret" },
          }),
          n("log", "sink/console.log"),
        ),
        name: secretName,
      };
      await createWorkflow(node, def);
      const changed = structuredClone(def);
      changed.nodes[1].config = { limit: 5 };
      // The *** sent back keeps the stored credential.
      changed.nodes[0].config = { ...changed.nodes[0].config, headers: { Authorization: "***" } };
      assertEquals((await putJson(node, "/api/v1/workflows/creds", changed)).body.version, 2);

      for (const version of [1, 2]) {
        const got = await getJson(node, `/api/v1/workflows/creds/versions/${version}`);
        assertEquals(got.status, 200, got.text);
        assertEquals(got.headers.get("x-workflow-version"), String(version));
        const viaQuery = await getJson(node, `/api/v1/workflows/creds?version=${version}`);
        assertEquals(got.body, viaQuery.body);
        assertEquals(got.body.nodes[0].config.headers, { Authorization: "***" });
        assert(!got.text.includes("s3cret"), got.text);
      }
      assertEquals((await getJson(node, "/api/v1/workflows/creds/versions/2")).body.nodes[1].config, {
        limit: 5,
      });
      const listed = await getJson(node, "/api/v1/workflows/creds/versions");
      assertEquals(listed.body[0].name, "postgres://app:***@db/app");
      assert(!listed.text.includes("s3cret"), listed.text);

      const head = await request(node, "HEAD", "/api/v1/workflows/creds/versions/1");
      assertEquals([head.status, head.headers.get("x-workflow-version")], [200, "1"]);

      for (const bad of ["0", "x", "1.5", "-1", "99999999999"]) {
        const r = await getJson(node, `/api/v1/workflows/creds/versions/${bad}`);
        assertApiError(r, 400, "invalid_parameter");
        assertEquals(r.body.error.details[0].path, "path.version");
      }
      const missing = await getJson(node, "/api/v1/workflows/creds/versions/3");
      assertApiError(missing, 404, "version_not_found");
      assertEquals(missing.body.error.details, [{ path: "path.version", message: "no version 3" }]);
      assertApiError(await getJson(node, "/api/v1/workflows/nope/versions/1"), 404, "workflow_not_found");

      // A deleted workflow's versions stay readable.
      await request(node, "DELETE", "/api/v1/workflows/creds");
      assertEquals((await getJson(node, "/api/v1/workflows/creds/versions/1")).status, 200);
    },
    {},
    { allowInlineConnections: true },
  );
});

Deno.test("GET /diff?from=&to= names the nodes, edges and fields that changed", async () => {
  await withNode(async (node) => {
    await threeVersions(node);
    const d = await getJson(node, "/api/v1/workflows/pinned/diff?from=1&to=2");
    assertEquals(d.status, 200, d.text);
    assertEquals(d.body, {
      workflowId: "pinned",
      from: 1,
      to: 2,
      nodes: { added: ["double"], removed: [], changed: [{ id: "src", fields: ["config"] }] },
      edges: {
        added: [{ source: "src", target: "double" }, { source: "double", target: "out" }],
        removed: [{ source: "src", target: "out" }],
        changed: [],
      },
      fields: ["name", "timeoutMs"],
    });
    // The other way round: added and removed swap.
    const back = await getJson(node, "/api/v1/workflows/pinned/diff?from=2&to=1");
    assertEquals([back.body.nodes.added, back.body.nodes.removed], [[], ["double"]]);
    assertEquals(back.body.edges.removed.length, 2);
    const replaced = await getJson(node, "/api/v1/workflows/pinned/diff?from=2&to=3");
    assertEquals(replaced.body.nodes, { added: ["print"], removed: ["double", "out"], changed: [] });
    const same = await getJson(node, "/api/v1/workflows/pinned/diff?from=3&to=3");
    assertEquals([same.body.nodes.changed, same.body.edges.added, same.body.fields], [[], [], []]);

    for (
      const [query, path] of [["to=2", "?from"], ["from=1", "?to"], ["from=1&to=x", "?to"], [
        "from=0&to=1",
        "?from",
      ]]
    ) {
      const bad = await getJson(node, `/api/v1/workflows/pinned/diff?${query}`);
      assertApiError(bad, 400, "invalid_parameter");
      assertEquals(bad.body.error.details[0].path, path, bad.text);
    }
    const missing = await getJson(node, "/api/v1/workflows/pinned/diff?from=1&to=7");
    assertApiError(missing, 404, "version_not_found");
    assertEquals(missing.body.error.details[0].path, "?to");
    assertApiError(await getJson(node, "/api/v1/workflows/nope/diff?from=1&to=2"), 404, "workflow_not_found");
  });
});

Deno.test("execute a named version: pinned to version 1 after a PUT made version 2, by query or body", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, V1);
    const latestFirst = await postJson(node, "/api/v1/workflows/pinned/execute?wait=10000", {});
    assertEquals(latestFirst.body.version, 1, "cached as the latest");
    assertEquals((await putJson(node, "/api/v1/workflows/pinned", V2)).body.version, 2);

    for (
      const [path, body] of [["?version=1&wait=10000", {}], ["?wait=10000", { version: 1 }], [
        "?version=1&wait=10000",
        { version: 1, input: { n: 1 } },
      ]] as const
    ) {
      const r = await postJson(node, `/api/v1/workflows/pinned/execute${path}`, body);
      assertEquals([r.status, r.body.status, r.body.version], [200, "completed", 1], r.text);
      assertEquals(
        r.body.nodes.map((x: { nodeId: string }) => x.nodeId),
        ["src", "out"],
        "version 1's nodes",
      );
      assertEquals(await nodeOutput(node, r.body.executionId, "out"), [1, 2, 3]);
      const view = await getJson(node, `/api/v1/executions/${r.body.executionId}`);
      assertEquals([view.body.version, view.body.workflowId], [1, "pinned"]);
    }
    // Without a version: the latest, 2.
    const latest = await postJson(node, "/api/v1/workflows/pinned/execute?wait=10000", {});
    assertEquals([latest.body.version, latest.body.nodes.length], [2, 3], latest.text);
    assertEquals(await nodeOutput(node, latest.body.executionId, "out"), [2, 4, 6, 8, 10]);
    // Pinned to the latest is fine too; a 202 says the version.
    const started = await postJson(node, "/api/v1/workflows/pinned/execute?version=2", {});
    assertEquals([started.status, started.body.version], [202, 2], started.text);

    const unknown = await postJson(node, "/api/v1/workflows/pinned/execute?version=3", {});
    assertApiError(unknown, 404, "version_not_found");
    assertEquals(unknown.body.error.details[0].path, "?version");
    const unknownBody = await postJson(node, "/api/v1/workflows/pinned/execute", { version: 9 });
    assertApiError(unknownBody, 404, "version_not_found");
    assertEquals(unknownBody.body.error.details[0].path, "$.version");
    assertApiError(
      await postJson(node, "/api/v1/workflows/nope/execute?version=1", {}),
      404,
      "workflow_not_found",
    );

    const both = await postJson(node, "/api/v1/workflows/pinned/execute?version=1", { version: 2 });
    assertApiError(both, 400, "validation_failed");
    assertEquals(both.body.error.details.map((x: { path: string }) => x.path), ["$.version", "?version"]);
    for (const bad of ["0", "x", "1.5"]) {
      const r = await postJson(node, `/api/v1/workflows/pinned/execute?version=${bad}`, {});
      assertApiError(r, 400, "invalid_parameter");
      assertEquals(r.body.error.details[0].path, "?version");
    }
    for (const bad of ["1", 0, 1.5, null, -2, 2 ** 31]) {
      const r = await postJson(node, "/api/v1/workflows/pinned/execute", { version: bad });
      assertApiError(r, 400, "validation_failed");
      assertEquals(r.body.error.details[0].path, "$.version", r.text);
    }

    // A deleted workflow runs no version, named or not.
    await request(node, "DELETE", "/api/v1/workflows/pinned");
    assertApiError(
      await postJson(node, "/api/v1/workflows/pinned/execute?version=1", {}),
      404,
      "workflow_not_found",
    );
  });
});

Deno.test("execute: the Idempotency-Key's request includes the version", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, V1);
    await putJson(node, "/api/v1/workflows/pinned", V2);
    const key = { "idempotency-key": "pin-1" };
    const first = await postJson(node, "/api/v1/workflows/pinned/execute?version=1", { input: 1 }, key);
    assertEquals([first.status, first.body.version], [202, 1], first.text);
    // The same version, by query or body: a replay of the same execution.
    for (const [path, body] of [["?version=1", { input: 1 }], ["", { input: 1, version: 1 }]] as const) {
      const again = await postJson(node, `/api/v1/workflows/pinned/execute${path}`, body, key);
      assertEquals([again.status, again.body.executionId, again.body.version], [
        202,
        first.body.executionId,
        1,
      ]);
      assertEquals(again.headers.get("idempotent-replayed"), "true");
    }
    // Another version, or none (the latest): another request.
    for (const path of ["?version=2", ""]) {
      const other = await postJson(node, `/api/v1/workflows/pinned/execute${path}`, { input: 1 }, key);
      assertApiError(other, 422, "idempotency_mismatch");
      assertEquals(other.body.error.details[0].path, "headers.Idempotency-Key");
    }
    // Without a version, a key keeps working as before.
    const plain = { "idempotency-key": "plain-1" };
    const a = await postJson(node, "/api/v1/workflows/pinned/execute", { input: 2 }, plain);
    const b = await postJson(node, "/api/v1/workflows/pinned/execute", { input: 2 }, plain);
    assertEquals([a.body.version, b.body.executionId, b.headers.get("idempotent-replayed")], [
      2,
      a.body.executionId,
      "true",
    ]);
  });
});

Deno.test("execute: a body key the API does not know is 400 validation_failed at $.<key>, never ignored", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, V1);
    const typo = await postJson(node, "/api/v1/workflows/pinned/execute", { input: 1, verison: 1 });
    assertApiError(typo, 400, "validation_failed");
    assertEquals(typo.body.error.details, [{
      path: "$.verison",
      code: "unknown_field",
      message: "unknown field",
    }]);

    const several = await postJson(node, "/api/v1/workflows/pinned/execute", {
      inputs: 1,
      "a b": 2,
      timeout: 5,
      idempotencyKey: "k",
    });
    assertApiError(several, 400, "validation_failed");
    assertEquals(several.body.error.details.map((x: { path: string }) => x.path), [
      "$.inputs",
      '$["a b"]',
      "$.timeout",
      "$.idempotencyKey",
    ]);
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    const bounded = await postJson(node, "/api/v1/workflows/pinned/execute", many);
    assertEquals([bounded.body.error.details.length, bounded.body.error.message.includes("50")], [20, true]);

    // Nothing was started by the refused requests; the known keys still work, and an empty body is {}.
    const listed = await getJson(node, "/api/v1/workflows/pinned/executions");
    assertEquals(listed.body, []);
    const ok = await postJson(node, "/api/v1/workflows/pinned/execute?wait=10000", {
      input: { n: 1 },
      timeoutMs: 60_000,
      version: 1,
    });
    assertEquals([ok.status, ok.body.status], [200, "completed"], ok.text);
    const empty = await request(node, "POST", "/api/v1/workflows/pinned/execute", { raw: "" });
    assertEquals(empty.status, 202, empty.text);
    assertApiError(await postJson(node, "/api/v1/workflows/pinned/execute", [1]), 400, "validation_failed");
  });
});
