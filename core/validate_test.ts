import { assert, assertEquals, assertMatch, assertStrictEquals } from "../testing/assert.ts";
import {
  DEFAULT_WORKFLOW_LIMITS,
  MAX_RETENTION_MS,
  MAX_TIMEOUT_MS,
  PROBLEM_CODES,
  validateWorkflow,
} from "./validate.ts";
import { conditionSample, largeDag, OLD_ENGINE_SAMPLE_JSON, oldEngineSample } from "./samples.ts";
import type { Problem } from "./schema.ts";
import type { WorkflowDefinition } from "./workflow.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

/** A fresh copy of the old engine's sample, typed loosely so tests can break it. */
function sample(): Loose {
  return oldEngineSample();
}

function problemsOf(input: unknown, limits?: Parameters<typeof validateWorkflow>[1]): Problem[] {
  const result = validateWorkflow(input, limits);
  assert(!result.ok, "expected the workflow to be rejected");
  return result.problems;
}

function show(problems: Problem[]): string {
  return problems.map((p) => `${p.code} @ ${p.path}: ${p.message}`).join("\n");
}

/** Asserts that validating `input` reports `code` at `path`; returns that problem. */
function expectProblem(
  input: unknown,
  code: string,
  path: string,
  limits?: Parameters<typeof validateWorkflow>[1],
): Problem {
  const problems = problemsOf(input, limits);
  const found = problems.find((p) => p.code === code && p.path === path);
  assert(found, `expected ${code} @ ${path}, got:\n${show(problems)}`);
  return found;
}

function expectOk(input: unknown): WorkflowDefinition {
  const result = validateWorkflow(input);
  assert(result.ok, result.ok ? "" : show(result.problems));
  return result.workflow;
}

// ---- the old engine's sample

Deno.test('old engine sample: validates, round-trips its UI data, coerces limit "10" to 10', () => {
  const input = sample();
  const workflow = expectOk(input);
  const expected = sample();
  expected.nodes[2].config.limit = 10;
  assertEquals(workflow, expected);
  assertStrictEquals(workflow.nodes[2].config.limit, 10);
  assertEquals(workflow.nodes[0].position, { x: 100, y: 80 });
  assertStrictEquals(workflow.nodes[1].label, "Big ones");
  assertEquals(workflow.edges[0], {
    id: "e1",
    source: "n1",
    target: "n2",
    sourceHandle: "out",
    targetHandle: "in",
    animated: false,
  });
  assertEquals(workflow.metadata?.schedule, { enabled: true, scheduleType: "fixed_rate", interval: "1h" });
  // The input is untouched: still the string "10".
  assertStrictEquals(input.nodes[2].config.limit, "10");
  assertEquals(input, sample());
});

Deno.test("old engine sample: validates from its JSON text, and the result survives JSON", () => {
  const workflow = expectOk(JSON.parse(OLD_ENGINE_SAMPLE_JSON));
  assertEquals(JSON.parse(JSON.stringify(workflow)), workflow);
  assertEquals(expectOk(JSON.parse(JSON.stringify(workflow))), workflow);
});

Deno.test("normalisation: unknown keys of workflow, nodes and edges are kept; defaults are filled", () => {
  const input = sample();
  input.viewport = { x: 0, y: 0, zoom: 1.5 };
  input.nodes[0].data = { color: "red" };
  input.nodes[0].width = 150;
  input.nodes[2].config = { extra: true };
  input.edges[1].markerEnd = { type: "arrow" };
  input.edges[1].label = "big";
  input.edges[1].style = { stroke: "#333" };
  const workflow = expectOk(input);
  assertEquals(workflow.viewport, { x: 0, y: 0, zoom: 1.5 });
  assertEquals(workflow.nodes[0].data, { color: "red" });
  assertStrictEquals(workflow.nodes[0].width, 150);
  assertEquals(workflow.nodes[2].config, { extra: true, limit: 100 });
  assertEquals(workflow.edges[1], {
    id: "e2",
    source: "n2",
    target: "n3",
    markerEnd: { type: "arrow" },
    label: "big",
    style: { stroke: "#333" },
  });
});

