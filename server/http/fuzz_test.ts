/**
 * Hostile input: fast-check generates requests — any method, every route's path with arbitrary segments
 * (control characters, NUL, unicode, long strings), arbitrary queries and Idempotency-Keys, and bodies that
 * are random JSON, deep nesting, huge numbers, duplicate keys or not JSON at all — and sends them to a real node
 * on each storage (memory, the embedded store, PostgreSQL). No answer may be a 5xx other than the documented
 * 503s, and the node must still answer afterwards.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import type { EngineConfig } from "../ops/config.ts";
import { startNode } from "../start.ts";

/** Requests per storage. */
const RUNS = 2_000;

const WORKFLOW = {
  id: "fuzz-wf",
  name: "fuzz",
  nodes: [
    { id: "numbers", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    { id: "wait", type: "control", nodeType: "signal.wait", config: { name: "go" } },
    { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "numbers", target: "wait" }, { source: "wait", target: "collect" }],
};

/** Route templates; `{}` takes a generated segment, `{wf}`/`{ex}` a real id half the time. */
const TEMPLATES = [
  "/api/v1/workflows",
  "/api/v1/workflows/{wf}",
  "/api/v1/workflows/node-types",
  "/api/v1/workflows/{wf}/execute",
  "/api/v1/workflows/{wf}/status",
  "/api/v1/workflows/{wf}/versions",
  "/api/v1/workflows/{wf}/versions/{}",
  "/api/v1/workflows/{wf}/diff",
  "/api/v1/workflows/{wf}/executions",
  "/api/v1/workflows/{wf}/executions/{ex}/logs",
  "/api/v1/executions/{ex}",
  "/api/v1/executions/{ex}/events",
  "/api/v1/executions/{ex}/nodes/{}/output",
  "/api/v1/executions/{ex}/cancel",
  "/api/v1/executions/{ex}/signals/{}",
  "/api/v1/executions/{ex}/pause",
  "/api/v1/executions/{ex}/resume",
  "/api/v1/executions/{ex}/retry",
  "/api/v1/executions/{ex}/rerun",
  "/api/v1/executions/{ex}/migrate",
  "/api/v1/cluster/stats",
  "/api/v1/cluster/shards",
  "/api/v1/cluster/executions/{ex}/location",
  "/api/v1/cluster/workflow/{wf}/location",
  "/api/v1/events",
  "/api/v1/tokens",
  "/api/v1/tokens/{}",
  "/api/v1/audit",
  "/api/v1/schedules",
  "/api/v1/schedules/add",
  "/api/v1/schedules/templates",
  "/api/v1/schedules/{}",
  "/api/v1/schedules/wf:{wf}",
  "/api/v1/schedules/{}/pause",
  "/api/v1/schedules/{}/resume",
  "/api/v1/schedules/{}/stop",
  "/api/v1/schedules/{}/trigger",
  "/api/history/{wf}",
  "/api/history/{wf}/status",
  "/api/history/{wf}/execution/{ex}",
  "/api/history/{wf}/timeline",
  "/health",
  "/health/ready",
  "/metrics",
  "/{}",
];

/** Strings a hostile client sends: control characters, lone surrogates, unicode, long runs, digits. */
const nasty = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("\u0000", "a\u0000b", "\u0001", "\u007f", "\ud800", "\udfff", "..", "%", "%00", "ü", "😀"),
  fc.string({ minLength: 200, maxLength: 2_000 }),
  fc.bigInt().map(String),
);

