/**
 * The embedded engine (`createEngine`, `defineNodeKind`): a custom kind runs from a JSON workflow in process
 * and over HTTP, its config is checked with the path of the fault, attempts get their signal, key, logger and
 * span, errors are retried or not as classified, events can be followed — on every storage.
 */
import { z } from "npm:zod@4.6.7";
import { createEngine, defineNodeKind, type EmbeddedEngine, FlowmeshError, NodeError } from "../../mod.ts";
import type { ExecutionEvent, Json, WorkflowDefinition } from "../../mod.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { freePort } from "../../testing/net.ts";

/** What `fn` threw: a FlowmeshError. */
async function refusal(fn: () => Promise<unknown>): Promise<FlowmeshError> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof FlowmeshError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

const upper = defineNodeKind({
  type: "transform",
  name: "text.upper",
  run: (_ctx, input) => input.map((r) => String(r).toUpperCase()),
});

const scale = defineNodeKind({
  type: "transform",
  name: "math.scale",
  description: "Multiplies numbers by a factor",
  configSchema: z.object({ factor: z.number().int().min(1).max(1000), label: z.string().optional() }),
  local: true,
  run: (ctx, input) => input.map((n) => Number(n) * ctx.config.factor),
});

function chain(
  id: string,
  middle: { nodeType: string; config: Record<string, unknown> },
): WorkflowDefinition {
  return {
    id,
    name: id,
    nodes: [
      { id: "s", type: "source", nodeType: "memory.collection", config: { data: [1, 2, 3] } },
      { id: "m", type: "transform", ...middle },
      { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "s", target: "m" }, { source: "m", target: "k" }],
  } as WorkflowDefinition;
}

async function runsCustomKinds(engine: EmbeddedEngine): Promise<void> {
  const stored = await engine.putWorkflow(
    chain("scaled", { nodeType: "math.scale", config: { factor: 10 } }),
  );
  assertEquals(stored, { id: "scaled", version: 1 });
  const run = await engine.execute("scaled", { wait: 10_000 });
  assertEquals(run.status, "completed");
  assertEquals(await engine.output(run.executionId, "k"), [10, 20, 30]);
  const again = await engine.putWorkflow(chain("scaled", { nodeType: "math.scale", config: { factor: 3 } }));
  assertEquals(again.version, 2);
  const second = await engine.execute("scaled", { wait: 10_000 });
  assertEquals(await engine.output(second.executionId, "k"), [3, 6, 9]);
}