Deno.test("normalisation: a node without config gets its defaults; null handles (React Flow) are dropped", () => {
  const input = sample();
  delete input.nodes[2].config;
  input.edges[1].sourceHandle = null;
  input.edges[1].targetHandle = null;
  const workflow = expectOk(input);
  assertEquals(workflow.nodes[2].config, { limit: 100 });
  assertEquals(workflow.edges[1], { id: "e2", source: "n2", target: "n3" });
  assertStrictEquals(input.edges[1].sourceHandle, null);
});

Deno.test("condition kinds: edges with sourceHandle true/false validate", () => {
  const workflow = expectOk(conditionSample());
  assertEquals(workflow.edges.map((e) => e.sourceHandle), [undefined, "true", "false"]);
});

Deno.test("the input is never mutated, even when it is frozen", () => {
  const deepFreeze = (value: Loose): Loose => {
    if (typeof value === "object" && value !== null) {
      Object.values(value).forEach(deepFreeze);
      Object.freeze(value);
    }
    return value;
  };
  const input = deepFreeze(sample());
  expectOk(input);
  const bad = deepFreeze({
    ...sample(),
    nodes: [{ id: "x y", type: "sink", nodeType: "console.log", config: 5 }],
  });
  problemsOf(bad);
});

// ---- one test per problem code, asserting code and path

Deno.test("type: not an object", () => {
  for (const input of [null, undefined, 42, "wf", [], true]) {
    const problems = problemsOf(input);
    assertEquals(problems.map((p) => [p.code, p.path]), [["type", "$"]]);
  }
});

Deno.test("type: not JSON (cycles, BigInt)", () => {
  const circular: Loose = sample();
  circular.metadata.self = circular;
  assertEquals(problemsOf(circular).map((p) => [p.code, p.path]), [["type", "$"]]);
  const big: Loose = sample();
  big.metadata.n = 1n;
  assertEquals(problemsOf(big).map((p) => [p.code, p.path]), [["type", "$"]]);
});

Deno.test("type: top-level fields of the wrong JSON type", () => {
  const cases: [string, unknown, string][] = [
    ["name", 5, "$.name"],
    ["id", 7, "$.id"],
    ["description", null, "$.description"],
    ["version", 1, "$.version"],
    ["author", {}, "$.author"],
    ["tags", "etl", "$.tags"],
    ["metadata", [], "$.metadata"],
    ["nodes", {}, "$.nodes"],
    ["edges", "none", "$.edges"],
  ];
  for (const [key, value, path] of cases) {
    const input = sample();
    input[key] = value;
    expectProblem(input, "type", path);
  }
});

Deno.test("type: tags must be strings, metadata and UI fields checked by JSON type", () => {
  const input = sample();
  input.tags = ["etl", 3];
  input.metadata.createdAt = 1;
  input.metadata.schedule.enabled = "yes";
  input.nodes[0] = 5;
  input.nodes[1].label = 7;
  input.nodes[1].position = { x: "300", y: 80 };
  input.nodes[2].style = "bold";
  input.edges[0].animated = "no";
  input.edges[0].targetHandle = 2;
  input.edges[1].id = 2;
  input.edges.push("n1->n3");
  const problems = problemsOf(input);
  for (
    const path of [
      "$.tags[1]",
      "$.metadata.createdAt",
      "$.metadata.schedule.enabled",
      "$.nodes[0]",
      "$.nodes[1].label",
      "$.nodes[1].position.x",
      "$.nodes[2].style",
      "$.edges[0].animated",
      "$.edges[0].targetHandle",
      "$.edges[1].id",
      "$.edges[2]",
    ]
  ) {
    assert(problems.some((p) => p.code === "type" && p.path === path), `${path}:\n${show(problems)}`);
  }
});

