/**
 * Conformance cases of the `ShardLeases` role: a claim is a compare-and-set on
 * the shard's epoch (racing claims: one wins), and a claim fences off appends
 * that carry an older epoch.
 *
 * @module
 */
import { assertEquals, assertStrictEquals } from "../assert.ts";
import {
  appendOf,
  assertOk,
  assertStaleEpoch,
  type ConformanceCase,
  type Ctx,
  type ExecSpec,
  race,
} from "./fixtures.ts";

/** a claim bumps the epoch; a write with an old epoch is stale_epoch and writes nothing */
async function claimFencesOffOldEpochs(c: Ctx): Promise<void> {
  const s = c.storage;
  const shard = c.shard(0);
  assertEquals(await s.claimShard(shard, "node-a", 0), { shard, owner: "node-a", epoch: 1 });
  const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: { shard, epoch: 1 } };
  const create = appendOf(spec, 0, 2);
  assertOk(await s.append(create));
  assertEquals(await s.claimShard(shard, "node-b", 1), { shard, owner: "node-b", epoch: 2 });
  assertEquals((await s.getShards()).find((r) => r.shard === shard), { shard, owner: "node-b", epoch: 2 });

  assertStaleEpoch(await s.append(appendOf(spec, 2, 1, { outputs: [{ ref: "x", records: [1] }] })), 2);
  assertStaleEpoch(await s.append(appendOf(spec, 2, 1, { fence: { shard, epoch: 3 } })), 2);
  const fresh: ExecSpec = { ...spec, id: c.id("fresh") };
  assertStaleEpoch(await s.append(appendOf(fresh, 0, 1)), 2);
  assertStrictEquals(await s.getExecution(fresh.id), undefined);
  assertEquals(await s.readEvents(fresh.id), []);
  assertStrictEquals((await s.getExecution(spec.id))?.lastSeq, 2);
  assertEquals(await s.readEvents(spec.id), create.events);
  assertStrictEquals(await s.getOutput(spec.id, "x"), undefined);

  assertOk(await s.append(appendOf(spec, 2, 1, { fence: { shard, epoch: 2 } })), "append at the new epoch");
  assertStrictEquals((await s.getExecution(spec.id))?.lastSeq, 3);
}

/** claimShard with a wrong expectedEpoch is refused; racing claims: one wins */
async function claimIsCasOnEpoch(c: Ctx): Promise<void> {
  const s = c.storage;
  const shard = c.shard(0);
  assertStrictEquals(await s.claimShard(shard, "node-a", 1), undefined);
  assertStrictEquals((await s.getShards()).find((r) => r.shard === shard), undefined);
  assertEquals(await s.claimShard(shard, "node-a", 0), { shard, owner: "node-a", epoch: 1 });
  assertStrictEquals(await s.claimShard(shard, "node-b", 0), undefined);
  assertStrictEquals(await s.claimShard(shard, "node-b", 2), undefined);
  assertEquals((await s.getShards()).find((r) => r.shard === shard), { shard, owner: "node-a", epoch: 1 });
  assertEquals(await s.claimShard(shard, "node-b", 1), { shard, owner: "node-b", epoch: 2 });

  const racing = await race(
    Array.from({ length: 5 }, (_, i) => s.claimShard(shard, `racer-${i}`, 2)),
  );
  const winners = racing.filter((r) => r !== undefined);
  assertStrictEquals(winners.length, 1);
  assertStrictEquals(winners[0]?.epoch, 3);
  assertEquals((await s.getShards()).find((r) => r.shard === shard), winners[0]);

  // A fresh shard claimed by several nodes at once: one wins epoch 1.
  const other = c.shard(1);
  const first = await race(Array.from({ length: 5 }, (_, i) => s.claimShard(other, `n-${i}`, 0)));
  assertEquals(first.filter((r) => r !== undefined).map((r) => r?.epoch), [1]);
}

/** The `ShardLeases` role's conformance cases, in order. */
export const SHARD_LEASES_CASES: ConformanceCase[] = [
  {
    title: "a claim bumps the epoch; a write with an old epoch is stale_epoch and writes nothing",
    run: claimFencesOffOldEpochs,
  },
  {
    title: "claimShard with a wrong expectedEpoch is refused; racing claims: one wins",
    run: claimIsCasOnEpoch,
  },
];