Deno.test("embed: the README's first script runs as written, on memory storage", async () => {
  const engine = await createEngine({ storage: "memory", nodeKinds: [upper], log: "silent" });
  try {
    await engine.putWorkflow({
      id: "hello",
      name: "hello",
      nodes: [
        { id: "s", type: "source", nodeType: "memory.collection", config: { data: ["a", "b"] } },
        { id: "u", type: "transform", nodeType: "text.upper", config: {} },
        { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
      ],
      edges: [{ source: "s", target: "u" }, { source: "u", target: "k" }],
    });
    const run = await engine.execute("hello", { wait: 5000 });
    assertEquals(run.status, "completed");
    assertEquals(await engine.output(run.executionId, "k"), ["A", "B"]);
  } finally {
    await engine.close();
  }
});

Deno.test("embed: a custom kind's config is checked by its schema, with the path of the fault", async () => {
  const engine = await createEngine({ storage: "memory", nodeKinds: [scale, upper], log: "silent" });
  try {
    const err = await refusal(() =>
      engine.putWorkflow(chain("bad", { nodeType: "math.scale", config: { factor: "ten" } }))
    );
    assertEquals(err.code, "validation_failed");
    assertEquals(err.details.map((d) => [d.path, d.code]), [["$.nodes[1].config.factor", "config_invalid"]]);
    const range = await refusal(() =>
      engine.putWorkflow(chain("bad", { nodeType: "math.scale", config: { factor: 0 } }))
    );
    assertEquals(range.details[0].path, "$.nodes[1].config.factor");
    const noConfig = await refusal(() =>
      engine.putWorkflow(chain("bad", { nodeType: "text.upper", config: { extra: 1 } }))
    );
    assertEquals(noConfig.details[0].code, "config_invalid", noConfig.message);
    // An unknown kind's problem names the registered kinds among the known ones.
    const unknown = await refusal(() =>
      engine.putWorkflow(chain("bad", { nodeType: "math.scal", config: {} }))
    );
    assertEquals(unknown.details[0].code, "unknown_node_kind");
    assert(unknown.details[0].message.includes("math.scale"), unknown.details[0].message);
    assertEquals(await engine.getWorkflow("bad"), undefined);
    await runsCustomKinds(engine);
  } finally {
    await engine.close();
  }
});

Deno.test("embed: a custom kind is used from a JSON workflow over HTTP and listed in the catalog", async () => {
  const engine = await createEngine({ storage: "memory", nodeKinds: [scale], log: "silent" });
  try {
    const { url } = engine.serve({ port: 0 });
    const types = await (await fetch(`${url}/api/v1/workflows/node-types`)).json();
    const listed = types.transform.find((k: { type: string }) => k.type === "math.scale");
    assertEquals(listed.custom, true);
    assertEquals(listed.description, "Multiplies numbers by a factor");
    assertEquals(listed.configSchema.properties.factor.type, "integer");
    const body = JSON.stringify(chain("http-scaled", { nodeType: "math.scale", config: { factor: 5 } }));
    const created = await fetch(`${url}/api/v1/workflows`, { method: "POST", body });
    assertEquals(created.status, 201, await created.clone().text());
    await created.body?.cancel();
    const bad = await fetch(`${url}/api/v1/workflows`, {
      method: "POST",
      body: JSON.stringify(chain("http-bad", { nodeType: "math.scale", config: { factor: -1 } })),
    });
    assertEquals(bad.status, 400);
    assertEquals((await bad.json()).error.details[0].path, "$.nodes[1].config.factor");
    const run = await (await fetch(`${url}/api/v1/workflows/http-scaled/execute?wait=10000`, {
      method: "POST",
    })).json();
    assertEquals(run.status, "completed");
    const output = await (await fetch(`${url}/api/v1/executions/${run.executionId}/nodes/k/output`)).json();
    assertEquals(output.records, [5, 10, 15]);
    // The engine in process sees what HTTP made.
    assertEquals((await engine.get(run.executionId)).status, "completed");
  } finally {
    await engine.close();
  }
});

Deno.test("embed: attempts get their key, signal, logger and span; errors retry or not as classified", async () => {
  const seen: { key: string; aborted: boolean; traceparent?: string }[] = [];
  const lines: string[] = [];
  let calls = 0;
  const flaky = defineNodeKind({
    type: "transform",
    name: "test.flaky",
    configSchema: z.object({ failFirst: z.number().int().default(0), fatal: z.boolean().default(false) }),
    run: (ctx, input) => {
      calls++;
      seen.push({ key: ctx.idempotencyKey, aborted: ctx.signal.aborted, traceparent: ctx.span.traceparent });
      ctx.log.info("attempt", { n: ctx.attempt });
      ctx.span.setAttribute("records", input.length);
      if (ctx.config.fatal) throw new NodeError("bad_input", "this input can never work", false);
      if (ctx.attempt <= ctx.config.failFirst) throw new Error(`transient ${ctx.attempt}`);
      return input;
    },
  });
  const engine = await createEngine({
    storage: "memory",
    nodeKinds: [flaky],
    log: { debug() {}, info: (m) => lines.push(m), warn() {}, error() {}, with: () => engine as never },
  });
  try {
    const retried = chain("flaky", { nodeType: "test.flaky", config: { failFirst: 2 } });
    retried.nodes[1].retry = {
      maxAttempts: 3,
      initialIntervalMs: 1,
      backoffCoefficient: 1,
      maxIntervalMs: 5,
    };
    await engine.putWorkflow(retried);
    const run = await engine.execute("flaky", { wait: 10_000 });
    assertEquals(run.status, "completed");
    assertEquals(run.nodes.find((n) => n.nodeId === "m")?.attempts, 3);
    assertEquals(seen.map((s) => s.key), Array(3).fill(`${run.executionId}:m`));
    assert(seen.every((s) => !s.aborted));
    assert(lines.filter((l) => l === "attempt").length >= 3, lines.join());

    await engine.putWorkflow(chain("fatal", { nodeType: "test.flaky", config: { fatal: true } }));
    const before = calls;
    const failed = await engine.execute("fatal", { wait: 10_000 });
    assertEquals(failed.status, "failed");
    const node = failed.nodes.find((n) => n.nodeId === "m")!;
    assertEquals(calls - before, 1, "a non-retryable error is not retried");
    assert(JSON.stringify(node.error).includes("bad_input"), JSON.stringify(node.error));
  } finally {
    await engine.close();
  }
});

Deno.test("embed: cancel aborts a running attempt's signal; subscribe follows the events to the end", async () => {
  let abortedWith: string | undefined;
  const slow = defineNodeKind({
    type: "transform",
    name: "test.slow",
    run: (ctx, input) =>
      new Promise<Json[]>((resolve, reject) => {
        const timer = setTimeout(() => resolve(input), 30_000);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          abortedWith = String(ctx.signal.reason ?? "aborted");
          reject(new Error("stopped"));
        });
      }),
  });
  const engine = await createEngine({ storage: "memory", nodeKinds: [slow, upper], log: "silent" });
  try {
    await engine.putWorkflow(chain("slow", { nodeType: "test.slow", config: {} }));
    const run = await engine.execute("slow");
    const events: ExecutionEvent[] = [];
    const following = (async () => {
      for await (const e of engine.subscribe(run.executionId, { pollMs: 10 })) events.push(e);
    })();
    for (let i = 0; i < 500 && (await engine.get(run.executionId)).nodes[1].status !== "running"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await engine.cancel(run.executionId, "enough");
    await following;
    assert(abortedWith !== undefined, "the attempt's signal was aborted");
    assertEquals(events[0].type, "ExecutionStarted");
    assertEquals(events.at(-1)?.type, "ExecutionCancelled");
    assertEquals(events.map((e) => e.seq), events.map((_, i) => i + 1), "every event once, in order");
    assertEquals((await engine.wait(run.executionId, 1000)).status, "cancelled");
  } finally {
    await engine.close();
  }
});

