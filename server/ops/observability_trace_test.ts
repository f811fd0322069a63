/**
 * Traces end to end: the real server (`deno run -A server/main.ts`) as a child process with Deno's built-in
 * OpenTelemetry (`OTEL_DENO=true`) exporting OTLP/HTTP (JSON) to a receiver in this test; one execution of a
 * 2-node workflow (a source, then an http node calling a target in this test); SIGTERM; then the span tree.
 * Then the same across a cluster: two members in one child process (run from this file, see the end), a call
 * forwarded from one to the shard's owner over the WebSocket transport, its trace continued there.
 */
import { executionIdFor, shardOf } from "../../core/ids.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { startNode } from "../start.ts";
import {
  chain,
  createWorkflow,
  executeAndWait,
  n,
  startTarget,
  withNodeCalling,
} from "../../testing/server.ts";
import { freePort } from "../../testing/net.ts";
import { sleep } from "../../testing/wait.ts";
import { parseTraceparent, Tracing } from "./tracing.ts";
import {
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  trace,
  TraceFlags,
  type Tracer,
} from "npm:@opentelemetry/api@1.10.0";

const ROOT = new URL("../..", import.meta.url);

/** An exported span, flattened: attributes as a plain object. */
interface ExportedSpan {
  service: string;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  status: number;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

function attributeValue(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue;
}

function attributes(list: { key: string; value: OtlpValue }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, attributeValue(a.value)]));
}

/** An OTLP/HTTP receiver on 127.0.0.1:0: POST /v1/traces (JSON) collected; logs and metrics accepted. */
function startReceiver() {
  const spans: ExportedSpan[] = [];
  const posts: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const body = await req.text();
    posts.push(`${req.method} ${path} ${req.headers.get("content-type")}`);
    if (req.method === "POST" && path === "/v1/traces") {
      const doc = JSON.parse(body);
      for (const rs of doc.resourceSpans ?? []) {
        const service = String(attributes(rs.resource?.attributes)["service.name"]);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              scope: ss.scope?.name ?? "",
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              name: s.name,
              kind: s.kind,
              start: BigInt(s.startTimeUnixNano),
              end: BigInt(s.endTimeUnixNano),
              status: s.status?.code ?? 0,
              attributes: attributes(s.attributes),
            });
          }
        }
      }
    }
    return Response.json({});
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, spans, posts, close: () => server.shutdown() };
}

async function drain(stream: ReadableStream<Uint8Array>, sink: { text: string }) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

