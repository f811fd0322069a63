import { assertEquals } from "../testing/assert.ts";
import { validateWorkflow } from "./validate.ts";
import { dummyUrl, httpTemplateProblems, MAX_TEMPLATE_PROBLEMS } from "./http_placeholders.ts";

/** The `code path` of each problem of a workflow holding one http node with `config`. */
function problems(config: Record<string, unknown>): string[] {
  const result = validateWorkflow({
    id: "w",
    name: "w",
    nodes: [{ id: "call", type: "control", nodeType: "http", config }],
    edges: [],
  });
  return result.ok ? [] : result.problems.map((p) => `${p.code} ${p.path}`);
}

Deno.test("http validation: templated URLs, headers and bodies with known roots pass", () => {
  for (
    const config of [
      {
        url: "https://api.example.com/customers/{{input.customer.id}}/items/{{record.id}}?q={{records.0.q}}",
      },
      { url: "https://{{input.region}}.example.com/{{executionId}}/{{nodeId}}" },
      { url: "http://example.com:{{input.port}}/" },
      { url: "https://x.test/", headers: { Authorization: "Bearer {{input.token}}", "X-N": 3 } },
      { url: "https://x.test/", method: "POST", body: { a: ["{{record}}", { b: "n {{ input.n }}" }], c: 1 } },
      { url: "https://x.test/", method: "POST", body: '{"id": {{record.id}}}', perRecord: true },
      { url: "https://x.test/", method: "POST", body: "{{not a placeholder}} {{}}" },
      { url: "https://x.test/", perRecord: true, concurrency: 32, maxCalls: 10000, idempotent: true },
    ]
  ) assertEquals(problems(config), [], JSON.stringify(config));
});

Deno.test("http validation: unknown roots and unparseable templated URLs, each at its path", () => {
  assertEquals(problems({ url: "https://x.test/{{customer.id}}" }), ["config_range $.nodes[0].config.url"]);
  assertEquals(problems({ url: "{{input.url}}" }), ["config_type $.nodes[0].config.url"]);
  assertEquals(problems({ url: "ftp://x.test/{{input.a}}" }), ["config_type $.nodes[0].config.url"]);
  assertEquals(problems({ url: "https://x.test/", headers: { "X-Id": "id-{{rec.id}}" } }), [
    "config_range $.nodes[0].config.headers.X-Id",
  ]);
  assertEquals(
    problems({
      url: "https://x.test/",
      method: "POST",
      body: { items: ["ok {{record}}", { deep: "{{row}}" }] },
    }),
    ["config_range $.nodes[0].config.body.items[1].deep"],
  );
  assertEquals(problems({ url: "https://x.test/", method: "POST", body: "x {{Input}}" }), [
    "config_range $.nodes[0].config.body",
  ]);
});

Deno.test("http validation: perRecord, concurrency, maxCalls and idempotent are checked", () => {
  assertEquals(problems({ url: "https://x.test/", concurrency: 0 }), [
    "config_range $.nodes[0].config.concurrency",
  ]);
  assertEquals(problems({ url: "https://x.test/", concurrency: 33 }), [
    "config_range $.nodes[0].config.concurrency",
  ]);
  assertEquals(problems({ url: "https://x.test/", concurrency: 2.5 }), [
    "config_type $.nodes[0].config.concurrency",
  ]);
  assertEquals(problems({ url: "https://x.test/", maxCalls: 10001 }), [
    "config_range $.nodes[0].config.maxCalls",
  ]);
  assertEquals(problems({ url: "https://x.test/", maxCalls: 0 }), [
    "config_range $.nodes[0].config.maxCalls",
  ]);
  assertEquals(problems({ url: "https://x.test/", perRecord: "yes" }), [
    "config_type $.nodes[0].config.perRecord",
  ]);
  assertEquals(problems({ url: "https://x.test/", idempotent: 1 }), [
    "config_type $.nodes[0].config.idempotent",
  ]);
  const result = validateWorkflow({
    id: "w",
    name: "w",
    nodes: [{
      id: "call",
      type: "control",
      nodeType: "http",
      config: { url: "https://x.test/", concurrency: "8" },
    }],
    edges: [],
  });
  assertEquals(
    result.ok ? result.workflow.nodes[0].config : undefined,
    {
      url: "https://x.test/",
      concurrency: 8,
      method: "GET",
      headers: {},
      timeoutMs: 10000,
      perRecord: false,
      maxCalls: 1000,
      idempotent: false,
    },
  );
});

Deno.test("http validation: problems are bounded; a deep body is walked without recursion", () => {
  const body = Array.from({ length: 100 }, (_, i) => `{{bad${i}}}`);
  assertEquals(httpTemplateProblems({ body }, "$").length, MAX_TEMPLATE_PROBLEMS);
  let deep: unknown = "{{nope}}";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const found = httpTemplateProblems({ body: deep }, "$");
  assertEquals(found.length, 1);
  assertEquals(found[0].path.length, "$.body".length + 3 * 100_000);
  assertEquals(dummyUrl("https://{{a}}.{{b}}.test/"), "https://x.x.test/");
});