Deno.test("embed: an unknown workflow and a closed engine are refused with a code", async () => {
  const engine = await createEngine({ storage: "memory", log: "silent" });
  const err = await refusal(() => engine.execute("nope"));
  assertEquals([err.status, err.code], [404, "workflow_not_found"]);
  await engine.close();
  await assertRejects(() => engine.get("x"), /closed/);
});

Deno.test("embed: a kind defined twice, or clashing with a built-in, is refused at start", async () => {
  const clash = defineNodeKind({ type: "transform", name: "filter", run: (_c, i) => i });
  await assertRejects(() => createEngine({ storage: "memory", nodeKinds: [clash] }), /already defined/);
  await assertRejects(
    () => createEngine({ storage: "memory", nodeKinds: [upper, upper] }),
    /already defined/,
  );
});

Deno.test("embed: the embedded store keeps workflows and executions across a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await createEngine({ storage: { embedded: dir }, nodeKinds: [scale], log: "silent" });
    let executionId: string;
    try {
      await runsCustomKinds(first);
      executionId = (await first.execute("scaled", { wait: 10_000, input: null })).executionId;
    } finally {
      await first.close();
    }
    const second = await createEngine({ storage: { embedded: dir }, nodeKinds: [scale], log: "silent" });
    try {
      assertEquals((await second.get(executionId)).status, "completed");
      assertEquals(await second.output(executionId, "k"), [3, 6, 9]);
      assertEquals((await second.getWorkflow("scaled"))?.nodes[1].config, { factor: 3 });
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

pgTest("embed: PostgreSQL storage runs custom kinds", async () => {
  await withTempDatabase(async (url) => {
    const engine = await createEngine({ storage: { postgres: url }, nodeKinds: [scale], log: "silent" });
    try {
      await runsCustomKinds(engine);
    } finally {
      await engine.close();
    }
  });
});

pgTest(
  "embed: two embedded engines form a cluster; each routes to the owner and survives the other leaving",
  async () => {
    await withTempDatabase(async (url) => {
      const [portA, portB] = [freePort(), freePort()];
      const member = (nodeId: string, port: number, seed: number) =>
        createEngine({
          storage: { postgres: url },
          nodeKinds: [scale],
          log: "silent",
          cluster: { nodeId, port, seeds: [`127.0.0.1:${seed}`], secret: "embedded-cluster-secret" },
        });
      const a = await member("emb-a", portA, portB);
      const b = await member("emb-b", portB, portA);
      try {
        for (let i = 0; i < 300; i++) {
          const stats = await a.request<{ members: { status: string }[] }>("GET", "/api/v1/cluster/stats");
          if (stats.members.filter((m) => m.status === "up").length === 2) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await a.putWorkflow(chain("clustered", { nodeType: "math.scale", config: { factor: 7 } }));
        const runs = await Promise.all(
          Array.from({ length: 8 }, (_, i) => a.execute("clustered", { idempotencyKey: `k${i}` })),
        );
        for (const run of runs) {
          assertEquals((await b.wait(run.executionId, 15_000)).status, "completed");
          assertEquals(await b.output(run.executionId, "k"), [7, 14, 21]);
        }
        const shards = await b.request<{ shards: { location: string }[] }>("GET", "/api/v1/cluster/shards");
        assertEquals(new Set(shards.shards.map((s) => s.location)), new Set(["emb-a", "emb-b"]));
        await a.close();
        const after = await b.execute("clustered", { wait: 15_000 });
        assertEquals(after.status, "completed");
      } finally {
        await a.close();
        await b.close();
      }
    });
  },
);