Deno.test("required: every required field", () => {
  const cases: [(w: Loose) => void, string][] = [
    [(w) => delete w.id, "$.id"],
    [(w) => delete w.name, "$.name"],
    [(w) => (w.name = "  "), "$.name"],
    [(w) => delete w.nodes, "$.nodes"],
    [(w) => delete w.edges, "$.edges"],
    [(w) => delete w.nodes[1].id, "$.nodes[1].id"],
    [(w) => delete w.nodes[1].type, "$.nodes[1].type"],
    [(w) => delete w.nodes[1].nodeType, "$.nodes[1].nodeType"],
    [(w) => delete w.edges[1].source, "$.edges[1].source"],
    [(w) => delete w.edges[1].target, "$.edges[1].target"],
  ];
  for (const [breakIt, path] of cases) {
    const input = sample();
    breakIt(input);
    expectProblem(input, "required", path);
  }
});

Deno.test("required: missing nodes does not also flag every edge as unknown_node", () => {
  const input = sample();
  delete input.nodes;
  assertEquals(problemsOf(input).map((p) => [p.code, p.path]), [["required", "$.nodes"]]);
});

Deno.test("id_format: workflow and node ids", () => {
  const input = sample();
  input.id = "wf 1";
  expectProblem(input, "id_format", "$.id");
  input.id = "";
  expectProblem(input, "id_format", "$.id");
  input.id = "a".repeat(129);
  expectProblem(input, "id_format", "$.id");
  input.id = "A-z_0.9:" + "a".repeat(120);
  expectOk(input);

  const node = sample();
  node.nodes[1].id = "n/2";
  node.edges[0].target = "n/2";
  node.edges[1].source = "n/2";
  const problems = problemsOf(node);
  assertEquals(problems.map((p) => [p.code, p.path]), [["id_format", "$.nodes[1].id"]]);
});

Deno.test("empty_graph: no nodes", () => {
  const input = sample();
  input.nodes = [];
  input.edges = [];
  assertEquals(problemsOf(input).map((p) => [p.code, p.path]), [["empty_graph", "$.nodes"]]);
});

Deno.test("duplicate_node_id: at the second occurrence, naming the id and the first index", () => {
  const input = sample();
  input.nodes.push({ id: "n2", type: "sink", nodeType: "memory.collect", config: {} });
  const problem = expectProblem(input, "duplicate_node_id", "$.nodes[3].id");
  assertMatch(problem.message, /"n2"/);
  assertMatch(problem.message, /\$\.nodes\[1\]/);
});

Deno.test("duplicate_edge: same source, target and handles twice", () => {
  const input = sample();
  input.edges.push({ id: "e3", source: "n2", target: "n3" });
  const problem = expectProblem(input, "duplicate_edge", "$.edges[2]");
  assertMatch(problem.message, /\$\.edges\[1\]/);

  // A missing sourceHandle is the kind's only output, "out".
  const same = sample();
  same.edges.push({ source: "n1", target: "n2", sourceHandle: undefined, targetHandle: "in" });
  expectProblem(same, "duplicate_edge", "$.edges[2]");

  // Different target handles are different edges.
  const other = sample();
  other.edges.push({ source: "n2", target: "n3", targetHandle: "in" });
  expectOk(other);
});

Deno.test("unknown_node: edge source or target naming no node", () => {
  const input = sample();
  input.edges[1].target = "n9";
  input.edges.push({ source: "ghost", target: "n3" });
  const problems = problemsOf(input);
  assertEquals(problems.map((p) => [p.code, p.path]), [
    ["unknown_node", "$.edges[1].target"],
    ["unknown_node", "$.edges[2].source"],
  ]);
  assertMatch(problems[0].message, /"n9"/);
});

