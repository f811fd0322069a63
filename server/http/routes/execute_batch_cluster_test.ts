/**
 * The batch route through a two-member cluster on PostgreSQL (two real nodes in this process, one fresh
 * database): a batch posted to either member runs every item on the owner of its shard (the other member's
 * items forwarded as one sub-batch), answers in the order posted, replays each Idempotency-Key through the
 * other member, and names a fault found by the remote owner at the item's place in the batch posted.
 */
import { executionIdFor, shardOf } from "../../../core/ids.ts";
import { assert, assertEquals, assertStrictEquals } from "../../../testing/assert.ts";
import { freePort } from "../../../testing/net.ts";
import { pgTest, withTempDatabase } from "../../../testing/pg.ts";
import { createWorkflow, getJson, n, postJson, through } from "../../../testing/server.ts";
import { waitUntil } from "../../../testing/wait.ts";
import { type RunningNode, startNode } from "../../start.ts";

const SHARDS = 8;
const WORKFLOW = "wf-cluster-batch";

/** Member `id` of a two-member cluster on `databaseUrl`. */
function member(id: string, databaseUrl: string): Promise<RunningNode> {
  return startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "postgres",
    databaseUrl,
    nodeId: id,
    clusterPort: freePort(),
    clusterSecret: "batch-test-cluster-secret",
    shards: SHARDS,
    logLevel: "error",
  });
}

/** The member owning execution `id`'s shard. */
function ownerOf(members: RunningNode[], id: string): RunningNode {
  const shard = shardOf(id, SHARDS);
  const owner = members.find((m) => m.engine.ownedShards.has(shard));
  assert(owner !== undefined, `shard ${shard} has an owner`);
  return owner;
}

pgTest(
  "cluster batch: items run on their shards' owners, in order, idempotent through either member",
  async () => {
    await withTempDatabase(async (url) => {
      const a = await member("a", url);
      let b: RunningNode | undefined;
      try {
        b = await member("b", url);
        const members = [a, b];
        await waitUntil(
          "both members own shards",
          () => a.engine.ownedShards.size > 0 && b!.engine.ownedShards.size > 0,
          15_000,
          50,
        );
        await createWorkflow(
          a,
          through(WORKFLOW, [1, 2], n("double", "transform/map", { expression: "value * 2" })),
        );
        const items = Array.from({ length: 300 }, (_, i) => ({ idempotencyKey: `k-${i}`, input: { i } }));
        const first = await postJson(a, `/api/v1/workflows/${WORKFLOW}/execute/batch`, { items });
        assertEquals(first.status, 200, first.text.slice(0, 500));
        assertEquals([first.body.created, first.body.failed], [300, 0], first.text.slice(0, 500));
        const ids: string[] = first.body.results.map((r: { executionId: string }) => r.executionId);
        ids.forEach((id, i) =>
          assertStrictEquals(id, executionIdFor(WORKFLOW, `k-${i}`), "in the order posted")
        );
        const onB = ids.filter((id) => ownerOf(members, id) === b);
        assert(onB.length > 0 && onB.length < ids.length, `${onB.length} of ${ids.length} items on b`);
        // Each ran on its owner, with its own input.
        for (const i of [0, 1, 150, 299]) {
          const owner = ownerOf(members, ids[i]);
          const events = await getJson(owner, `/api/v1/executions/${ids[i]}/events`);
          assertEquals(events.body.events[0].input, { i }, events.text.slice(0, 300));
        }
        await waitUntil(
          "every execution ended",
          async () => {
            const running = await getJson(
              a,
              `/api/v1/workflows/${WORKFLOW}/executions?status=running&limit=1`,
            );
            return running.body.length === 0;
          },
          30_000,
          50,
        );
        const status = await getJson(b, `/api/v1/workflows/${WORKFLOW}/status`);
        assertStrictEquals(status.body.executionCount, 300);

        // Through the other member: every item replays its execution; a changed one and a missing version are
        // refused by whichever owner runs them, named at their place in this batch.
        // The changed item is owned by a (forwarded from b); the missing versions are owned by each member.
        const changed = ids.findIndex((id) => ownerOf(members, id) === a);
        const again: Record<string, unknown>[] = items.map((item) => ({ ...item }));
        again[changed] = { ...items[changed], input: { i: -1 } };
        const keys = Array.from({ length: 64 }, (_, j) => `v-${j}`);
        const pick = (m: RunningNode) =>
          keys.filter((k) => ownerOf(members, executionIdFor(WORKFLOW, k)) === m);
        const missingKeys = [...pick(a).slice(0, 3), ...pick(b).slice(0, 3)];
        assertStrictEquals(missingKeys.length, 6, "keys owned by each member");
        const missing = missingKeys.map((idempotencyKey) => ({ idempotencyKey, input: {}, version: 9 }));
        const second = await postJson(b, `/api/v1/workflows/${WORKFLOW}/execute/batch?view=id`, {
          items: [...again, ...missing],
        });
        assertEquals(second.status, 200, second.text.slice(0, 500));
        const results = second.body.results;
        assertStrictEquals(results.length, 306);
        results.slice(0, 300).forEach((r: { status: number; executionId?: string }, i: number) => {
          if (i === changed) return;
          assertEquals([r.status, r.executionId], [200, ids[i]], `item ${i}`);
        });
        assertEquals([results[changed].status, results[changed].error.code], [422, "idempotency_mismatch"]);
        assertEquals(results[changed].error.details[0].path, `$.items[${changed}].idempotencyKey`);
        missing.forEach((_, j) => {
          const r = results[300 + j];
          assertEquals([r.status, r.error.code, r.error.details[0].path], [
            404,
            "version_not_found",
            `$.items[${300 + j}].version`,
          ]);
        });
        assertStrictEquals(
          (await getJson(a, `/api/v1/workflows/${WORKFLOW}/status`)).body.executionCount,
          300,
        );
      } finally {
        await b?.close();
        await a.close();
      }
    });
  },
);