Deno.test("traces: OTEL_DENO exports the execution span as the parent of its node-attempt spans", async () => {
  const receiver = startReceiver();
  const calls: (string | null)[] = [];
  const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    calls.push(req.headers.get("traceparent"));
    return Response.json({ ok: true });
  });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", "--port", String(port), "--storage", "memory"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      OTEL_DENO: "true",
      ENGINE_HTTP_ALLOW: `127.0.0.1:${target.addr.port}`, // the http node's target: egress refuses loopback
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "flowmesh-trace-test",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    },
  }).spawn();
  const output = { text: "" };
  const drained = Promise.all([drain(child.stdout, output), drain(child.stderr, output)]);
  let exited = false;
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    for (let i = 0;; i++) {
      const ready = await call("GET", "/health/ready").catch(() => undefined);
      if (ready?.status === 200) break;
      assert(i < 600, `the server never became ready:\n${output.text}`);
      await sleep(50);
    }
    const workflow = {
      id: "wf-traced",
      name: "traced",
      nodes: [
        { id: "src", type: "source", nodeType: "memory.collection", config: { data: [1, 2] } },
        {
          id: "call",
          type: "control",
          nodeType: "http",
          config: { method: "POST", url: `http://127.0.0.1:${target.addr.port}/hook` },
        },
      ],
      edges: [{ source: "src", target: "call" }],
    };
    assertStrictEquals((await call("POST", "/api/v1/workflows", workflow)).status, 201);
    const run = await call("POST", "/api/v1/workflows/wf-traced/execute?wait=10000", {});
    assertEquals([run.status, run.body.status], [200, "completed"], JSON.stringify(run.body));
    const executionId: string = run.body.executionId;

    // SIGTERM: the server leaves and exits 0; Deno flushes the spans it batched before the process ends.
    child.kill("SIGTERM");
    const status = await child.status;
    exited = true;
    await drained;
    assertEquals([status.code, status.success], [0, true], output.text);
    for (let i = 0; !receiver.spans.some((s) => s.name === "workflow.execution"); i++) {
      assert(i < 100, `no execution span arrived; posts: ${receiver.posts.join(", ")}\n${output.text}`);
      await sleep(20);
    }
    assert(receiver.posts.every((p) => p.endsWith("application/json")), receiver.posts.join(", "));

    const spans = receiver.spans;
    const executions = spans.filter((s) => s.name === "workflow.execution");
    assertStrictEquals(executions.length, 1);
    const execution = executions[0];
    assertStrictEquals(execution.service, "flowmesh-trace-test");
    assertStrictEquals(execution.scope, "flowmesh");
    assertEquals(execution.attributes, {
      ...execution.attributes,
      "flowmesh.execution.id": executionId,
      "flowmesh.workflow.id": "wf-traced",
      "flowmesh.workflow.version": 1,
      "flowmesh.execution.recovered": false,
      "flowmesh.execution.status": "completed",
      "flowmesh.member": "node-1",
    });
    assertStrictEquals(execution.status, 0, "completed: status unset");

    // The node-attempt spans: children of the execution span, one per node, with kind, attempt, outcome.
    const attempts = spans.filter((s) => s.name.startsWith("attempt "));
    assertEquals(attempts.map((s) => s.name).sort(), [
      "attempt control/http",
      "attempt source/memory.collection",
    ]);
    for (const a of attempts) {
      assertStrictEquals(a.traceId, execution.traceId, a.name);
      assertStrictEquals(a.parentSpanId, execution.spanId, `${a.name} is a child of the execution span`);
      assertStrictEquals(a.attributes["flowmesh.node.kind"], a.name.slice("attempt ".length));
      assertStrictEquals(a.attributes["flowmesh.attempt"], 1);
      assertStrictEquals(a.attributes["flowmesh.attempt.outcome"], "completed");
      assertStrictEquals(a.attributes["flowmesh.execution.id"], executionId);
      assert(a.start >= execution.start && a.end <= execution.end, `${a.name} inside the execution span`);
    }
    const source = attempts.find((a) => a.name === "attempt source/memory.collection")!;
    const http = attempts.find((a) => a.name === "attempt control/http")!;
    assert(source.end <= http.start, "the source ran before the http node");

    // The execution span is a child of the request that submitted it (Deno's span of POST .../execute,
    // named by its route pattern).
    const request = spans.find((s) => s.spanId === execution.parentSpanId);
    assert(request, `the execution's parent ${execution.parentSpanId} was exported`);
    assertStrictEquals(request.name, "POST /api/v1/workflows/:id/execute");
    assertStrictEquals(request.attributes["http.route"], "/api/v1/workflows/:id/execute");
    assertStrictEquals(request.traceId, execution.traceId);

    // The http node's call carried exactly one traceparent of this trace: Deno's client span of the fetch,
    // a child of the attempt.
    assertStrictEquals(calls.length, 1);
    const traceparent = calls[0]!;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent);
    assert(m, `one W3C traceparent, got ${traceparent}`);
    assertStrictEquals(m[1], execution.traceId);
    const fetchSpan = spans.find((s) => s.spanId === m[2]);
    assert(fetchSpan, `the span ${m[2]} of the call was exported`);
    assertStrictEquals(fetchSpan.parentSpanId, http.spanId, "the call's span is a child of the attempt");
  } finally {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await drained;
    }
    await target.shutdown();
    await receiver.close();
  }
});

/** A span a `RecordingTracer` made. */
interface Recorded {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: number;
  ended: boolean;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** A minimal recording tracer (no SDK, no context manager, no propagator): spans parented explicitly. */
class RecordingTracer implements Tracer {
  readonly spans: Recorded[] = [];

  startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
    const parent = ctx ? trace.getSpanContext(ctx) : undefined;
    const sc: SpanContext = {
      traceId: parent?.traceId ?? randomHex(16),
      spanId: randomHex(8),
      traceFlags: TraceFlags.SAMPLED,
    };
    const rec: Recorded = {
      name,
      traceId: sc.traceId,
      spanId: sc.spanId,
      parentSpanId: parent?.spanId,
      attributes: { ...options.attributes },
      status: 0,
      ended: false,
    };
    this.spans.push(rec);
    const span: Span = {
      spanContext: () => sc,
      setAttribute: (k, v) => (rec.attributes[k] = v, span),
      setAttributes: (a) => (Object.assign(rec.attributes, a), span),
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus: (st) => (rec.status = st.code, span),
      updateName: (nm) => (rec.name = nm, span),
      end: () => void (rec.ended = true),
      isRecording: () => !rec.ended,
      recordException: () => {},
    };
    return span;
  }

  startActiveSpan = (() => {
    throw new Error("not used");
  }) as Tracer["startActiveSpan"];
}

