/**
 * The OpenAPI document (`GET /api/v1/openapi.json`): valid OpenAPI 3.1 by a validator of the specification's
 * own JSON Schemas (`@seriousme/openapi-schema-validator`), the same set of routes as the router (every route in
 * it, every operation a route: the router's routes are all documented, `/health…` and `/metrics` included;
 * the web console, served before the router, is not a route and is not documented), open to callers without a
 * token, its query bounds the ones enforced, and real responses valid against their documented schemas (ajv,
 * JSON Schema 2020-12).
 */
import { Validator } from "npm:@seriousme/openapi-schema-validator@2.11.0";
import { Ajv2020 } from "npm:ajv@8.20.0/dist/2020.js";
import { assert, assertEquals } from "../../testing/assert.ts";
import type { Reply } from "../../testing/http.ts";
import { request } from "../../testing/http.ts";
import { assertApiError, createWorkflow, postJson, sampleWorkflow, withNode } from "../../testing/server.ts";
import { type ApiDeps, apiRouter } from "./api.ts";
import { errorResponse } from "./errors.ts";
import { ApiError } from "./errors.ts";
import { OPENAPI_PATH } from "./openapi.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

const ADMIN = "admin-token-0123456789abcdef";

/** The router of the API over stand-ins (building the routes reads none of them but these). */
function routerOverStandIns() {
  const deps = {
    engine: {},
    workflows: {},
    storage: {},
    log: {},
    routing: {},
    cluster: { opts: { nodeId: "n1" } },
    metrics: () => Promise.resolve({ contentType: "text/plain", text: "" }),
  } as unknown as ApiDeps;
  return apiRouter(deps);
}

/** The document a router serves. */
async function documentOf(router: ReturnType<typeof apiRouter>): Promise<Doc> {
  const answer = router.handler({ onError: (_req, _url, err) => errorResponse(err as ApiError) });
  const res = await answer(new Request(`http://x${OPENAPI_PATH}`));
  assertEquals(res.status, 200);
  return await res.json();
}

/** `/a/:b` as OpenAPI writes it: `/a/{b}`. */
function openApiPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** Checks a value against a schema of the document (its `$ref`s into the document's components resolved). */
function conforms(doc: Doc, schema: unknown, value: unknown, what: string): void {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const check = ajv.compile({ ...(schema as object), components: doc.components });
  assert(check(value), `${what}: ${JSON.stringify(check.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
}

/** The documented schema of a response (`default`, the Error, for a status not listed). */
function responseSchema(doc: Doc, path: string, method: string, status: number): unknown {
  const op = doc.paths[path]?.[method];
  assert(op !== undefined, `${method} ${path} is documented`);
  const r = op.responses[String(status)] ?? op.responses.default;
  return r.content?.["application/json"]?.schema;
}

/** Checks a reply against its route's documented response. */
function replyConforms(doc: Doc, path: string, method: string, reply: Reply): void {
  const schema = responseSchema(doc, path, method, reply.status);
  assert(schema !== undefined, `${method} ${path} ${reply.status} documents a JSON body`);
  conforms(doc, schema, reply.body, `${method} ${path} ${reply.status}`);
}

Deno.test("openapi: the served document is valid OpenAPI 3.1, and the validator does refuse a broken one", async () => {
  await withNode(async (node) => {
    const reply = await request(node, "GET", OPENAPI_PATH);
    assertEquals(reply.status, 200);
    assert(reply.headers.get("content-type")?.startsWith("application/json"));
    const doc = reply.body;
    assertEquals(doc.openapi, "3.1.1");
    const validator = new Validator();
    const result = await validator.validate(doc);
    assertEquals(validator.version, "3.1");
    assert(result.valid, JSON.stringify(result.errors));
    const broken = structuredClone(doc);
    broken.paths["/api/v1/workflows"].post.responses = { 200: { content: {} } }; // a response needs a description
    assertEquals((await new Validator().validate(broken)).valid, false);
    // Without tokens the document names no security scheme.
    assertEquals(doc.components.securitySchemes, undefined);
  });
});

Deno.test("openapi: every route the router knows is in the document, and every operation is a route", async () => {
  const router = routerOverStandIns();
  const routes = router.routes();
  const doc = await documentOf(router);
  const operationIds = new Set<string>();
  for (const route of routes) {
    assert(route.spec !== undefined, `${route.method} ${route.pattern} has a spec`);
    const op = doc.paths[openApiPath(route.pattern)]?.[route.method.toLowerCase()];
    assert(op !== undefined, `${route.method} ${route.pattern} is in the document`);
    assertEquals(op.operationId, route.spec.operationId);
    assert(!operationIds.has(op.operationId), `operationId ${op.operationId} is unique`);
    operationIds.add(op.operationId);
  }
  let operations = 0;
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item)) {
      operations++;
      // The router matches the documented path (its parameters filled) to the route of that pattern.
      const url = new URL(`http://x${path.replace(/\{[^}]+\}/g, "p-1")}`);
      const found = router.match(method.toUpperCase(), url);
      assertEquals(openApiPath(found.pattern), path, `${method} ${path}`);
    }
  }
  assertEquals(operations, routes.length);
  // The rule for what is outside /api: the router's probes and metrics are documented, the console is not.
  assert(doc.paths["/health"]?.get && doc.paths["/metrics"]?.get);
  assert(Object.keys(doc.paths).every((p) => p.startsWith("/api/") || /^\/(health|metrics)/.test(p)));
  // A real node serves the same paths.
  await withNode(async (node) => {
    const served = (await request(node, "GET", OPENAPI_PATH)).body;
    assertEquals(Object.keys(served.paths).sort(), Object.keys(doc.paths).sort());
  });
});

