import { assert, assertEquals } from "../testing/assert.ts";
import {
  firstSecretRef,
  isSecretRef,
  MAX_SECRET_REF_PROBLEMS,
  secretNames,
  secretRefProblems,
} from "./secret_ref.ts";
import { validateWorkflow } from "./validate.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

function http(config: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { id: "h", type: "control", nodeType: "http", config, ...extra };
}

function workflow(...nodes: Record<string, unknown>[]) {
  return { id: "wf", name: "wf", nodes, edges: [] };
}

function problemsOf(input: unknown): { path: string; code: string; message: string }[] {
  const r = validateWorkflow(input);
  return r.ok ? [] : r.problems;
}

Deno.test("secret refs: exactly one key, $secret, naming 1 to 64 of A-Z 0-9 _", () => {
  for (const ok of [{ $secret: "A" }, { $secret: "API_TOKEN_2" }, { $secret: "X".repeat(64) }]) {
    assert(isSecretRef(ok), JSON.stringify(ok));
  }
  for (
    const bad of [
      { $secret: "" },
      { $secret: "lower" },
      { $secret: "A-B" },
      { $secret: "X".repeat(65) },
      { $secret: 5 },
      { $secret: null },
      { $secret: "A", extra: 1 },
      ["$secret", "A"],
      "A",
      null,
    ]
  ) {
    assert(!isSecretRef(bad), JSON.stringify(bad));
  }
});

Deno.test("secret refs: malformed ones are problems at the path of the fault, never echoing a value", () => {
  const config = {
    headers: { Authorization: { $secret: 5 } },
    body: { items: [{ ok: { $secret: "GOOD" } }, { $secret: "hunter2-not-a-name" }] },
    other: { $secret: "A", also: true },
  };
  const problems = secretRefProblems(config, "$.nodes[0].config");
  assertEquals(problems.map((p) => `${p.code} ${p.path}`), [
    "secret_ref $.nodes[0].config.headers.Authorization",
    "secret_ref $.nodes[0].config.body.items[1]",
    "secret_ref $.nodes[0].config.other",
  ]);
  assert(problems[0].message.includes("a number"), problems[0].message);
  assert(!problems[1].message.includes("hunter2"), "a bad name is not shown: it may be the value");
  assert(problems[2].message.includes('"also"'), problems[2].message);
  const many = Array.from({ length: 50 }, () => ({ $secret: 1 }));
  assertEquals(secretRefProblems(many, "$").length, MAX_SECRET_REF_PROBLEMS);
});

Deno.test("secret refs: found and named anywhere, without recursion (20,000 levels deep)", () => {
  let deep: unknown = { $secret: "DEEP" };
  for (let i = 0; i < 20_000; i++) deep = [deep];
  assertEquals(secretNames({ a: deep, b: { $secret: "DEEP" }, c: { $secret: "B" } }), ["DEEP", "B"]);
  assertEquals(firstSecretRef({ a: [1, { x: { $secret: "X" } }] }, "$.c"), "$.c.a[1].x");
  assertEquals(firstSecretRef({ a: "no" }, "$"), undefined);
  let bad: unknown = { $secret: 1 };
  for (let i = 0; i < 20_000; i++) bad = { a: bad };
  assertEquals(secretRefProblems(bad, "$").length, 1);
});

Deno.test("validation: a ref stands where a free string may (url, a header, body, sql params)", () => {
  const r = validateWorkflow(workflow(
    http({
      url: { $secret: "API_URL" },
      headers: { Authorization: { $secret: "API_TOKEN" } },
      method: "POST",
      body: { password: { $secret: "PW" } },
    }),
    {
      id: "q",
      type: "source",
      nodeType: "sql.query",
      config: { sql: "select $1", params: [{ $secret: "P" }], connectionUrl: { $secret: "PG_URL" } },
    },
  ));
  assert(r.ok, JSON.stringify(r));
  const config = (r.workflow.nodes[0] as Loose).config;
  assertEquals(config.url, { $secret: "API_URL" }, "the definition keeps the reference");
  assertEquals(config.headers.Authorization, { $secret: "API_TOKEN" });
});

Deno.test("validation: a ref is refused where a number, enum or the engine itself reads the value", () => {
  const problems = problemsOf(workflow(
    http({ url: "https://example.com", timeoutMs: { $secret: "T" }, method: { $secret: "M" } }),
    { id: "d", type: "control", nodeType: "delay", config: { duration: { $secret: "D" } } },
    { id: "s", type: "control", nodeType: "signal.wait", config: { name: { $secret: "S" } } },
    http({ url: "https://example.com", headers: { "X-Key": { $secret: "bad name" } } }, { id: "h2" }),
  ));
  const seen = problems.map((p) => `${p.code} ${p.path}`);
  for (
    const expected of [
      "config_type $.nodes[0].config.timeoutMs",
      "config_type $.nodes[0].config.method",
      "secret_ref $.nodes[1].config.duration",
      "secret_ref $.nodes[2].config.name",
      "secret_ref $.nodes[3].config.headers.X-Key",
    ]
  ) {
    assert(seen.includes(expected), `${expected} in ${seen.join(", ")}`);
  }
});