Deno.test("traces: with another tracer, the http node sends the attempt's traceparent itself", async () => {
  const tracer = new RecordingTracer();
  const target = startTarget(() => Response.json({ ok: true }));
  try {
    await withNodeCalling(target, async (node) => {
      await createWorkflow(
        node,
        chain(
          "wf-own",
          n("src", "source/memory.collection", { data: [1] }),
          n("call", "control/http", { method: "POST", url: target.url }),
        ),
      );
      const id: string = (await executeAndWait(node, "wf-own")).body.executionId;
      const execution = tracer.spans.find((s) => s.name === "workflow.execution")!;
      assertEquals([execution.attributes["flowmesh.execution.id"], execution.ended], [id, true]);
      assertStrictEquals(execution.attributes["flowmesh.execution.status"], "completed");
      const http = tracer.spans.find((s) => s.name === "attempt control/http")!;
      assertEquals([http.parentSpanId, http.traceId, http.ended], [
        execution.spanId,
        execution.traceId,
        true,
      ]);
      assertStrictEquals(target.seen.length, 1);
      assertStrictEquals(target.seen[0].headers.get("traceparent"), `00-${http.traceId}-${http.spanId}-01`);
    }, { tracer });
  } finally {
    await target.close();
  }
});

Deno.test("traces: a forward injects its span's context and the owner's span continues it", async () => {
  const tracer = new RecordingTracer();
  const a = new Tracing(tracer, "a");
  const b = new Tracing(tracer, "b");
  let seen: Record<string, string> = {};
  const forwarder = a.forwarder({
    forward: async (_to, request) => {
      seen = request.headers;
      const req = new Request("http://cluster.internal/api/v1/executions/x/cancel", {
        method: "POST",
        headers: request.headers,
      });
      const res = await b.apiObserver.forwarded!(
        req,
        () => "/api/v1/executions/:executionId/cancel",
        () => Promise.resolve(new Response("{}", { status: 200 })),
      );
      return { ok: true, response: { status: res.status, headers: {}, body: await res.text() } };
    },
  });
  const r = await forwarder.forward("b", {
    method: "POST",
    path: "/api/v1/executions/x/cancel",
    headers: { "content-type": "application/json" },
    body: "{}",
  }, 1_000);
  assert(r.ok);
  const [forward, served] = tracer.spans;
  assertEquals([forward.name, forward.ended], ["cluster.forward", true]);
  assertEquals(parseTraceparent(seen.traceparent)?.spanId, forward.spanId);
  assertStrictEquals(seen["content-type"], "application/json");
  assertEquals(
    [served.name, served.parentSpanId, served.traceId, served.ended],
    ["cluster.forwarded POST /api/v1/executions/:executionId/cancel", forward.spanId, forward.traceId, true],
  );
  assertStrictEquals(served.attributes["flowmesh.member"], "b");
  assertStrictEquals(parseTraceparent("00-00000000000000000000000000000000-0000000000000000-01"), undefined);
  assertStrictEquals(parseTraceparent("garbage"), undefined);
});

/** Spawns `deno run -A <args>` with Deno's OpenTelemetry exporting OTLP/JSON to `endpoint`. */
function spawnTraced(args: string[], endpoint: string, extraEnv: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "flowmesh-trace-test",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      ...extraEnv,
    },
  }).spawn();
  return child;
}

const CLUSTER_SHARDS = 8;

