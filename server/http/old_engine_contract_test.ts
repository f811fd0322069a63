/**
 * The old engine's contract (docs/API.md, "Compatibility with the old engine"): its clients' requests, from
 * `old-engine.md`'s route table, replayed in order against a real node; each answer's status and the fields
 * its clients read, with their types. Our answers may carry more fields; none of these may be missing.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { request } from "../../testing/http.ts";
import { chain, n, SAMPLE_WORKFLOW_JSON, withNode } from "../../testing/server.ts";
import { waitUntil } from "../../testing/wait.ts";

/**
 * A field's expected type: `"string"`, `"number"`, `"boolean"`, `"object"`, `"array"` or `"null"`, joined
 * with `|`; an exact value as `=value` (`"=started"`); an object of required fields; `[item]` for an array
 * whose every item has the item's shape.
 */
type Shape = string | { [field: string]: Shape } | [Shape];

/** One request of an old client and what its answer must hold. */
interface Step {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** `{wf}`, `{run}`, `{held}` and `{schedule}` are replaced by the ids of this run. */
  path: string;
  body?: unknown;
  status: number;
  /** The body's shape; `"text"` for a non-JSON body (Prometheus). */
  expect: Shape | "text";
  /** Names an id of the answer (`executionId`, `scheduleId`) to use in later paths. */
  capture?: [name: string, field: string];
  /** Waits before the request until this holds (a run started by a previous step has ended). */
  before?: (ids: Record<string, string>, base: { url: string }) => Promise<void>;
}

const WF = "old-contract";
const HELD = "old-contract-held";

const TIME = "number";
const TIME_OR_NULL = "number|null";
const EXECUTION_ROW = {
  executionId: "string",
  status: "string",
  startTime: TIME,
  endTime: TIME_OR_NULL,
  logsCount: "number",
};
const HISTORY_NODE = {
  nodeId: "string",
  nodeType: "string",
  startTime: TIME_OR_NULL,
  endTime: TIME_OR_NULL,
  duration: "number|null",
  status: "string",
  recordsProcessed: "number",
  error: "string|null",
};
const HISTORY_EXECUTION = {
  executionId: "string",
  workflowName: "string",
  startTime: TIME,
  endTime: TIME_OR_NULL,
  status: "string",
  duration: "number|null",
  nodes: [HISTORY_NODE] as [Shape],
};
const STATUS = (state: string): Shape => ({
  workflowId: "string",
  state: `=${state}`,
  executionCount: "number",
  currentExecution: "object|null",
  lastExecution: "object|null",
});
const MESSAGE = { message: "string", workflowId: "string" };
const SCHEDULE_ANSWER = { message: "string", scheduleId: "string" };

/** The sample with a `signal.wait` node between filter and sink: a run that has not ended when answered. */
function heldWorkflow() {
  const w = chain(
    HELD,
    n("n1", "source/sequence.numbers", { start: "1", end: "5" }),
    n("hold", "control/signal.wait", { name: "go" }),
    n("n3", "sink/console.log", { limit: "10" }),
  );
  return { ...w, name: "Held" };
}

/** Waits until execution `id` has ended. */
function ended(key: string) {
  return async (ids: Record<string, string>, base: { url: string }) => {
    await waitUntil(`execution ${ids[key]} ended`, async () => {
      const r = await request(base, "GET", `/api/v1/executions/${ids[key]}`);
      return r.status === 200 && r.body.status !== "running";
    });
  };
}

/** A palette entry of `node-types` (its config fields' `{type, required, default, label}`: the test below). */
const PALETTE_ENTRY = {
  type: "string",
  displayName: "string",
  icon: "string",
  category: "string",
  description: "string",
  config: "object",
};