Deno.test("cycle: names the nodes on the cycle in order, at $.edges", () => {
  const input: Loose = {
    id: "wf-cycle",
    name: "Loop",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: {} },
      { id: "a", type: "transform", nodeType: "map", config: { expression: "value" } },
      { id: "b", type: "transform", nodeType: "map", config: { expression: "value" } },
      { id: "c", type: "transform", nodeType: "filter", config: { condition: "true" } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "src", target: "a" },
      { source: "a", target: "b" },
      { source: "b", target: "c" },
      { source: "c", target: "a" },
      { source: "c", target: "out" },
    ],
  };
  const problems = problemsOf(input);
  assertEquals(problems, [{ path: "$.edges", code: "cycle", message: "cycle: a → b → c → a" }]);

  // A self-loop is a cycle too.
  input.edges = [{ source: "src", target: "a" }, { source: "a", target: "a" }];
  assertEquals(problemsOf(input).map((p) => p.message), ["cycle: a → a"]);
});

Deno.test("unknown_node_kind: lists the known nodeTypes of the type", () => {
  const input = sample();
  input.nodes[1].nodeType = "filterz";
  const problem = expectProblem(input, "unknown_node_kind", "$.nodes[1].nodeType");
  assertMatch(problem.message, /"filterz"/);
  assertMatch(problem.message, /filter, map, distinct, batch/);

  // The right nodeType under the wrong type: the message says where it belongs.
  const misplaced = sample();
  misplaced.nodes[1].type = "source";
  const p2 = expectProblem(misplaced, "unknown_node_kind", "$.nodes[1].nodeType");
  assertMatch(p2.message, /filter is a transform kind/);
  assertMatch(p2.message, /sequence\.numbers/);
});

Deno.test("unknown_node_type: type is not a category", () => {
  const input = sample();
  input.nodes[1].type = "processor";
  const problems = problemsOf(input);
  assertEquals(problems.map((p) => [p.code, p.path]), [["unknown_node_type", "$.nodes[1].type"]]);
  assertMatch(problems[0].message, /source, transform, sink, control/);
});

Deno.test("config_missing: schema-required field and kind check()", () => {
  const input = sample();
  input.nodes[1].config = {};
  expectProblem(input, "config_missing", "$.nodes[1].config.condition");

  const map = sample();
  map.nodes[1] = { id: "n2", type: "transform", nodeType: "map", config: {} };
  expectProblem(map, "config_missing", "$.nodes[1].config");

  const aggregate = sample();
  aggregate.nodes[1] = { id: "n2", type: "transform", nodeType: "aggregate", config: { op: "sum" } };
  expectProblem(aggregate, "config_missing", "$.nodes[1].config.field");
});

Deno.test("config_type: wrong field type, non-numeric string, config not an object", () => {
  const input = sample();
  input.nodes[2].config.limit = "ten";
  expectProblem(input, "config_type", "$.nodes[2].config.limit");

  const notObject = sample();
  notObject.nodes[2].config = [1];
  expectProblem(notObject, "config_type", "$.nodes[2].config");

  const delay = sample();
  delay.nodes[1] = { id: "n2", type: "control", nodeType: "delay", config: { duration: "soon" } };
  expectProblem(delay, "config_type", "$.nodes[1].config.duration");

  // A wrongly typed duration is reported once, not by both the schema and the kind's check.
  const typed = sample();
  typed.nodes[1] = { id: "n2", type: "control", nodeType: "delay", config: { duration: 5 } };
  assertEquals(problemsOf(typed).map((p) => [p.code, p.path]), [[
    "config_type",
    "$.nodes[1].config.duration",
  ]]);
});

Deno.test("config_enum and config_range", () => {
  const input = sample();
  input.nodes[1] = {
    id: "n2",
    type: "transform",
    nodeType: "aggregate",
    config: { op: "median", field: "x" },
  };
  expectProblem(input, "config_enum", "$.nodes[1].config.op");

  const range = sample();
  range.nodes[2].config.limit = "-1";
  expectProblem(range, "config_range", "$.nodes[2].config.limit");

  const step = sample();
  step.nodes[0].config.step = 0;
  expectProblem(step, "config_range", "$.nodes[0].config.step");
});