Deno.test("openapi: public on a node with tokens, which documents the bearer scheme and each route's role", async () => {
  await withNode(
    async (node) => {
      const reply = await request(node, "GET", OPENAPI_PATH); // no token
      assertEquals(reply.status, 200, reply.text);
      const doc = reply.body;
      assertEquals(doc.components.securitySchemes.bearerAuth, {
        type: "http",
        scheme: "bearer",
        description: "An API token: `Authorization: Bearer <token>`.",
      });
      const tokens = doc.paths["/api/v1/tokens"].get;
      assertEquals([tokens.security, tokens["x-required-role"]], [[{ bearerAuth: [] }], "admin"]);
      const execute = doc.paths["/api/v1/workflows/{id}/execute"].post;
      assertEquals(execute["x-required-role"], "operator");
      const self = doc.paths[OPENAPI_PATH].get;
      assertEquals([self.security, self["x-required-role"]], [[], null]);
      assert((await new Validator().validate(doc)).valid);
      assertApiError(await request(node, "GET", "/api/v1/workflows"), 401, "unauthenticated");
    },
    {},
    { apiTokens: [{ role: "admin", token: ADMIN }] },
  );
});

Deno.test("openapi: a parameter fault answers 400 at its path, at the bound the document states", async () => {
  await withNode(async (node) => {
    const doc = (await request(node, "GET", OPENAPI_PATH)).body;
    const limit = doc.paths["/api/v1/workflows"].get.parameters.find((p: { name: string }) =>
      p.name === "limit"
    );
    assertEquals([limit.in, limit.schema.minimum, limit.schema.maximum], ["query", 1, 500]);
    assertEquals((await request(node, "GET", `/api/v1/workflows?limit=${limit.schema.maximum}`)).status, 200);
    const over = await request(node, "GET", `/api/v1/workflows?limit=${limit.schema.maximum + 1}`);
    assertApiError(over, 400, "invalid_parameter");
    assertEquals(over.body.error.message, "limit must be an integer from 1 to 500");
    assertEquals(over.body.error.details, [{ path: "?limit", message: 'got "501"' }]);
    const notInteger = await request(node, "GET", "/api/v1/executions/e1/events?after=1.5");
    assertApiError(notInteger, 400, "invalid_parameter");
    assertEquals(notInteger.body.error.details[0].path, "?after");
    const status = await request(node, "GET", "/api/v1/executions?status=begun");
    assertEquals([status.status, status.body.error.details[0].path], [400, "?status"]);
    const version = await request(node, "GET", "/api/v1/workflows/w/versions/0");
    assertApiError(version, 400, "invalid_parameter");
    assertEquals(version.body.error.details[0].path, "path.version");
    const missing = await request(node, "GET", "/api/v1/workflows/w/diff?from=1");
    assertEquals([missing.status, missing.body.error.details], [400, [{ path: "?to", message: "missing" }]]);
    const key = await postJson(node, "/api/v1/workflows/w/execute", {}, {
      "idempotency-key": "k".repeat(256),
    });
    assertApiError(key, 400, "invalid_header");
    assertEquals(key.body.error.details, [{ path: "headers.Idempotency-Key", message: "length 256" }]);
    // Every answer above is an error the document describes.
    replyConforms(doc, "/api/v1/workflows", "get", over);
    replyConforms(doc, "/api/v1/workflows/{id}/execute", "post", key);
  });
});