const STEPS: Step[] = [
  {
    method: "GET",
    path: "/api/v1/workflows/node-types",
    status: 200,
    expect: { source: [PALETTE_ENTRY], transform: [PALETTE_ENTRY], sink: [PALETTE_ENTRY] },
  },
  {
    method: "POST",
    path: "/api/v1/workflows",
    body: { ...JSON.parse(SAMPLE_WORKFLOW_JSON), id: WF, metadata: {} },
    status: 201,
    expect: { ...MESSAGE, scheduleStatus: "string" },
  },
  { method: "POST", path: "/api/v1/workflows", body: heldWorkflow(), status: 201, expect: MESSAGE },
  {
    method: "GET",
    path: "/api/v1/workflows",
    status: 200,
    expect: [{ id: "string", name: "string" }],
  },
  {
    method: "GET",
    path: `/api/v1/workflows/${WF}`,
    status: 200,
    expect: {
      id: `=${WF}`,
      name: "string",
      description: "string",
      version: "string|number",
      author: "string",
      tags: ["string"],
      nodes: [{
        id: "string",
        type: "string",
        nodeType: "string",
        label: "string",
        position: "object",
        config: "object",
      }],
      edges: [{ id: "string", source: "string", target: "string" }],
      metadata: "object",
    },
  },
  {
    method: "PUT",
    path: `/api/v1/workflows/${WF}`,
    body: { ...JSON.parse(SAMPLE_WORKFLOW_JSON), id: WF, name: "Renamed", metadata: {} },
    status: 200,
    expect: MESSAGE,
  },
  { method: "GET", path: `/api/v1/workflows/${WF}/status`, status: 200, expect: STATUS("idle") },
  // Execute: a run that has not ended when answered is `started`.
  {
    method: "POST",
    path: `/api/v1/workflows/${HELD}/execute`,
    status: 202,
    expect: {
      message: "string",
      executionId: "string",
      workflowId: `=${HELD}`,
      status: "=started",
      note: "string",
    },
    capture: ["held", "executionId"],
  },
  { method: "GET", path: `/api/v1/workflows/${HELD}/status`, status: 200, expect: STATUS("running") },
  {
    method: "GET",
    path: `/api/v1/workflows/${HELD}/executions?status=started`,
    status: 200,
    expect: [{ ...EXECUTION_ROW, status: "=running" }],
  },
  // Execute with no body, as the old clients did; the sample is local only and may answer already ended.
  {
    method: "POST",
    path: `/api/v1/workflows/${WF}/execute`,
    status: 202,
    expect: {
      message: "string",
      executionId: "string",
      workflowId: `=${WF}`,
      status: "string",
      note: "string",
    },
    capture: ["run", "executionId"],
  },
  {
    method: "GET",
    path: `/api/v1/workflows/${WF}/status`,
    status: 200,
    expect: { ...STATUS("completed") as Record<string, Shape>, lastExecution: EXECUTION_ROW },
    before: ended("run"),
  },
  { method: "GET", path: `/api/v1/workflows/${WF}/executions`, status: 200, expect: [EXECUTION_ROW] },
  { method: "GET", path: `/api/v1/workflows/${WF}/executions?status=started`, status: 200, expect: "array" },
  {
    method: "GET",
    path: `/api/v1/workflows/${WF}/executions/{run}/logs`,
    status: 200,
    expect: { executionId: "string", logs: [{ timestamp: TIME, event: "string" }] },
  },
  {
    method: "GET",
    path: `/api/history/${WF}`,
    status: 200,
    expect: { workflowId: `=${WF}`, executions: [HISTORY_EXECUTION] },
  },
  { method: "GET", path: `/api/history/${WF}/status`, status: 200, expect: STATUS("completed") },
  { method: "GET", path: `/api/history/${WF}/execution/{run}`, status: 200, expect: HISTORY_EXECUTION },
  {
    method: "GET",
    path: `/api/history/${WF}/timeline?executionId={run}`,
    status: 200,
    expect: {
      executionId: "string",
      startTime: TIME,
      endTime: TIME,
      duration: "number",
      nodes: [HISTORY_NODE],
    },
  },
  {
    method: "GET",
    path: `/api/history/${WF}/timeline`,
    status: 200,
    expect: { executionId: "string", nodes: "array" },
  },
  {
    method: "GET",
    path: "/api/v1/cluster/stats",
    status: 200,
    expect: {
      clusterName: "string",
      nodeCount: "number",
      leader: "string|null",
      selfAddress: "string",
      selfRoles: ["string"],
      members: [{ address: "string", status: "string", roles: ["string"] }],
      sharding: { totalShards: "number", activeShards: "number", totalEntities: "number" },
    },
  },
  {
    method: "GET",
    path: "/api/v1/cluster/shards",
    status: 200,
    expect: {
      entityType: "string",
      totalShards: "number",
      activeShards: "number",
      shards: [{ shardId: "number", location: "string|null", entityCount: "number" }],
    },
  },
  {
    method: "GET",
    path: `/api/v1/cluster/workflow/${WF}/location`,
    status: 200,
    expect: { workflowId: `=${WF}`, shardId: "number", nodeAddress: "string|null" },
  },
  // Schedules: a cron once a year, so no run starts during the test.
  {
    method: "GET",
    path: "/api/v1/schedules/templates",
    status: 200,
    expect: [{ name: "string", schedule: "object" }],
  },
  {
    method: "POST",
    path: "/api/v1/schedules/add",
    body: { workflowId: WF, enabled: true, scheduleType: "cron", cronExpression: "0 0 1 1 *" },
    status: 201,
    expect: { ...SCHEDULE_ANSWER, schedule: "object" },
    capture: ["schedule", "scheduleId"],
  },
  { method: "GET", path: "/api/v1/schedules", status: 200, expect: "array|object" },
  { method: "POST", path: "/api/v1/schedules/{schedule}/pause", status: 200, expect: SCHEDULE_ANSWER },
  { method: "POST", path: "/api/v1/schedules/{schedule}/resume", status: 200, expect: SCHEDULE_ANSWER },
  { method: "POST", path: "/api/v1/schedules/{schedule}/stop", status: 200, expect: SCHEDULE_ANSWER },
  { method: "GET", path: "/metrics", status: 200, expect: "text" },
  { method: "GET", path: "/health", status: 200, expect: { status: "string" } },
  { method: "GET", path: "/health/live", status: 200, expect: { status: "string" } },
  { method: "GET", path: "/health/ready", status: 200, expect: { status: "string" } },
  { method: "DELETE", path: `/api/v1/workflows/${WF}`, status: 200, expect: MESSAGE },
];