Deno.test("source_has_input: edge into a source, at the edge's target", () => {
  const input = sample();
  input.nodes.push({ id: "n4", type: "source", nodeType: "random.numbers", config: {} });
  input.edges.push({ source: "n2", target: "n4" });
  const problems = problemsOf(input);
  assertEquals(problems.map((p) => [p.code, p.path]), [["source_has_input", "$.edges[2].target"]]);
});

Deno.test("sink_has_output: edge out of a sink, at the edge's source", () => {
  const input = sample();
  input.nodes.push({ id: "n4", type: "sink", nodeType: "memory.collect", config: {} });
  input.edges.push({ source: "n3", target: "n4" });
  const problems = problemsOf(input);
  assertEquals(problems.map((p) => [p.code, p.path]), [["sink_has_output", "$.edges[2].source"]]);
});

Deno.test("unknown_handle: not an output of the source kind; condition edges need true/false", () => {
  const input = sample();
  input.edges[0].sourceHandle = "result"; // "output" is the old engine's name of "out" (validate_old_json_test.ts)
  expectProblem(input, "unknown_handle", "$.edges[0].sourceHandle");

  const branch: Loose = conditionSample();
  delete branch.edges[1].sourceHandle;
  branch.edges[2].sourceHandle = "out";
  const problems = problemsOf(branch);
  assertEquals(problems.map((p) => [p.code, p.path]), [
    ["unknown_handle", "$.edges[1].sourceHandle"],
    ["unknown_handle", "$.edges[2].sourceHandle"],
  ]);
  assertMatch(problems[0].message, /true, false/);
});

Deno.test("too_many_nodes and too_many_edges", () => {
  expectProblem(sample(), "too_many_nodes", "$.nodes", { maxNodes: 2 });
  expectProblem(sample(), "too_many_edges", "$.edges", { maxEdges: 1 });
  const result = validateWorkflow(sample(), { maxNodes: 3, maxEdges: 2 });
  assert(result.ok);
});

Deno.test("too_large: UTF-8 bytes of the JSON text, reported alone", () => {
  const input = sample();
  input.description = "é".repeat(200); // 2 bytes each in UTF-8, 1 UTF-16 unit
  input.nodes[0].id = "bad id"; // not reported: too_large stops validation
  const text = JSON.stringify(input);
  const bytes = new TextEncoder().encode(text).length;
  assertStrictEquals(bytes, text.length + 200);
  assertEquals(problemsOf(input, { maxBytes: bytes - 1 }), [
    { path: "$", code: "too_large", message: `workflow JSON is larger than ${bytes - 1} bytes` },
  ]);
  assertEquals(problemsOf(input, { maxBytes: text.length }).map((p) => p.code), ["too_large"]);
  // At exactly the limit it is not too large (only the bad id is reported).
  assertEquals(problemsOf(input, { maxBytes: bytes }).map((p) => p.code), ["id_format", "unknown_node"]);

  // Characters outside the BMP count 4 bytes.
  const emoji = sample();
  emoji.description = "😀".repeat(100);
  const emojiBytes = new TextEncoder().encode(JSON.stringify(emoji)).length;
  assert(validateWorkflow(emoji, { maxBytes: emojiBytes }).ok);
  expectProblem(emoji, "too_large", "$", { maxBytes: emojiBytes - 1 });
});

