/**
 * The cluster routes over real HTTP against a standalone node, which runs a
 * cluster of one: stats, the shard map, execution and workflow locations, and
 * the cluster event log.
 */
import { ROLES } from "../../core/cluster.ts";
import { shardOf } from "../../core/ids.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import type { RunningNode } from "../start.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  execute,
  getJson,
  n,
  postJson,
  waitForExecution,
  withNode,
} from "../../testing/server.ts";
import { sleep } from "../../testing/wait.ts";

const SHARDS = 128;

/** A workflow that stays running until it is sent the signal `go`. */
const waiting = (id: string) =>
  chain(
    id,
    n("src", "source/memory.collection", { data: [1] }),
    n("w", "control/signal.wait", { name: "go" }),
    n("out", "sink/memory.collect"),
  );

/** Starts an execution that keeps running; returns its id. */
async function startWaiting(node: RunningNode, workflowId: string): Promise<string> {
  const r = await execute(node, workflowId, { wait: 0 });
  assertEquals(r.status, 202, r.text);
  return r.body.executionId;
}

/** Waits until the node's last cluster snapshot agrees with storage (the take-up re-claim is seen). */
async function settled(node: RunningNode): Promise<void> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const rows = await node.storage.getShards();
    const snap = node.cluster.snapshot.shards;
    if (rows.length === SHARDS && rows.every((r) => snap[r.shard]?.epoch === r.epoch)) return;
    if (Date.now() > deadline) throw new Error("the cluster snapshot never caught up with storage");
    await sleep(20);
  }
}

Deno.test("cluster api: /api/v1/cluster/stats shows one member, up, leading, with every shard", async () => {
  await withNode(async (node) => {
    const self = node.cluster.opts.nodeId;
    const r = await getJson(node, "/api/v1/cluster/stats");
    assertEquals(r.status, 200, r.text);
    assertStrictEquals(r.body.clusterName, "flowmesh");
    assertStrictEquals(r.body.nodeCount, 1);
    assertStrictEquals(r.body.leader, self);
    assertStrictEquals(r.body.selfId, self);
    assertEquals(r.body.selfRoles, [...ROLES]);
    assertStrictEquals(r.body.selfAddress, node.url.slice("http://".length));
    assertStrictEquals(r.body.members.length, 1);
    const [m] = r.body.members;
    assertEquals(
      { id: m.id, status: m.status, roles: m.roles, httpAddress: m.httpAddress, shardCount: m.shardCount },
      {
        id: self,
        status: "up",
        roles: [...ROLES],
        httpAddress: node.url.slice("http://".length),
        shardCount: SHARDS,
      },
    );
    assertStrictEquals(m.liveExecutions, 0);
    assertStrictEquals(typeof m.lastHeartbeat, "number");
    assert(m.lastHeartbeat <= Date.now());
    assertEquals(r.body.sharding, {
      totalShards: SHARDS,
      activeShards: SHARDS,
      totalEntities: 0,
      selfShards: SHARDS,
      selfLiveExecutions: 0,
      selfStatus: "up",
    });
    assertStrictEquals(typeof r.body.at, "number");
  });
});

Deno.test("cluster api: /api/v1/cluster/shards lists every shard here; entityCount counts running executions", async () => {
  await withNode(async (node) => {
    const self = node.cluster.opts.nodeId;
    await settled(node);
    const r = await getJson(node, "/api/v1/cluster/shards");
    assertEquals(r.status, 200, r.text);
    assertStrictEquals(r.body.entityType, "execution");
    assertStrictEquals(r.body.totalShards, SHARDS);
    assertStrictEquals(r.body.activeShards, SHARDS);
    assertEquals(r.body.shards.map((s: { shardId: number }) => s.shardId), [...Array(SHARDS).keys()]);
    const epochs = new Map((await node.storage.getShards()).map((s) => [s.shard, s.epoch]));
    for (const s of r.body.shards) {
      assertStrictEquals(s.location, self);
      assert(s.epoch >= 1, `shard ${s.shardId} at epoch ${s.epoch}`);
      assertStrictEquals(s.epoch, epochs.get(s.shardId));
      assertStrictEquals(node.engine.ownedShards.get(s.shardId), s.epoch);
      assertStrictEquals(s.entityCount, 0);
    }

    await createWorkflow(node, waiting("wf-held"));
    const id = await startWaiting(node, "wf-held");
    const shard = shardOf(id, SHARDS);
    const held = await getJson(node, "/api/v1/cluster/shards");
    for (const s of held.body.shards) assertStrictEquals(s.entityCount, s.shardId === shard ? 1 : 0);
    const stats = await getJson(node, "/api/v1/cluster/stats");
    assertStrictEquals(stats.body.sharding.totalEntities, 1);
    assertStrictEquals(stats.body.sharding.selfLiveExecutions, 1);
    assertStrictEquals(stats.body.members[0].liveExecutions, 1);

    // Once it ends it no longer counts.
    assertEquals((await postJson(node, `/api/v1/executions/${id}/signals/go`, {})).status, 200);
    await waitForExecution(node, id, (v) => v.status === "completed");
    const after = await getJson(node, "/api/v1/cluster/shards");
    assert(after.body.shards.every((s: { entityCount: number }) => s.entityCount === 0));
  });
});

