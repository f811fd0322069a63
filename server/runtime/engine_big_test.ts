/**
 * The history bound in the engine (`EngineLimits.maxHistoryEvents`, `--max-history-events`): an execution
 * that would pass it ends failed with `history_too_large`, its stored history within the bound and whole
 * (replayed, it gives the state the engine shows), and a retry with no room is refused; one that fits runs
 * as before. The bounded output caches: a live execution's keeps a long chain's inputs right and reads an
 * evicted output again; an ended execution's pages read its output once.
 */
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { replay } from "../../core/state.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { testEngine } from "../../testing/engine.ts";
import {
  assertApiError,
  createWorkflow,
  execute,
  getJson,
  postJson,
  withNode,
} from "../../testing/server.ts";
import { checkWorkflow } from "./workflows.ts";

/** `numbers(1..3) → n maps (each adds 1) → collect`: 1 + 3 (n + 2) + 1 events when it completes. */
function chain(id: string, maps: number): WorkflowDefinition {
  const nodes: WorkflowDefinition["nodes"] = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    ...Array.from({ length: maps }, (_, i) => ({
      id: `m${i}`,
      type: "transform" as const,
      nodeType: "map",
      config: { expression: "value + 1" },
    })),
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ];
  return {
    id,
    name: id,
    nodes,
    edges: nodes.slice(1).map((n, i) => ({ source: nodes[i].id, target: n.id })),
  };
}

Deno.test("engine: past maxHistoryEvents a run fails history_too_large, its history whole", async () => {
  const storage = new MemoryStorage();
  const engine = testEngine(storage, { maxHistoryEvents: 100 });
  await engine.start();
  try {
    const put = async (def: WorkflowDefinition) => {
      const checked = checkWorkflow(def);
      if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
      const r = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
      if (!r.ok) throw new Error("stored");
      return r.workflow;
    };
    // 40 maps need 1 + 3 * 42 + 1 = 128 events: past the bound.
    const long = await put(chain("long", 40));
    const started = await engine.submit(long, { input: null });
    assert(started.ok);
    const id = started.value.executionId;
    const view = await engine.wait(id, 10_000);
    assertStrictEquals(view?.status, "failed");
    assertStrictEquals(view?.error?.code, "history_too_large");
    assert(view!.error!.message.includes("100 events"), view!.error!.message);
    assert(view!.nodes.every((n) => n.status !== "running" && n.status !== "pending"), "every node ended");
    const events = await engine.events(id);
    assertStrictEquals(events.length, 100);
    assertEquals(events.map((e) => e.seq), events.map((_, i) => i + 1));
    assertStrictEquals(events[99].type, "ExecutionFailed");
    const plan = (await engine.plan("long", 1))!;
    assertEquals(replay(id, plan, events), await engine.state(id));
    assertStrictEquals((await storage.getExecution(id))?.status, "failed");

    const retried = await engine.retry(id);
    assert(!retried.ok && retried.error.code === "history_too_large", JSON.stringify(retried));
    assertStrictEquals((await engine.events(id)).length, 100, "a refused retry writes nothing");

    // 20 maps need 1 + 3 * 22 + 1 = 68 events: within the bound, and every map ran on its parent's output.
    const short = await put(chain("short", 20));
    const ok = await engine.submit(short, { input: null });
    assert(ok.ok);
    assertStrictEquals((await engine.wait(ok.value.executionId, 10_000))?.status, "completed");
    const out = await engine.output(ok.value.executionId, "out");
    assertEquals(out.ok && out.value, [21, 22, 23]);
  } finally {
    await engine.stop();
  }
});

Deno.test("engine: an output out of the actor's cache (maxRecords 4: 8) is read again", async () => {
  const reads: string[] = [];
  const storage = new class extends MemoryStorage {
    override getOutput(executionId: string, ref: string) {
      reads.push(ref);
      return super.getOutput(executionId, ref);
    }
  }();
  // Each node commits on its own (no local batch), so each reads its inputs through the cache.
  const engine = testEngine(storage, { maxRecords: 4, localBatchBytes: 0 });
  await engine.start();
  try {
    // numbers(1..1) → 12 maps → out, and numbers → out: one record an output, 2 of the cache's 8 each, so
    // by the time `out` runs the source's output has left the cache.
    const def = chain("cached", 12);
    def.nodes[0].config = { start: 1, end: 1 };
    def.edges.push({ source: "src", target: "out" });
    const checked = checkWorkflow(def);
    if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
    const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
    assert(put.ok);
    const started = await engine.submit(put.workflow, { input: null });
    assert(started.ok);
    assertStrictEquals((await engine.wait(started.value.executionId, 10_000))?.status, "completed");
    assertEquals(reads, ["src@1"], "only the evicted output is read again");
    const out = await engine.output(started.value.executionId, "out");
    assertEquals(out.ok && out.value, [13, 1]);
    // Ended, so not live: its outputs are read from storage once, then pages come from the read cache.
    assertStrictEquals(engine.activeExecutions, 0);
    for (let page = 0; page < 3; page++) {
      const m5 = await engine.output(started.value.executionId, "m5");
      assertEquals(m5.ok && m5.value, [7]);
    }
    assertEquals(reads, ["src@1", "out@1", "m5@1"]);
  } finally {
    await engine.stop();
  }
});

Deno.test("HTTP: --max-history-events fails a long run (history_too_large); its retry is 409", async () => {
  await withNode(
    async (node) => {
      await createWorkflow(node, chain("long-http", 40));
      const run = await execute(node, "long-http");
      assertStrictEquals(run.status, 200, run.text);
      assertStrictEquals(run.body.status, "failed");
      assertStrictEquals(run.body.error.code, "history_too_large");
      const id = run.body.executionId;
      const events = await getJson(node, `/api/v1/executions/${id}/events`);
      assertStrictEquals(events.status, 200, events.text);
      assertStrictEquals(events.body.events.length, 100);
      assertStrictEquals(events.body.events[99].error.code, "history_too_large");
      const retry = await postJson(node, `/api/v1/executions/${id}/retry`, {});
      assertApiError(retry, 409, "history_too_large");
    },
    {},
    { maxHistoryEvents: 100 },
  );
});