Deno.test("retry_policy: each field checked", () => {
  const cases: [unknown, string][] = [
    [5, "$.nodes[1].retry"],
    [{ maxAttempts: 0 }, "$.nodes[1].retry.maxAttempts"],
    [{ maxAttempts: 101 }, "$.nodes[1].retry.maxAttempts"],
    [{ maxAttempts: 2.5 }, "$.nodes[1].retry.maxAttempts"],
    [{ maxAttempts: "3" }, "$.nodes[1].retry.maxAttempts"],
    [{ initialIntervalMs: -1 }, "$.nodes[1].retry.initialIntervalMs"],
    [{ backoffCoefficient: 0.5 }, "$.nodes[1].retry.backoffCoefficient"],
    [{ backoffCoefficient: Infinity }, "$.nodes[1].retry.backoffCoefficient"],
    [{ initialIntervalMs: 1000, maxIntervalMs: 500 }, "$.nodes[1].retry.maxIntervalMs"],
    [{ maxIntervalMs: -5 }, "$.nodes[1].retry.maxIntervalMs"],
  ];
  for (const [retry, path] of cases) {
    const input = sample();
    input.nodes[1].retry = retry;
    expectProblem(input, "retry_policy", path);
  }
  const ok = sample();
  ok.nodes[1].retry = { maxAttempts: 100, initialIntervalMs: 0, backoffCoefficient: 1, maxIntervalMs: 0 };
  ok.nodes[2].retry = { maxAttempts: 1 };
  assertEquals(expectOk(ok).nodes[2].retry, { maxAttempts: 1 });
});

Deno.test("timeout: node and workflow timeoutMs are positive integers ≤ 7 days", () => {
  for (const bad of [0, -1, 1.5, "1000", MAX_TIMEOUT_MS + 1, NaN]) {
    const node = sample();
    node.nodes[0].timeoutMs = bad;
    expectProblem(node, "timeout", "$.nodes[0].timeoutMs");
    const workflow = sample();
    workflow.timeoutMs = bad;
    expectProblem(workflow, "timeout", "$.timeoutMs");
  }
  const ok = sample();
  ok.timeoutMs = MAX_TIMEOUT_MS;
  ok.nodes[0].timeoutMs = 1;
  expectOk(ok);
});

Deno.test("retention: the workflow's retentionMs is an integer from 0 (kept forever) to 10 years", () => {
  for (const bad of [-1, 1.5, "1000", MAX_RETENTION_MS + 1, NaN, null, true, {}]) {
    const workflow = sample();
    workflow.retentionMs = bad;
    const problem = expectProblem(workflow, "retention", "$.retentionMs");
    assertMatch(problem.message, /retentionMs must be an integer of milliseconds from 0/);
  }
  assertStrictEquals(MAX_RETENTION_MS, 10 * 365 * 24 * 3_600_000);
  for (const ok of [0, 1, 3_600_000, MAX_RETENTION_MS]) {
    const workflow = sample();
    workflow.retentionMs = ok;
    assertStrictEquals(expectOk(workflow).retentionMs, ok, "kept as given");
  }
  assertStrictEquals(expectOk(sample()).retentionMs, undefined, "optional");
});

// ---- several problems at once

Deno.test("every problem is reported at once, in document order", () => {
  const input = sample();
  input.id = "wf 1";
  input.tags = [1];
  input.nodes[0].config.step = "x";
  input.nodes[1].nodeType = "filterz";
  input.nodes[2].id = "n1";
  input.nodes[2].retry = { maxAttempts: 0 };
  input.nodes.push({ id: "n4", type: "source", nodeType: "sequence.numbers" });
  input.edges[0].sourceHandle = "yes";
  input.edges.push({ source: "n1", target: "nope" });
  input.edges.push({ source: "n1", target: "n4" });
  const problems = problemsOf(input);
  assertEquals(problems.map((p) => [p.code, p.path]), [
    ["id_format", "$.id"],
    ["type", "$.tags[0]"],
    ["config_type", "$.nodes[0].config.step"],
    ["unknown_node_kind", "$.nodes[1].nodeType"],
    ["duplicate_node_id", "$.nodes[2].id"],
    ["retry_policy", "$.nodes[2].retry.maxAttempts"],
    ["unknown_handle", "$.edges[0].sourceHandle"],
    ["unknown_node", "$.edges[1].target"], // n3 was renamed to the duplicate n1
    ["unknown_node", "$.edges[2].target"],
    ["source_has_input", "$.edges[3].target"],
  ]);
});

