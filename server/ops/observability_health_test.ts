/**
 * Health from real state (`/health` breakdown and status code, `/health/ready`), `/metrics` on a node
 * without the api-gateway role, and the structured log fields of the engine's lines.
 */
import { shardOf } from "../../core/ids.ts";
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { createLogger } from "./log.ts";
import { startNode } from "../start.ts";
import { createWorkflow, executeAndWait, getJson, through, withNode } from "../../testing/server.ts";

/** Memory storage whose ping can be made to fail (storage unreachable). */
class SwitchableStorage extends MemoryStorage {
  down = false;
  override ping(): Promise<boolean> {
    return Promise.resolve(!this.down);
  }
}

Deno.test("health: /health breaks the state down, and answers 503 once storage is unreachable", async () => {
  const storage = new SwitchableStorage();
  await withNode(async (node) => {
    const up = await getJson(node, "/health");
    assertStrictEquals(up.status, 200);
    assertEquals(
      { status: up.body.status, storage: up.body.storage, ready: up.body.ready, node: up.body.node },
      { status: "ok", storage: "memory", ready: true, node: "node-1" },
    );
    const { checks, memory } = up.body;
    assertEquals(checks.storage.status, "up");
    assertEquals(checks.storage.kind, "memory");
    assertStrictEquals(typeof checks.storage.pingMs, "number");
    assertEquals(
      { status: checks.engine.status, shards: checks.engine.shards, live: checks.engine.liveExecutions },
      { status: "up", shards: 128, live: 0 },
    );
    assertStrictEquals(checks.engine.pendingTimers, 0);
    assertEquals(checks.cluster, { status: "up", cutOff: false, leader: "node-1", members: { up: 1 } });
    assertEquals(checks.eventLoop.status, "ok");
    assert(checks.eventLoop.lagMs === null || typeof checks.eventLoop.lagMs === "number");
    for (const key of ["rssBytes", "heapUsedBytes", "heapTotalBytes", "externalBytes"]) {
      assert(Number.isInteger(memory[key]) && memory[key] > 0, `${key}: ${memory[key]}`);
    }

    storage.down = true;
    const down = await getJson(node, "/health");
    assertStrictEquals(down.status, 503);
    assertEquals([down.body.status, down.body.ready, down.body.checks.storage.status], [
      "unhealthy",
      false,
      "down",
    ]);
    assertEquals(down.body.checks.engine.status, "up");
    const ready = await getJson(node, "/health/ready");
    assertEquals([ready.status, ready.body.status, ready.body.storage], [503, "not_ready", false]);
    // Liveness is about the process, not its dependencies.
    assertEquals((await getJson(node, "/health/live")).status, 200);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert(metrics.split("\n").includes("workflow_storage_up 0"), metrics);

    storage.down = false;
    assertStrictEquals((await getJson(node, "/health")).status, 200);
  }, { storage });
});

Deno.test("health: a blocked event loop makes /health degraded (still 200)", async () => {
  await withNode(async (node) => {
    // The lag timer fires every 500 ms: blocking 2 s makes its next tick at least 1.5 s late.
    const until = performance.now() + 2_000;
    while (performance.now() < until) { /* block the loop */ }
    const r = await getJson(node, "/health");
    assertStrictEquals(r.status, 200, r.text);
    assertEquals([r.body.status, r.body.ready, r.body.checks.eventLoop.status], ["degraded", true, "slow"]);
    assert(r.body.checks.eventLoop.lagMs >= 1_000, r.text);
  });
});

Deno.test("metrics: a node without the api-gateway role still serves /metrics and /health", async () => {
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    storage: "memory",
    roles: ["coordinator", "worker"],
  });
  try {
    const api = await getJson(node, "/api/v1/workflows");
    assertEquals([api.status, api.body.error.code], [503, "not_a_gateway"]);
    const metrics = await fetch(`${node.url}/metrics`);
    const text = await metrics.text();
    assertStrictEquals(metrics.status, 200);
    assert(text.includes("# TYPE workflow_execution_total counter"), text);
    assertStrictEquals((await getJson(node, "/health")).status, 200);
  } finally {
    await node.close();
  }
});

Deno.test("logs: JSON lines carry timestamp, level, node, and the engine's event, executionId, workflowId, shard", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(
    { level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) },
    { node: "node-1" },
  );
  await withNode(async (node) => {
    await createWorkflow(node, through("wf-log", [1, 2]));
    const id: string = (await executeAndWait(node, "wf-log")).body.executionId;
    const mine = lines.filter((l) => l.executionId === id && typeof l.event === "string");
    const started = mine.find((l) => l.event === "execution_started");
    const ended = mine.find((l) => l.event === "execution_ended");
    assert(started && ended, JSON.stringify(mine));
    assertEquals(Object.keys(started).sort(), [
      "event",
      "executionId",
      "level",
      "msg",
      "node",
      "shard",
      "timestamp",
      "workflowId",
    ]);
    assertEquals([started.level, started.msg, started.node, started.workflowId], [
      "debug",
      "execution started",
      "node-1",
      "wf-log",
    ]);
    assertMatch(String(started.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assertStrictEquals(started.shard, shardOf(id, node.engine.shardCount));
    assertEquals([ended.status, typeof ended.durationMs, ended.shard], [
      "completed",
      "number",
      started.shard,
    ]);
  }, { log });

  // At the default level (info) the per-execution lines are not written at all.
  const quiet: string[] = [];
  const info = createLogger({ level: "info", format: "json", write: (l) => quiet.push(l) });
  await withNode(async (node) => {
    await createWorkflow(node, through("wf-quiet", [1]));
    await executeAndWait(node, "wf-quiet");
    assert(!quiet.some((l) => l.includes("execution_started")), quiet.join("\n"));
  }, { log: info });

  const pretty: string[] = [];
  createLogger({ level: "info", format: "pretty", write: (l) => pretty.push(l) }, { node: "n1" })
    .warn("append failed; will retry", { event: "append_failed", shard: 3 });
  assertMatch(
    pretty[0],
    /^\d{4}-\d\d-\d\dT\S+Z WARN {2}append failed; will retry node=n1 event=append_failed shard=3$/,
  );
});
