/**
 * Cluster members over one shared memory storage, each with an engine of its
 * own: allocation, failover of a stopped member (its running executions finish
 * on a survivor), graceful leave, and a restarted member rejoining.
 */
import { balanced } from "../../core/cluster.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import { shardOf } from "../../core/ids.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { ClusterEvent, ShardRecord, StoredWorkflow } from "../../storage/storage.ts";
import type { ClusterMember } from "./member.ts";
import type { Engine } from "../runtime/engine.ts";
import { realServices } from "../executors/services.ts";
import { startTestMember, TEST_MEMBER_TIMINGS } from "../../testing/member.ts";
import { waitUntil } from "../../testing/wait.ts";
import { checkWorkflow } from "../runtime/workflows.ts";

const SHARDS = 16;
const TIMINGS = TEST_MEMBER_TIMINGS;

/** One node: an engine and its cluster member. */
interface TestNode {
  id: string;
  engine: Engine;
  member: ClusterMember;
  stopped: boolean;
}

class TestCluster {
  readonly storage = new MemoryStorage();
  readonly services = realServices();
  readonly nodes = new Map<string, TestNode>();

  async start(id: string): Promise<TestNode> {
    const { engine, member } = await startTestMember(this.storage, id, {
      shardCount: SHARDS,
      services: this.services,
    });
    const node: TestNode = { id, engine, member, stopped: false };
    this.nodes.set(id, node);
    await member.start();
    return node;
  }

  /** Stops a node as a crash would: no more heartbeats, its engine gone. */
  async stop(id: string): Promise<void> {
    const node = this.nodes.get(id)!;
    if (node.stopped) return;
    node.stopped = true;
    await node.member.stop(); // waits for the round in flight, if any
    await node.engine.stop();
  }

  live(): TestNode[] {
    return [...this.nodes.values()].filter((n) => !n.stopped);
  }

  async close(): Promise<void> {
    for (const id of this.nodes.keys()) await this.stop(id);
    await this.services.close();
  }

  async shards(): Promise<ShardRecord[]> {
    return await this.storage.getShards();
  }

  async events(type?: string): Promise<ClusterEvent[]> {
    return await this.storage.listClusterEvents(10_000, type);
  }

  /**
   * Whether the cluster settled: every shard owned by one of `owners`, balanced,
   * and each live engine owning exactly what storage says, at storage's epochs.
   */
  async settled(owners: readonly string[]): Promise<boolean> {
    const rows = await this.shards();
    if (rows.length !== SHARDS) return false;
    if (!balanced(rows, owners, 1)) return false;
    for (const n of this.live()) {
      const mine = new Map(rows.filter((r) => r.owner === n.id).map((r) => [r.shard, r.epoch]));
      if (!sameMap(n.engine.ownedShards, mine)) return false;
    }
    return true;
  }

  /** The live engine that owns an execution's shard. */
  ownerOf(executionId: string): TestNode | undefined {
    const shard = shardOf(executionId, SHARDS);
    return this.live().find((n) => n.engine.ownedShards.has(shard));
  }
}

/**
 * The entries collapsed events list (`moves` of `shard_rebalance`, `shards` of the others), each with its
 * event's time, node and other details (`from`, `to` of a failover).
 */
function listed(events: readonly ClusterEvent[], key: "moves" | "shards"): Listed[] {
  return events.flatMap((e) => {
    const { [key]: list, ...rest } = e.details;
    assert(Array.isArray(list), `${e.type} lists its ${key}: ${JSON.stringify(e.details)}`);
    assertStrictEquals(rest.count, list.length);
    return (list as Record<string, unknown>[]).map((entry) => ({
      ...rest,
      ...entry,
      at: e.at,
      node: e.node,
    }));
  });
}

type Listed = Record<string, unknown> & { at: number; node: string };

const shardsOf = (entries: readonly Listed[]) => entries.map((e) => e.shard as number).sort((x, y) => x - y);