Deno.test("traces: a call forwarded to the shard's owner continues the caller's trace on the owner", async () => {
  const receiver = startReceiver();
  const child = spawnTraced(["server/ops/observability_trace_test.ts"], receiver.url, {
    FLOWMESH_TRACE_FIXTURE: "cluster",
  });
  const output = { text: "" };
  const stderr = drain(child.stderr, output);
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let exited = false;
  try {
    let first = "";
    while (!first.includes("\n")) {
      const { value, done } = await lines.read();
      assert(!done, `the fixture ended before it started: ${first}\n${output.text}`);
      first += value;
    }
    const urls = JSON.parse(first.split("\n")[0]) as { a: string; b: string };
    const get = async (url: string) => await (await fetch(url)).json();
    // Wait until both members own half of the shards.
    let owners: (string | null)[] = [];
    for (let i = 0;; i++) {
      const shards = await get(`${urls.a}/api/v1/cluster/shards`);
      owners = shards.shards.map((s: { location: string | null }) => s.location);
      const onB = owners.filter((o) => o === "b").length;
      if (onB === CLUSTER_SHARDS / 2 && owners.filter((o) => o === "a").length === CLUSTER_SHARDS / 2) break;
      assert(i < 400, `never balanced: ${JSON.stringify(owners)}\n${output.text}`);
      await sleep(25);
    }
    const workflow = {
      id: "wf-fwd",
      name: "forwarded",
      nodes: [
        { id: "src", type: "source", nodeType: "memory.collection", config: { data: [1] } },
        { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
      ],
      edges: [{ source: "src", target: "out" }],
    };
    const created = await fetch(`${urls.a}/api/v1/workflows`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(workflow),
    });
    assertStrictEquals(created.status, 201, await created.text());
    // An Idempotency-Key whose execution lands on a shard b owns: a forwards the call to b.
    let key = "";
    for (let i = 0; owners[shardOf(executionIdFor("wf-fwd", key), CLUSTER_SHARDS)] !== "b"; i++) {
      key = `k${i}`;
    }
    const executionId = executionIdFor("wf-fwd", key);
    const run = await fetch(`${urls.a}/api/v1/workflows/wf-fwd/execute?wait=10000`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: "{}",
    });
    const body = await run.json();
    assertEquals([run.status, body.status, body.executionId], [200, "completed", executionId]);

    child.kill("SIGTERM");
    const status = await child.status;
    exited = true;
    await stderr;
    assertEquals([status.code, status.success], [0, true], output.text);
    for (let i = 0; !receiver.spans.some((s) => s.name === "workflow.execution"); i++) {
      assert(i < 100, `no execution span arrived\n${output.text}`);
      await sleep(20);
    }
    const spans = receiver.spans;
    const execution = spans.find((s) =>
      s.name === "workflow.execution" && s.attributes["flowmesh.execution.id"] === executionId
    );
    assert(execution, "the execution's span");
    assertStrictEquals(execution.attributes["flowmesh.member"], "b", "it ran on the owner");
    // b: the forwarded call's server span is the execution's parent ...
    const served = spans.find((s) => s.spanId === execution.parentSpanId);
    assert(served, "the execution's parent was exported");
    assertStrictEquals(served.name, "cluster.forwarded POST /api/v1/workflows/:id/execute");
    assertStrictEquals(served.attributes["flowmesh.member"], "b");
    assertStrictEquals(served.kind, 2, "SERVER");
    // ... whose parent is a's client span of the forward ...
    const forward = spans.find((s) => s.spanId === served.parentSpanId);
    assert(forward, "the forward's span was exported");
    assertStrictEquals(forward.name, "cluster.forward");
    assertStrictEquals(forward.attributes["flowmesh.member"], "a");
    assertStrictEquals(forward.attributes["flowmesh.forward.to"], "b");
    assertStrictEquals(forward.kind, 3, "CLIENT");
    // ... a child of a's span of the public request. One trace from the client's call to b's attempts.
    const request = spans.find((s) => s.spanId === forward.parentSpanId);
    assert(request, "a's request span was exported");
    assertStrictEquals(request.name, "POST /api/v1/workflows/:id/execute");
    for (const s of [served, forward, request]) assertStrictEquals(s.traceId, execution.traceId, s.name);
    const attempts = spans.filter((s) => s.parentSpanId === execution.spanId);
    assertEquals(attempts.map((s) => s.name).sort(), [
      "attempt sink/memory.collect",
      "attempt source/memory.collection",
    ]);
  } finally {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await stderr;
    }
    await lines.cancel().catch(() => {});
    await receiver.close();
  }
});

/**
 * The cluster fixture (`FLOWMESH_TRACE_FIXTURE=cluster deno run -A server/ops/observability_trace_test.ts`):
 * two members, `a` and `b`, over one shared memory storage and a real WebSocket transport, in this process
 * (one tracer provider: Deno's). Prints `{"a": url, "b": url}` as its first stdout line; SIGTERM stops both.
 * (`Deno.test` is a no-op under `deno run`, so the tests above do not run here.)
 */
if (import.meta.main && Deno.env.get("FLOWMESH_TRACE_FIXTURE") === "cluster") {
  const storage = new MemoryStorage();
  const member = (nodeId: string) =>
    startNode({
      host: "127.0.0.1",
      port: 0,
      storage: "memory",
      nodeId,
      clusterPort: freePort(),
      clusterSecret: "observability-trace-test-secret",
      shards: CLUSTER_SHARDS,
      logLevel: "error",
    }, { storage });
  const a = await member("a");
  const b = await member("b");
  console.log(JSON.stringify({ a: a.url, b: b.url }));
  Deno.addSignalListener("SIGTERM", async () => {
    await b.close();
    await a.close();
    Deno.exit(0);
  });
}
