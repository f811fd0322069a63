/**
 * Helpers for the HTTP API tests (`server/http/api_*_test.ts`, `server/ops/*_test.ts`): a real
 * node on a free port, small request helpers over {@link request} (which always reads the
 * response body), workflow builders, and local HTTP targets for the http node. Imported only by
 * tests and benches.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { type Reply, request } from "./http.ts";
import { sleep } from "./wait.ts";
import { type NodeOverrides, type RunningNode, startNode } from "../server/start.ts";
import type { EngineConfig } from "../server/ops/config.ts";

/** The old engine's sample workflow, as the JSON text its UI posted. */
export const SAMPLE_WORKFLOW_JSON =
  `{"id":"wf-1","name":"My Workflow","description":"","version":"1.0","author":"ops","tags":["etl"],` +
  `"nodes":[{"id":"n1","type":"source","nodeType":"sequence.numbers","label":"Numbers",` +
  `"position":{"x":100,"y":80},"config":{"start":1,"end":100,"step":1}},` +
  `{"id":"n2","type":"transform","nodeType":"filter","label":"Big ones","position":{"x":300,"y":80},` +
  `"config":{"condition":"value > 50"}},{"id":"n3","type":"sink","nodeType":"console.log","label":"Print",` +
  `"position":{"x":500,"y":80},"config":{"limit":"10"}}],"edges":[{"id":"e1","source":"n1","target":"n2",` +
  `"sourceHandle":"out","targetHandle":"in","animated":false},{"id":"e2","source":"n2","target":"n3"}],` +
  `"metadata":{"createdAt":"2024-11-15T10:00:00Z","updatedAt":"2024-11-15T10:00:00Z",` +
  `"schedule":{"enabled":true,"scheduleType":"fixed_rate","interval":"1h"}}}`;

/**
 * A fresh copy of the sample workflow, with an optional other id. Its `metadata.schedule` (every hour, first
 * at creation) is left out unless asked for, so a test sees only the runs it starts.
 */
export function sampleWorkflow(id = "wf-1", opts: { scheduled?: boolean } = {}): Record<string, unknown> {
  const sample = { ...JSON.parse(SAMPLE_WORKFLOW_JSON), id };
  if (opts.scheduled !== true) delete sample.metadata.schedule;
  return sample;
}

/**
 * Starts a real node on a free port, quiet, on memory storage: the default (`auto`)
 * is the embedded store under `./.data`, which would share state between tests and
 * hold a lock that a parallel test file cannot take.
 */
export function startTestNode(
  overrides: NodeOverrides = {},
  config: Partial<EngineConfig> = {},
): Promise<RunningNode> {
  return startNode(
    { port: 0, host: "127.0.0.1", logLevel: "error", storage: "memory", ...config },
    overrides,
  );
}

/** Runs `fn` with a fresh node and always closes it. */
export async function withNode(
  fn: (node: RunningNode) => Promise<void>,
  overrides: NodeOverrides = {},
  /** Settings over the test defaults: the grants a test declares (`filesRoot`), say. */
  config: Partial<EngineConfig> = {},
): Promise<void> {
  const node = await startTestNode(overrides, config);
  try {
    await fn(node);
  } finally {
    await node.close();
  }
}

/** GET, body read. */
export function getJson(node: { url: string }, path: string, headers?: Record<string, string>) {
  return request(node, "GET", path, { headers });
}

/** POST a JSON body, response read. */
export function postJson(
  node: { url: string },
  path: string,
  json: unknown = {},
  headers?: Record<string, string>,
) {
  return request(node, "POST", path, { json, headers });
}

/** PUT a JSON body, response read. */
export function putJson(node: { url: string }, path: string, json: unknown) {
  return request(node, "PUT", path, { json });
}

/** Asserts the API's error shape `{error: {code, message, details: []}}` and the code. */
export function assertApiError(reply: Reply, status: number, code: string): void {
  assertEquals(
    { status: reply.status, code: reply.body?.error?.code },
    { status, code },
    `expected ${status} ${code}, got ${reply.status} ${reply.text}`,
  );
  assert((reply.headers.get("content-type") ?? "").startsWith("application/json"), "a JSON error");
  assertEquals(Object.keys(reply.body).sort(), ["error"]);
  assertEquals(Object.keys(reply.body.error).sort(), ["code", "details", "message"]);
  assertEquals(typeof reply.body.error.message, "string");
  assert(reply.body.error.message.length > 0, "the error message is not empty");
  assert(Array.isArray(reply.body.error.details), "details is an array");
}

/** Creates a workflow; asserts 201 (new) and returns the reply. */
export async function createWorkflow(node: { url: string }, definition: unknown): Promise<Reply> {
  const r = await postJson(node, "/api/v1/workflows", definition);
  assertEquals(r.status, 201, `create failed: ${r.text}`);
  return r;
}

/** Options of {@link execute}. */
export interface ExecuteOptions {
  input?: unknown;
  timeoutMs?: number;
  /** `?wait=` in ms; 0 for none. Default 10000. */
  wait?: number;
  headers?: Record<string, string>;
}