Deno.test("openapi: real responses match their documented schemas", async () => {
  await withNode(async (node) => {
    const doc = (await request(node, "GET", OPENAPI_PATH)).body;
    const definition = sampleWorkflow("oa-1");
    conforms(
      doc,
      doc.paths["/api/v1/workflows"].post.requestBody.content["application/json"].schema,
      definition,
      "body",
    );
    const created = await createWorkflow(node, definition);
    assertEquals(created.status, 201, created.text);
    replyConforms(doc, "/api/v1/workflows", "post", created);
    const again = await postJson(node, "/api/v1/workflows", definition);
    assertEquals(again.status, 200, again.text); // unchanged
    replyConforms(doc, "/api/v1/workflows", "post", again);
    const started = await postJson(node, "/api/v1/workflows/oa-1/execute", { input: { n: 1 } });
    assertEquals(started.status, 202, started.text);
    replyConforms(doc, "/api/v1/workflows/{id}/execute", "post", started);
    const ended = await postJson(node, "/api/v1/workflows/oa-1/execute?wait=10000", {});
    assertEquals(ended.status, 200, ended.text);
    replyConforms(doc, "/api/v1/workflows/{id}/execute", "post", ended);
    const compact = await postJson(node, "/api/v1/workflows/oa-1/execute?view=id", {});
    replyConforms(doc, "/api/v1/workflows/{id}/execute", "post", compact);
    const id = started.body.executionId;
    const view = await request(node, "GET", `/api/v1/executions/${id}`);
    assertEquals(view.status, 200);
    replyConforms(doc, "/api/v1/executions/{executionId}", "get", view);
    const check = new Ajv2020({ strict: false }).compile({
      ...responseSchema(doc, "/api/v1/executions/{executionId}", "get", 200) as object,
      components: doc.components,
    });
    assertEquals(check({ ...view.body, status: "bogus" }), false, "the check can fail");
    const batch = await postJson(node, "/api/v1/workflows/oa-1/execute/batch", {
      items: [{}, { timeoutMs: -1 }],
    });
    assertEquals([batch.status, batch.body.failed], [200, 1]);
    replyConforms(doc, "/api/v1/workflows/{id}/execute/batch", "post", batch);
    const gone = await request(node, "GET", "/api/v1/executions/no-such");
    assertApiError(gone, 404, "execution_not_found");
    replyConforms(doc, "/api/v1/executions/{executionId}", "get", gone);
    const invalid = await postJson(node, "/api/v1/workflows", { id: "x", name: "x", nodes: [], edges: [] });
    assertApiError(invalid, 400, "validation_failed");
    replyConforms(doc, "/api/v1/workflows", "post", invalid);
    // Every read without parameters, as it answers now.
    const reads = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path, item]) => item.get !== undefined && !path.includes("{") && path !== "/metrics");
    assert(reads.length >= 15, `${reads.length} reads`);
    for (const [path] of reads) replyConforms(doc, path, "get", await request(node, "GET", path));
    for (
      const path of [
        "/api/v1/workflows/oa-1",
        "/api/v1/workflows/oa-1/versions",
        "/api/v1/workflows/oa-1/status",
        "/api/v1/workflows/oa-1/executions",
        `/api/history/oa-1`,
        `/api/history/oa-1/execution/${id}`,
      ]
    ) {
      const templated = Object.keys(doc.paths).find((p) =>
        new RegExp(`^${p.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path)
      )!;
      const reply = await request(node, "GET", path);
      assertEquals(reply.status, 200, `${path}: ${reply.text}`);
      replyConforms(doc, templated, "get", reply);
    }
  });
});

Deno.test("openapi: a body the route's schema refuses is refused in the route's own words", async () => {
  await withNode(async (node) => {
    // The workflow schema refuses a number; the full validation words it (its problem code at `$`).
    const notObject = await postJson(node, "/api/v1/workflows", 5);
    assertApiError(notObject, 400, "validation_failed");
    assertEquals(notObject.body.error.details.map((d: { path: string; code: string }) => [d.path, d.code]), [
      ["$", "type"],
    ]);
    // A steering body's unknown key: one detail per key, as before.
    const pause = await postJson(node, "/api/v1/executions/e1/pause", { reason: "r", why: 1 });
    assertApiError(pause, 400, "validation_failed");
    assertEquals(pause.body.error.details, [{
      path: "$.why",
      code: "unknown_field",
      message: "unknown field",
    }]);
  });
});