/** The type words of a JSON value. */
function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** Where `value` departs from `shape`, one line each (empty: it conforms). */
function mismatches(value: unknown, shape: Shape, path = "$"): string[] {
  if (typeof shape === "string") {
    if (shape.startsWith("=")) {
      return String(value) === shape.slice(1)
        ? []
        : [`${path}: expected ${shape.slice(1)}, got ${JSON.stringify(value)}`];
    }
    return shape.split("|").includes(typeOf(value))
      ? []
      : [`${path}: expected ${shape}, got ${typeOf(value)}`];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected an array, got ${typeOf(value)}`];
    if (value.length === 0) return [`${path}: expected at least one item to check`];
    return value.flatMap((item, i) => mismatches(item, shape[0], `${path}[${i}]`));
  }
  if (typeOf(value) !== "object") return [`${path}: expected an object, got ${typeOf(value)}`];
  const o = value as Record<string, unknown>;
  return Object.entries(shape).flatMap(([k, s]) =>
    k in o ? mismatches(o[k], s, `${path}.${k}`) : [`${path}.${k}: missing`]
  );
}

Deno.test("the shape checker finds a missing field, a wrong type, a wrong word and an empty list", () => {
  const shape: Shape = { a: "string", b: [{ c: "number|null" }], s: "=started" };
  assertEquals(mismatches({ a: "x", b: [{ c: null }, { c: 1 }], s: "started" }, shape), []);
  assertEquals(mismatches({ b: [{ c: "1" }], s: "running" }, shape), [
    "$.a: missing",
    "$.b[0].c: expected number|null, got string",
    '$.s: expected started, got "running"',
  ]);
  assertEquals(mismatches({ a: "x", b: [], s: "started" }, shape), [
    "$.b: expected at least one item to check",
  ]);
});

Deno.test("old engine contract: its clients' requests answer with the fields and types they read", async () => {
  await withNode(async (node) => {
    const ids: Record<string, string> = {};
    const problems: string[] = [];
    for (const step of STEPS) {
      await step.before?.(ids, node);
      const path = step.path.replace(/\{(\w+)\}/g, (_, k) => {
        assert(ids[k] !== undefined, `${step.path}: no ${k} captured yet`);
        return ids[k];
      });
      const r = await request(node, step.method, path, step.body === undefined ? {} : { json: step.body });
      const where = `${step.method} ${path}`;
      if (r.status !== step.status) {
        problems.push(`${where}: status ${r.status}, expected ${step.status}: ${r.text.slice(0, 300)}`);
        continue;
      }
      if (step.expect === "text") {
        if (typeof r.body !== "string" || r.body.length === 0) problems.push(`${where}: expected text`);
      } else {
        problems.push(...mismatches(r.body, step.expect).map((m) => `${where}: ${m}`));
      }
      if (step.capture) ids[step.capture[0]] = r.body?.[step.capture[1]];
    }
    // Release the held run; it ends, and its workflow's state is `completed`.
    const go = await request(node, "POST", `/api/v1/executions/${ids.held}/signals/go`, { json: {} });
    assertEquals(go.status, 200, go.text);
    await ended("held")(ids, node);
    const status = await request(node, "GET", `/api/v1/workflows/${HELD}/status`);
    problems.push(...mismatches(status.body, STATUS("completed")).map((m) => `held status: ${m}`));
    assertEquals(problems, []);
  });
});

Deno.test("old engine contract: a workflow's state is one of the old four words after a cancel", async () => {
  await withNode(async (node) => {
    const created = await request(node, "POST", "/api/v1/workflows", { json: heldWorkflow() });
    assertEquals(created.status, 201, created.text);
    const run = await request(node, "POST", `/api/v1/workflows/${HELD}/execute`, { json: {} });
    assertEquals([run.status, run.body.status], [202, "started"], run.text);
    const cancel = await request(node, "POST", `/api/v1/executions/${run.body.executionId}/cancel`, {
      json: {},
    });
    assertEquals(cancel.status, 200, cancel.text);
    for (const path of [`/api/v1/workflows/${HELD}/status`, `/api/history/${HELD}/status`]) {
      const s = await request(node, "GET", path);
      // The old engine had no `cancelled`: the state says `failed`, the execution row keeps the exact word.
      assertEquals(
        [s.status, s.body.state, s.body.lastExecution.status],
        [200, "failed", "cancelled"],
        s.text,
      );
    }
    // `started` filters like `running`; an unknown word is still refused.
    const none = await request(node, "GET", `/api/v1/workflows/${HELD}/executions?status=started`);
    assertEquals([none.status, none.body], [200, []]);
    const bad = await request(node, "GET", `/api/v1/workflows/${HELD}/executions?status=begun`);
    assertEquals([bad.status, bad.body.error.code], [400, "invalid_parameter"]);
  });
});

Deno.test("old engine contract: every palette config field has {type, required, label}, as the old palette", async () => {
  await withNode(async (node) => {
    const r = await request(node, "GET", "/api/v1/workflows/node-types");
    assertEquals(r.status, 200, r.text);
    let fields = 0;
    for (const kinds of Object.values(r.body as Record<string, { type: string; config: object }[]>)) {
      for (const kind of kinds) {
        for (const [key, spec] of Object.entries(kind.config as Record<string, Record<string, unknown>>)) {
          const where = `${kind.type}.${key}`;
          assertEquals(typeof spec.type, "string", where);
          assertEquals(typeof spec.required, "boolean", where);
          assertEquals(typeof spec.label, "string", where);
          fields++;
        }
      }
    }
    assert(fields > 50, `only ${fields} fields`);
  });
});