/** POST .../execute, optionally waiting for the end. */
export function execute(
  node: { url: string },
  workflowId: string,
  opts: ExecuteOptions = {},
): Promise<Reply> {
  const wait = opts.wait ?? 10_000;
  const body: Record<string, unknown> = {};
  if (opts.input !== undefined) body.input = opts.input;
  if (opts.timeoutMs !== undefined) body.timeoutMs = opts.timeoutMs;
  const query = wait > 0 ? `?wait=${wait}` : "";
  return postJson(
    node,
    `/api/v1/workflows/${encodeURIComponent(workflowId)}/execute${query}`,
    body,
    opts.headers,
  );
}

/** Executes with `?wait=10000` and asserts it ended with `status` (200 and the view). */
export async function executeAndWait(
  node: { url: string },
  workflowId: string,
  status = "completed",
  opts: ExecuteOptions = {},
): Promise<Reply> {
  const r = await execute(node, workflowId, opts);
  assertEquals(r.status, 200, `execute did not finish: ${r.text}`);
  assertEquals(r.body.status, status, `execution ended ${r.body.status}: ${r.text}`);
  return r;
}

/** Creates a workflow and runs it to the end; returns the execution view. */
export async function runWorkflow(
  node: { url: string },
  definition: { id: string },
  status = "completed",
  opts: ExecuteOptions = {},
): Promise<Reply> {
  await createWorkflow(node, definition);
  return await executeAndWait(node, definition.id, status, opts);
}

/** The records a node emitted (GET .../nodes/{nodeId}/output), asserted 200. */
// deno-lint-ignore no-explicit-any
export async function nodeOutput(node: { url: string }, executionId: string, nodeId: string): Promise<any[]> {
  const r = await getJson(node, `/api/v1/executions/${executionId}/nodes/${nodeId}/output`);
  assertEquals(r.status, 200, `output of ${nodeId}: ${r.text}`);
  assertEquals(r.body.executionId, executionId);
  assertEquals(r.body.nodeId, nodeId);
  assertEquals(r.body.total, r.body.records.length);
  return r.body.records;
}

/** Polls the execution view until `predicate` holds (or fails after `ms`). */
export async function waitForExecution(
  node: { url: string },
  executionId: string,
  // deno-lint-ignore no-explicit-any
  predicate: (view: any) => boolean,
  ms = 5_000,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await getJson(node, `/api/v1/executions/${executionId}`);
    if (r.status === 200 && predicate(r.body)) return r.body;
    if (Date.now() > deadline) throw new Error(`timed out waiting on ${executionId}: ${r.text}`);
    await sleep(20);
  }
}

/** The node of an execution view. */
// deno-lint-ignore no-explicit-any
export function viewNode(view: any, nodeId: string): any {
  // deno-lint-ignore no-explicit-any
  const n = view.nodes.find((x: any) => x.nodeId === nodeId);
  assert(n, `no node ${nodeId} in the view`);
  return n;
}

// ---- workflow builders

/** A node of a test workflow. */
export interface TestNode {
  id: string;
  type: string;
  nodeType: string;
  config?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** A node. */
export function n(
  id: string,
  kind: string,
  config: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): TestNode {
  const [type, ...rest] = kind.split("/");
  return { id, type, nodeType: rest.join("/"), config, ...extra };
}

/** An edge `source → target`, with an optional source handle. */
export function e(source: string, target: string, sourceHandle?: string): Record<string, unknown> {
  return sourceHandle === undefined ? { source, target } : { source, target, sourceHandle };
}

/** A workflow definition. */
export function wf(
  id: string,
  nodes: TestNode[],
  edges: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): { id: string; name: string; nodes: TestNode[]; edges: Record<string, unknown>[] } {
  return { id, name: `test ${id}`, nodes, edges, ...extra };
}

/** A chain `nodes[0] → nodes[1] → ...`. */
export function chain(id: string, ...nodes: TestNode[]) {
  const edges = nodes.slice(1).map((node, i) => e(nodes[i].id, node.id));
  return wf(id, nodes, edges);
}

/** A source of `data` feeding `middle`, ending in a memory.collect node `out`. */
export function through(id: string, data: unknown[], ...middle: TestNode[]) {
  return chain(
    id,
    n("src", "source/memory.collection", { data }),
    ...middle,
    n("out", "sink/memory.collect"),
  );
}

// ---- local HTTP targets

/**
 * {@link withNode} for a test whose http nodes call `target`: the node grants exactly the target's
 * `127.0.0.1:port` (`httpAllow`), which egress refuses unless granted.
 */
export function withNodeCalling(
  target: Pick<Target, "url">,
  fn: (node: RunningNode) => Promise<void>,
  overrides: NodeOverrides = {},
  config: Partial<EngineConfig> = {},
): Promise<void> {
  return withNode(fn, overrides, {
    ...config,
    httpAllow: [...config.httpAllow ?? [], new URL(target.url).host],
  });
}

/** A local HTTP server for the http node to call. */
export interface Target {
  url: string;
  /** Requests seen, in order. */
  seen: { method: string; path: string; headers: Headers; body: string; at: number }[];
  close(): Promise<void>;
}

/**
 * Starts a local HTTP target; `handler` gets each request (its body already read),
 * its 0-based index, and a signal aborted when the target closes (for slow handlers).
 */
export function startTarget(
  handler: (req: Request, index: number, closing: AbortSignal) => Response | Promise<Response>,
): Target {
  const seen: Target["seen"] = [];
  const closing = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    const index = seen.length;
    seen.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      body,
      at: Date.now(),
    });
    return await handler(req, index, closing.signal);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => {
      closing.abort();
      return server.shutdown();
    },
  };
}