Deno.test("cluster api: location of an execution and of a workflow's latest execution", async () => {
  await withNode(async (node) => {
    const self = node.cluster.opts.nodeId;
    await settled(node);
    await createWorkflow(node, waiting("wf-where"));
    // No execution yet: the shard of the workflow itself (its schedule's); unknown workflow: 404.
    const never = await getJson(node, "/api/v1/cluster/workflow/wf-where/location");
    assertEquals(never.status, 200, never.text);
    const home = shardOf("wf:wf-where", SHARDS);
    assertEquals(never.body, {
      workflowId: "wf-where",
      shardId: home,
      owner: self,
      nodeAddress: node.url.slice("http://".length),
      epoch: node.engine.ownedShards.get(home),
    });
    assertApiError(await getJson(node, "/api/v1/cluster/workflow/nope/location"), 404, "workflow_not_found");

    const first = await startWaiting(node, "wf-where");
    const r = await getJson(node, `/api/v1/cluster/executions/${first}/location`);
    assertEquals(r.status, 200, r.text);
    const shard = shardOf(first, SHARDS);
    assertEquals(r.body, {
      executionId: first,
      shardId: shard,
      owner: self,
      nodeAddress: node.url.slice("http://".length),
      epoch: node.engine.ownedShards.get(shard),
    });
    assertStrictEquals((await node.storage.getExecution(first))?.shard, shard);

    assertApiError(
      await getJson(node, "/api/v1/cluster/executions/ex-does-not-exist/location"),
      404,
      "execution_not_found",
    );

    const w1 = await getJson(node, "/api/v1/cluster/workflow/wf-where/location");
    assertEquals(w1.status, 200, w1.text);
    assertEquals(w1.body, { workflowId: "wf-where", ...r.body });

    await sleep(5); // a later start time
    const second = await startWaiting(node, "wf-where");
    const w2 = await getJson(node, "/api/v1/cluster/workflow/wf-where/location");
    assertStrictEquals(w2.body.workflowId, "wf-where");
    assertStrictEquals(w2.body.executionId, second);
    assertStrictEquals(w2.body.shardId, shardOf(second, SHARDS));
    assertStrictEquals(w2.body.owner, self);

    for (const id of [first, second]) {
      assertEquals((await postJson(node, `/api/v1/executions/${id}/signals/go`, {})).status, 200);
      await waitForExecution(node, id, (v) => v.status === "completed");
    }
    // Ended executions still have a location.
    assertStrictEquals((await getJson(node, `/api/v1/cluster/executions/${first}/location`)).status, 200);
  });
});

Deno.test("cluster api: /api/v1/events lists the cluster log newest first, by type, limited", async () => {
  await withNode(async (node) => {
    const self = node.cluster.opts.nodeId;
    const all = await getJson(node, "/api/v1/events?limit=1000");
    assertEquals(all.status, 200, all.text);
    const events = all.body.events as {
      at: number;
      type: string;
      node: string;
      details: Record<string, unknown>;
    }[];
    const types = new Set(events.map((e) => e.type));
    for (const t of ["shard_started", "shard_rebalance", "member_event", "leader_changed"]) {
      assert(types.has(t), t);
    }
    for (let i = 1; i < events.length; i++) assert(events[i - 1].at >= events[i].at, "newest first");
    assert(events.every((e) => e.node === self));

    // The start is one round: one shard_rebalance listing every move, one shard_started listing every shard.
    const started = await getJson(node, "/api/v1/events?type=shard_started&limit=1000");
    assertEquals(started.status, 200);
    assertStrictEquals(started.body.events.length, 1);
    const [start] = started.body.events;
    assertStrictEquals(start.type, "shard_started");
    assertStrictEquals(start.details.count, SHARDS);
    assertStrictEquals(start.details.recovered, 0);
    assertStrictEquals(typeof start.details.recoveryMs, "number");
    assertEquals(start.details.shards.map((s: { shard: number }) => s.shard), [...Array(SHARDS).keys()]);
    for (const s of start.details.shards) {
      assert(s.epoch >= 1);
      assertStrictEquals(s.recovered, 0);
      assertStrictEquals(typeof s.recoveryMs, "number");
    }
    const rebalanced = await getJson(node, "/api/v1/events?type=shard_rebalance&limit=1000");
    assertStrictEquals(rebalanced.body.events.length, 1);
    assertStrictEquals(rebalanced.body.events[0].details.count, SHARDS);
    assertEquals(
      rebalanced.body.events[0].details.moves.map((m: { shard: number; to: string }) => [m.shard, m.to]),
      [...Array(SHARDS).keys()].map((shard) => [shard, self]),
    );
    const leader = await getJson(node, "/api/v1/events?type=leader_changed");
    assertEquals(leader.body.events.map((e: { details: unknown }) => e.details), [{ from: null, to: self }]);
    const joined = await getJson(node, "/api/v1/events?type=member_event");
    assertEquals(joined.body.events.at(-1).details, { member: self, event: "joined", roles: [...ROLES] });

    // Limits (a standalone start writes a handful of events: add 120 of another type).
    for (let k = 0; k < 120; k++) {
      await node.storage.appendClusterEvent({
        at: Date.now(),
        type: "test_event",
        node: self,
        details: { k },
      });
    }
    const now = (await getJson(node, "/api/v1/events?limit=1000")).body.events;
    assertStrictEquals(now.length, events.length + 120);
    assertEquals((await getJson(node, "/api/v1/events?limit=5")).body.events, now.slice(0, 5));
    const two = await getJson(node, "/api/v1/events?type=test_event&limit=2");
    assertEquals(two.body.events.map((e: { details: unknown }) => e.details), [{ k: 119 }, { k: 118 }]);
    const onlyStarted = await getJson(node, "/api/v1/events?type=shard_started&limit=2");
    assertEquals(onlyStarted.body.events, started.body.events);
    // The default limit is 100.
    assertEquals((await getJson(node, "/api/v1/events")).body.events, now.slice(0, 100));
    assertEquals((await getJson(node, "/api/v1/events?type=no_such_type")).body.events, []);
    for (const bad of ["0", "1001", "x", "-1"]) {
      assertApiError(await getJson(node, `/api/v1/events?limit=${bad}`), 400, "invalid_parameter");
    }
  });
});