Deno.test("problems mix graph and config faults, including a cycle", () => {
  const input: Loose = {
    id: "wf",
    name: "x",
    nodes: [
      { id: "a", type: "transform", nodeType: "map", config: {} },
      { id: "b", type: "transform", nodeType: "filter", config: { condition: 1 } },
    ],
    edges: [{ source: "a", target: "b" }, { source: "b", target: "a" }, { source: "a", target: "b" }],
  };
  assertEquals(problemsOf(input).map((p) => [p.code, p.path]), [
    ["config_missing", "$.nodes[0].config"],
    ["config_type", "$.nodes[1].config.condition"],
    ["duplicate_edge", "$.edges[2]"],
    ["cycle", "$.edges"],
  ]);
});

// ---- codes and limits

Deno.test("PROBLEM_CODES lists every code, each value unique", () => {
  const values = Object.values(PROBLEM_CODES);
  assertStrictEquals(new Set(values).size, values.length);
  for (
    const code of [
      "type",
      "required",
      "id_format",
      "empty_graph",
      "duplicate_node_id",
      "duplicate_edge",
      "unknown_node",
      "cycle",
      "unknown_node_kind",
      "unknown_node_type",
      "config_missing",
      "config_type",
      "config_enum",
      "config_range",
      "source_has_input",
      "sink_has_output",
      "unknown_handle",
      "too_many_nodes",
      "too_many_edges",
      "too_large",
      "retry_policy",
      "timeout",
      "retention",
    ]
  ) assert((values as string[]).includes(code), code);
  assertEquals(DEFAULT_WORKFLOW_LIMITS, { maxNodes: 1000, maxEdges: 5000, maxBytes: 1_048_576 });
});

Deno.test("limits: a 1,000-node DAG with ~5,000 edges validates (its speed is in bench/core_bench.ts)", () => {
  const workflow = largeDag(1000);
  assertStrictEquals(workflow.edges.length, 4985);
  const r = validateWorkflow(workflow);
  assert(r.ok, r.ok ? "" : show(r.problems));
  assertStrictEquals(r.workflow.nodes.length, 1000);
});

Deno.test("limits: at the defaults a 1,001-node workflow is rejected", () => {
  const workflow = largeDag(1001, 1);
  expectProblem(workflow, "too_many_nodes", "$.nodes");
});

Deno.test("config checks: configs that could only fail at run time are rejected up front", () => {
  const wf: Loose = {
    id: "checks",
    name: "checks",
    nodes: [
      { id: "src", type: "source", nodeType: "file.csv", config: { path: "/x.csv", delimiter: '"' } },
      { id: "get", type: "control", nodeType: "http", config: { url: "ftp://x", method: "GET", body: "{}" } },
      { id: "hdr", type: "control", nodeType: "http", config: { url: "http://x", headers: { a: { b: 1 } } } },
      { id: "agg", type: "transform", nodeType: "aggregate", config: { groupBy: 3 } },
      { id: "cnt", type: "transform", nodeType: "aggregate.count", config: { groupBy: [] } },
      { id: "ins", type: "sink", nodeType: "sql.insert", config: { table: "t", upsertKey: [""] } },
    ],
    edges: [
      { source: "src", target: "get" },
      { source: "get", target: "hdr" },
      { source: "hdr", target: "agg" },
      { source: "agg", target: "cnt" },
      { source: "cnt", target: "ins" },
    ],
  };
  const problems = problemsOf(wf);
  const expected: [string, string][] = [
    ["config_range", "$.nodes[0].config.delimiter"],
    ["config_type", "$.nodes[1].config.url"],
    ["config_range", "$.nodes[1].config.body"],
    ["config_type", "$.nodes[2].config.headers.a"],
    ["config_type", "$.nodes[3].config.groupBy"],
    ["config_type", "$.nodes[4].config.groupBy"],
    ["config_type", "$.nodes[5].config.upsertKey"],
  ];
  for (const [code, path] of expected) {
    assert(problems.some((p) => p.code === code && p.path === path), `${code} @ ${path}:\n${show(problems)}`);
  }
  assertStrictEquals(problems.length, expected.length, show(problems));
});
