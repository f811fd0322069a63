/**
 * The embedded engine's edges: a config schema that throws refuses the config (never the process), a schema
 * whose output is not JSON is refused, settings are checked as `deno task serve` checks them, `serve` keeps the
 * loopback rule, concurrent `putWorkflow` calls both land, and `close()` ends every `subscribe` at once.
 */
import { z } from "npm:zod@4.6.7";
import { createEngine, defineNodeKind, FlowmeshError } from "../../mod.ts";
import { ConfigError } from "../ops/config.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../testing/assert.ts";

function workflow(id: string, config: Record<string, unknown>, nodeType = "test.parse") {
  return {
    id,
    name: id,
    nodes: [
      { id: "s", type: "source", nodeType: "memory.collection", config: { data: [1] } },
      { id: "m", type: "transform", nodeType, config },
      { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "s", target: "m" }, { source: "m", target: "k" }],
  };
}

async function refusal(fn: () => Promise<unknown>): Promise<FlowmeshError> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof FlowmeshError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

Deno.test("embed edges: a schema that throws, or gives what JSON cannot hold, refuses the config", async () => {
  const parse = defineNodeKind({
    type: "transform",
    name: "test.parse",
    configSchema: z.object({ s: z.string().transform((s) => JSON.parse(s)) }),
    run: (_c, i) => i,
  });
  const dated = defineNodeKind({
    type: "transform",
    name: "test.dated",
    configSchema: z.object({ at: z.coerce.date() }),
    run: (_c, i) => i,
  });
  const engine = await createEngine({ storage: "memory", nodeKinds: [parse, dated], log: "silent" });
  try {
    const threw = await refusal(() => engine.putWorkflow(workflow("w1", { s: "{bad" })));
    assertEquals([threw.code, threw.details[0].code], ["validation_failed", "config_invalid"]);
    assertEquals(threw.details[0].path, "$.nodes[1].config");
    const dates = await refusal(() => engine.putWorkflow(workflow("w2", { at: "2026-01-01" }, "test.dated")));
    assertEquals(dates.details[0].code, "config_invalid");
    assert(dates.details[0].message.includes("JSON"), dates.details[0].message);
    // The engine still runs: a good config goes through.
    assertEquals((await engine.putWorkflow(workflow("w3", { s: '{"a":1}' }))).version, 1);
  } finally {
    await engine.close();
  }
});

Deno.test("embed edges: settings are checked; serve keeps the loopback rule without tokens", async () => {
  await assertRejects(
    () => createEngine({ storage: "memory", cluster: { nodeId: "a", port: 1, secret: "x".repeat(16) } }),
    ConfigError,
    "a cluster needs shared storage",
  );
  await assertRejects(
    () =>
      createEngine({
        storage: "memory",
        settings: { apiTokens: [{ role: "viewer", token: "v".repeat(16) }] },
      }),
    ConfigError,
    "need an admin one",
  );
  const engine = await createEngine({ storage: "memory", log: "silent" });
  try {
    assertThrows(() => engine.serve({ hostname: "0.0.0.0" }), ConfigError, "not a loopback address");
    const { url } = engine.serve({ hostname: "127.0.0.1" });
    const res = await fetch(`${url}/health/live`);
    assertEquals(res.status, 200);
    await res.body?.cancel();
  } finally {
    await engine.close();
  }
  const closed = await refusal(() => engine.get("x"));
  assertEquals(closed.code, "engine_closed");
});

Deno.test("embed edges: concurrent putWorkflow calls of one new id both land, as versions", async () => {
  const engine = await createEngine({ storage: "memory", log: "silent" });
  try {
    const defs = [1, 2, 3].map((count) => workflow("same", { count }, "limit"));
    const stored = await Promise.all(defs.map((d) => engine.putWorkflow(d)));
    assertEquals(stored.map((s) => s.version).sort(), [1, 2, 3]);
  } finally {
    await engine.close();
  }
});

Deno.test("embed edges: close() ends a subscribe loop that waits, whatever its pollMs", async () => {
  const slow = defineNodeKind({
    type: "transform",
    name: "test.never",
    run: (ctx) =>
      new Promise((_r, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("stop")))),
  });
  const engine = await createEngine({ storage: "memory", nodeKinds: [slow], log: "silent" });
  await engine.putWorkflow(workflow("never", {}, "test.never"));
  const run = await engine.execute("never");
  const seen: string[] = [];
  const following = (async () => {
    for await (const e of engine.subscribe(run.executionId, { pollMs: 60_000 })) seen.push(e.type);
  })();
  while (!seen.includes("NodeStarted")) await new Promise((r) => setTimeout(r, 10));
  await engine.close();
  await following; // ends at once: the 60 s sleep is woken by close()
  assertEquals(seen[0], "ExecutionStarted");
});