/** Percent-encodes a string as a path segment or query value (lone surrogates as their raw bytes' escapes). */
function encode(s: string): string {
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${
        (0x80 | (code & 0x3f)).toString(16)
      }`;
    } else out += encodeURIComponent(ch);
  }
  return out;
}

/** Schedule fields: real values, hostile strings, odd numbers. */
const schedule = fc.record({
  workflowId: fc.oneof(fc.constant("fuzz-wf"), nasty),
  id: fc.oneof(fc.constantFrom("sch-fuzz", "wf:fuzz-wf", "templates"), nasty),
  scheduleType: fc.oneof(fc.constantFrom("cron", "fixed_rate", "fixed_delay", "immediate"), nasty),
  cronExpression: fc.oneof(fc.constantFrom("0 0 1 1 *", "@yearly", "0 0 31 2 *", "61 * * * *"), nasty),
  interval: fc.oneof(fc.constantFrom("1d", "0s", "99999999d"), nasty, fc.double()),
  timezone: fc.oneof(fc.constantFrom("Europe/Berlin", "UTC"), nasty),
  startAt: fc.oneof(fc.integer(), fc.double(), nasty),
  endAt: fc.oneof(fc.integer(), fc.double(), nasty),
  jitter: fc.oneof(fc.integer(), nasty),
  overlap: fc.oneof(fc.constantFrom("skip", "buffer_one"), nasty),
  catchUp: fc.oneof(fc.constantFrom("run_all", "skip"), nasty),
  maxCatchUp: fc.oneof(fc.integer(), fc.double(), nasty),
  input: fc.jsonValue({ maxDepth: 3 }),
  enabled: fc.oneof(fc.boolean(), nasty),
}, { requiredKeys: [] });

const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

/** Bodies: JSON values, deep nesting, huge numbers, duplicate keys, junk, a workflow with hostile fields. */
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.record({ input: fc.jsonValue({ maxDepth: 3 }), timeoutMs: fc.oneof(fc.integer(), fc.double(), nasty) })
    .map((v) => JSON.stringify(v)),
  fc.constantFrom(
    deep(10_000),
    `{"a":${deep(5_000)}}`,
    "1e999999",
    "-1e400",
    "123456789012345678901234567890",
  ),
  fc.constantFrom('{"id":"a","id":"b","nodes":[],"edges":[]}', '{"input":1,"input":2}', "{", "\u0000", ""),
  fc.tuple(nasty, nasty).map(([id, nodeType]) =>
    JSON.stringify({
      ...WORKFLOW,
      id,
      name: nodeType,
      nodes: [{ ...WORKFLOW.nodes[0], nodeType, extra: id }],
    })
  ),
  fc.string({ unit: "binary", maxLength: 200 }),
  // Schedules with hostile fields, as an add/patch body and as a workflow's metadata.schedule.
  fc.tuple(schedule, fc.boolean()).map(([s, inWorkflow]) =>
    JSON.stringify(inWorkflow ? { ...WORKFLOW, id: "fuzz-sched", metadata: { schedule: s } } : s)
  ),
  // Valid workflows whose text fields carry NUL and lone surrogates (stored, then read back).
  fc.constantFrom(
    JSON.stringify({ ...WORKFLOW, name: "n\u0000\ud800", description: "\udfff\u0000" }),
    JSON.stringify({ ...WORKFLOW, id: "fuzz-nul", name: "\u0000" }),
  ),
);

const request = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
  template: fc.constantFrom(...TEMPLATES),
  segments: fc.array(fc.oneof(nasty, fc.constant("")), { minLength: 4, maxLength: 4 }),
  real: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  query: fc.array(
    fc.tuple(fc.constantFrom("wait", "limit", "offset", "cursor", "status", "version", "after", "x"), nasty),
    { maxLength: 3 },
  ),
  // deno-lint-ignore no-control-regex
  key: fc.option(nasty.filter((s) => !/[\u0000-\u001f\u007f\r\n]/.test(s) && s.length < 300), {
    nil: undefined,
  }),
  body,
});

/** A 5xx a node may answer on purpose: it is busy or its storage is away. Anything else is a bug. */
const DOCUMENTED_5XX = new Set([
  "overloaded",
  "not_owner",
  "storage_unavailable",
  "shard_unavailable",
  "not_ready",
]);

async function fuzz(partial: Partial<EngineConfig>): Promise<void> {
  const node = await startNode({ port: 0, logLevel: "error", ...partial });
  try {
    const created = await fetch(`${node.url}/api/v1/workflows`, {
      method: "POST",
      body: JSON.stringify(WORKFLOW),
    });
    assertEquals(created.status, 201, await created.text());
    const run = await fetch(`${node.url}/api/v1/workflows/fuzz-wf/execute`, {
      method: "POST",
      headers: { "idempotency-key": "fuzz-1" },
    });
    const { executionId } = await run.json();
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let i = 0;
        const path = r.template.replace(/\{(wf|ex)?\}/g, (_, kind: string | undefined) => {
          const n = i++;
          if (kind !== undefined && r.real[n]) return kind === "wf" ? "fuzz-wf" : executionId;
          return encode(r.segments[n]);
        });
        const query = r.query.map(([k, v]) => `${k}=${encode(v)}`).join("&");
        const headers: Record<string, string> = {};
        // A header is bytes: the key's UTF-8 bytes as they travel (what a raw client could send).
        if (r.key !== undefined) {
          headers["idempotency-key"] = String.fromCharCode(...new TextEncoder().encode(r.key));
        }
        const withBody = r.method !== "GET" && r.method !== "HEAD" && r.body !== undefined;
        const res = await fetch(`${node.url}${path}${query ? `?${query}` : ""}`, {
          method: r.method,
          headers,
          body: withBody ? r.body : undefined,
        });
        const text = await res.text();
        if (res.status >= 500) {
          const code = text.startsWith("{") ? JSON.parse(text).error?.code : undefined;
          if (!DOCUMENTED_5XX.has(code)) {
            failures.push(`${r.method} ${path}?${query} → ${res.status} ${text}`);
          }
        }
        return failures.length === 0;
      }),
      { numRuns: RUNS, seed: 20261206, endOnFailure: true },
    );
    assertEquals(failures, []);
    const health = await fetch(`${node.url}/health/live`);
    assertEquals(health.status, 200, "the node still answers");
    await health.body?.cancel();
  } finally {
    await node.close();
  }
}

Deno.test({
  name: "fuzz: 2,000 hostile requests to a node on memory storage: no 5xx, no crash",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => fuzz({ storage: "memory" }),
});

Deno.test({
  name: "fuzz: 2,000 hostile requests to a node on the embedded store: no 5xx, no crash",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-fuzz-" });
    try {
      await fuzz({ storage: "embedded", dataDir });
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

pgTest("fuzz: 2,000 hostile requests to a node on PostgreSQL: no 5xx, no crash", async () => {
  await withTempDatabase((databaseUrl) => fuzz({ storage: "postgres", databaseUrl }));
  assert(true);
});

Deno.test({
  name:
    "hostile input: a NUL or another control character in an id or a query is 400 with its path (embedded)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-nul-" });
    const node = await startNode({ port: 0, logLevel: "error", storage: "embedded", dataDir });
    try {
      const cases: [string, string][] = [
        ["/api/v1/executions/%00", "path.executionId"],
        ["/api/v1/workflows/a%00b", "path.id"],
        ["/api/history/%01/timeline", "path.workflowId"],
        ["/api/v1/workflows?cursor=%00", "?cursor"],
        ["/api/v1/executions/ex-1/events?after=1%7F", "?after"],
      ];
      for (const [path, where] of cases) {
        const res = await fetch(`${node.url}${path}`);
        const body = await res.json();
        assertEquals([res.status, body.error.code, body.error.details[0].path], [
          400,
          "invalid_parameter",
          where,
        ], path);
      }
    } finally {
      await node.close();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