function sameMap(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** A cluster of the given members, started one after the other, settled. */
async function withCluster(ids: string[], fn: (c: TestCluster) => Promise<void>): Promise<void> {
  const c = new TestCluster();
  try {
    for (const id of ids) await c.start(id);
    await waitUntil("the first allocation", () => c.settled(ids), 3_000);
    await fn(c);
  } finally {
    await c.close();
  }
}

async function storeWorkflow(c: TestCluster, id: string, delayMs: number): Promise<StoredWorkflow> {
  const nodes = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    { id: "wait", type: "control", nodeType: "delay", config: { durationMs: delayMs } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ];
  const checked = checkWorkflow({
    id,
    name: id,
    nodes,
    edges: [{ source: "src", target: "wait" }, { source: "wait", target: "out" }],
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await c.storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

/** An execution id whose shard `node` owns. */
function idOwnedBy(node: TestNode): string {
  for (;;) {
    const id = `ex-${crypto.randomUUID()}`;
    if (node.engine.ownedShards.has(shardOf(id, SHARDS))) return id;
  }
}

async function submit(node: TestNode, wf: StoredWorkflow, executionId: string): Promise<void> {
  const r = await node.engine.submit(wf, { executionId, input: null });
  assert(r.ok, `submit on ${node.id}: ${JSON.stringify(r)}`);
  assertStrictEquals(r.value.executionId, executionId);
}

const succeededPerNode = (events: ExecutionEvent[]) => {
  const counts: Record<string, number> = {};
  for (const e of events) if (e.type === "NodeSucceeded") counts[e.nodeId] = (counts[e.nodeId] ?? 0) + 1;
  return counts;
};

async function assertCompletedOnce(c: TestCluster, executionId: string): Promise<void> {
  await waitUntil(
    `${executionId} to complete`,
    async () => (await c.storage.getExecution(executionId))?.status === "completed",
    5_000,
  );
  const events = await c.storage.readEvents(executionId);
  assertEquals(succeededPerNode(events), { src: 1, wait: 1, out: 1 });
  assertStrictEquals(events.filter((e) => e.type === "ExecutionSucceeded").length, 1);
  assertEquals(events.map((e) => e.seq), events.map((_, i) => i + 1));
}

const loadsOf = (rows: readonly ShardRecord[]) => {
  const out: Record<string, number> = {};
  for (const r of rows) out[String(r.owner)] = (out[String(r.owner)] ?? 0) + 1;
  return out;
};

Deno.test("cluster: every shard owned and balanced across members; engines own what storage says", async () => {
  await withCluster(["a", "b", "c"], async (c) => {
    const rows = await c.shards();
    assertEquals(rows.map((r) => r.shard), [...Array(SHARDS).keys()]);
    assertEquals(Object.values(loadsOf(rows)).sort(), [5, 5, 6]);
    for (const r of rows) assert(r.epoch >= 2, `shard ${r.shard}: claimed, then taken up (epoch ${r.epoch})`);
    // Every member agrees on the leader and the map.
    for (const n of c.live()) {
      await n.member.poll();
      assertStrictEquals(n.member.snapshot.leader, "a");
      assertEquals(n.member.snapshot.members.map((m) => [m.id, m.status]), [["a", "up"], ["b", "up"], [
        "c",
        "up",
      ]]);
      assert(n.member.ready);
    }
    assert(await c.settled(["a", "b", "c"]));
    // Joins are recorded; every taken-up shard too.
    const joined = (await c.events("member_event")).filter((e) => e.details.event === "joined");
    assertEquals(joined.map((e) => e.node).sort(), ["a", "b", "c"]);
    const started = listed(await c.events("shard_started"), "shards");
    assert(started.length >= SHARDS);
    assertEquals([...new Set(shardsOf(started))], [...Array(SHARDS).keys()]);
    const leader = await c.events("leader_changed");
    assertEquals(leader.at(-1)?.details, { from: null, to: "a" });
    // A settled cluster moves nothing more.
    const epochs = rows.map((r) => r.epoch);
    await new Promise((r) => setTimeout(r, 150));
    assertEquals((await c.shards()).map((r) => r.epoch), epochs);
  });
});

for (const victimId of ["b", "a"]) {
  const what = victimId === "a" ? "the leader" : "a member";
  Deno.test(`cluster: ${what} stops; survivors take its shards at higher epochs and finish its executions`, async () => {
    await withCluster(["a", "b", "c"], async (c) => {
      const victim = c.nodes.get(victimId)!;
      const wf = await storeWorkflow(c, "slow", 200);
      // Executions running on the victim (delay pending), and one on a survivor.
      const onVictim = [idOwnedBy(victim), idOwnedBy(victim)];
      const survivorNode = c.live().find((n) => n.id !== victimId)!;
      const onSurvivor = idOwnedBy(survivorNode);
      for (const id of onVictim) await submit(c.ownerOf(id)!, wf, id);
      await submit(survivorNode, wf, onSurvivor);
      const before = await c.shards();
      const victimShards = before.filter((r) => r.owner === victimId);
      assert(victimShards.length >= 5);

      const stoppedAt = Date.now();
      await c.stop(victimId);
      const survivors = ["a", "b", "c"].filter((id) => id !== victimId);
      const took = await waitUntil("failover", () => c.settled(survivors), 2_000);
      assert(took < 1_500, `failover took ${took} ms`);

      const after = await c.shards();
      for (const old of victimShards) {
        const now = after[old.shard];
        assert(survivors.includes(now.owner!), `shard ${old.shard} now owned by ${now.owner}`);
        assert(now.epoch > old.epoch, `shard ${old.shard}: epoch ${now.epoch} after ${old.epoch}`);
      }
      // Shards of the survivors stayed where they were (minimal movement).
      for (const old of before.filter((r) => r.owner !== victimId)) {
        assertStrictEquals(after[old.shard].owner, old.owner);
      }

      for (const id of [...onVictim, onSurvivor]) await assertCompletedOnce(c, id);
      for (const id of onVictim) {
        const stored = (await c.storage.getExecution(id))!;
        assert(survivors.includes(after[stored.shard].owner!));
      }

      const failovers = listed(await c.events("workflow_failover"), "shards").filter((e) =>
        e.from === victimId
      );
      assert(failovers.length > 0, "a workflow_failover event");
      for (const f of failovers) {
        assert(survivors.includes(f.to as string));
        assertStrictEquals(f.node, f.to);
        assertStrictEquals(typeof f.downtimeMs, "number");
        assert((f.downtimeMs as number) <= (f.maxDowntimeMs as number));
        const downtime = f.downtimeMs as number;
        assert(
          downtime >= TIMINGS.downAfterMs && downtime < Date.now() - stoppedAt + 100,
          `downtime ${downtime}`,
        );
        assertStrictEquals(f.epoch, after[f.shard as number].epoch);
      }
      // Every shard of the victim failed over once; those with its running executions report them recovered.
      assertEquals(shardsOf(failovers), victimShards.map((r) => r.shard));
      const recovered = failovers.reduce((n, f) => n + (f.recovered as number), 0);
      assertStrictEquals(recovered, onVictim.length);

      const rebalances = listed(await c.events("shard_rebalance"), "moves")
        .filter((e) => e.from === victimId && e.at >= stoppedAt);
      assertEquals(shardsOf(rebalances), victimShards.map((r) => r.shard));
      for (const r of rebalances) {
        assertStrictEquals(r.reason, "orphaned");
        assert(survivors.includes(r.to as string));
        assertStrictEquals(typeof r.detectedAfterMs, "number");
        assert((r.detectedAfterMs as number) >= TIMINGS.downAfterMs);
        assertStrictEquals(
          r.epoch,
          after[r.shard as number].epoch - 1,
          "claimed for the new owner, then taken up",
        );
      }
      assert(
        (await c.events("unreachable_member")).some((e) =>
          e.details.member === victimId && e.details.to === "down"
        ),
      );
      if (victimId === "a") {
        // The new leader records the change it took over from, and its predecessor's failure.
        assertEquals((await c.events("leader_changed"))[0].details, { from: "a", to: "b" });
        assertStrictEquals((await c.events("leader_changed"))[0].node, "b");
      }
    });
  });
}

for (const leaverId of ["c", "a"]) {
  const what = leaverId === "a" ? "the leader" : "a member";
  Deno.test(`cluster: ${what} leaves gracefully; its shards are handed off to the others`, async () => {
    await withCluster(["a", "b", "c"], async (c) => {
      const leaver = c.nodes.get(leaverId)!;
      const wf = await storeWorkflow(c, "slow", 300);
      const running = idOwnedBy(leaver);
      await submit(leaver, wf, running);
      const before = await c.shards();
      const itsShards = before.filter((r) => r.owner === leaverId);

      const started = Date.now();
      await leaver.member.leave(5_000);
      assert(Date.now() - started < 2_000, `the leave took ${Date.now() - started} ms`);
      assertStrictEquals(leaver.engine.ownedShards.size, 0);
      assert(!leaver.member.ready);
      await c.stop(leaverId);

      const others = ["a", "b", "c"].filter((id) => id !== leaverId);
      await waitUntil("the hand-off", () => c.settled(others), 2_000);
      const after = await c.shards();
      for (const old of itsShards) {
        assert(others.includes(after[old.shard].owner!));
        assert(after[old.shard].epoch > old.epoch);
      }
      await assertCompletedOnce(c, running);

      const left = (await c.events("member_event")).filter((e) => e.details.event === "left");
      assertEquals(left.map((e) => e.node), [leaverId]);
      const moves = listed(await c.events("shard_rebalance"), "moves")
        .filter((e) => e.from === leaverId && e.at >= started);
      assertEquals(shardsOf(moves), itsShards.map((r) => r.shard));
      for (const m of moves) assertStrictEquals(m.detectedAfterMs, null); // not a failure
      // The leaver recorded the shards it gave up.
      const stopped = listed(await c.events("shard_stopped"), "shards").filter((e) => e.node === leaverId);
      assertEquals(shardsOf(stopped.filter((e) => e.at >= started)), itsShards.map((r) => r.shard));
      assertEquals(await c.events("workflow_failover"), [], "a graceful leave is no failover");
      const statuses = await c.events("member_event");
      assert(statuses.some((e) => e.details.member === leaverId && e.details.to === "leaving"));
    });
  });
}

Deno.test("cluster: a restarted member rejoins and receives shards back by rebalance", async () => {
  await withCluster(["a", "b", "c"], async (c) => {
    const wf = await storeWorkflow(c, "slow", 300);
    await c.stop("b");
    await waitUntil("failover", () => c.settled(["a", "c"]), 2_000);
    assertEquals(Object.values(loadsOf(await c.shards())).sort(), [8, 8]);
    // Executions on every shard while b rejoins: whatever moves, each ends exactly once.
    const ids: string[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      for (;;) {
        const id = `ex-${crypto.randomUUID()}`;
        if (shardOf(id, SHARDS) !== shard) continue;
        await submit(c.ownerOf(id)!, wf, id);
        ids.push(id);
        break;
      }
    }
    const before = await c.shards();
    c.nodes.delete("b");
    const restartedAt = Date.now();
    const b = await c.start("b");
    await waitUntil("the rebalance", () => c.settled(["a", "b", "c"]), 2_000);
    const after = await c.shards();
    assertEquals(Object.values(loadsOf(after)).sort(), [5, 5, 6]);
    const bShards = after.filter((r) => r.owner === "b");
    assert(bShards.length >= 5);
    for (const r of bShards) {
      assert(r.epoch > before[r.shard].epoch);
      assertStrictEquals(b.engine.ownedShards.get(r.shard), r.epoch);
    }
    const back = listed(await c.events("shard_rebalance"), "moves").filter((e) =>
      e.to === "b" && e.at >= restartedAt
    );
    assertEquals(shardsOf(back), bShards.map((r) => r.shard));
    assert(back.every((e) => e.reason === "rebalance"));
    for (const id of ids) await assertCompletedOnce(c, id);
    // The storage kept b's first joinedAt.
    const record = (await c.storage.listMembers()).find((m) => m.id === "b")!;
    assert(record.joinedAt < record.heartbeatAt);
  });
});

Deno.test("cluster: a single node's start is one shard_rebalance listing every move and one shard_started", async () => {
  await withCluster(["a"], async (c) => {
    const rebalances = await c.events("shard_rebalance");
    assertStrictEquals(rebalances.length, 1);
    assertEquals(rebalances[0].details, {
      count: SHARDS,
      moves: [...Array(SHARDS).keys()].map((shard) => ({
        shard,
        from: null,
        to: "a",
        epoch: 1,
        reason: "orphaned",
        detectedAfterMs: null,
      })),
    });
    const started = await c.events("shard_started");
    assertStrictEquals(started.length, 1);
    const { count, recovered, recoveryMs, shards } = started[0].details as {
      count: number;
      recovered: number;
      recoveryMs: number;
      shards: { shard: number; epoch: number; recovered: number; recoveryMs: number }[];
    };
    assertStrictEquals(count, SHARDS);
    assertEquals(
      shards.map((s) => [s.shard, s.epoch, s.recovered]),
      [...Array(SHARDS).keys()].map((s) => [s, 2, 0]),
    );
    assertStrictEquals(recovered, 0);
    assertStrictEquals(recoveryMs, shards.reduce((n, s) => n + s.recoveryMs, 0));
    // Recorded once the round's shards were all taken up, after the leader's moves.
    assert(started[0].at >= rebalances[0].at);
    assertEquals(await c.events("shard_stopped"), []);
    assertEquals(await c.events("workflow_failover"), []);
  });
});

Deno.test("cluster: a round of more than 1,024 shards is listed over several bounded events", async () => {
  const storage = new MemoryStorage();
  const services = realServices();
  const shardCount = 1_500;
  const { engine, member } = await startTestMember(storage, "a", { shardCount, services });
  try {
    await member.start();
    assertStrictEquals(engine.ownedShards.size, shardCount);
    for (const [type, key] of [["shard_rebalance", "moves"], ["shard_started", "shards"]] as const) {
      const events = (await storage.listClusterEvents(100, type)).reverse();
      assertEquals(events.map((e) => e.details.count), [1_024, shardCount - 1_024], type);
      assertEquals(shardsOf(listed(events, key)), [...Array(shardCount).keys()], type);
    }
  } finally {
    await member.stop();
    await engine.stop();
    await services.close();
  }
});
