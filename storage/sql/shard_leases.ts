/**
 * Shard leases over SQL: one `shards` row per shard ever claimed. A claim is a
 * compare-and-set on the epoch (an insert at epoch 1 for a shard never claimed),
 * and the append statement reads the row `for share`, so a claim and an append of
 * its shard are ordered by their commits.
 *
 * @module
 */
import type { ShardRecord } from "../records.ts";
import type { ShardLeases } from "../roles.ts";
import type { SqlContext } from "./context.ts";
import { toShard } from "./rows.ts";

/** The `ShardLeases` role over SQL. */
export class SqlShardLeases implements ShardLeases {
  constructor(private readonly ctx: SqlContext) {}

  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined> {
    return this.ctx.run(async () => {
      if (expectedEpoch === 0) {
        const r = await this.ctx.db.insertInto("shards").values({ shard, owner, epoch: 1 })
          .onConflict((oc) => oc.column("shard").doNothing()).returning(["shard", "owner", "epoch"])
          .executeTakeFirst();
        return r && toShard(r);
      }
      const r = await this.ctx.db.updateTable("shards").set({ owner, epoch: expectedEpoch + 1 })
        .where("shard", "=", shard).where("epoch", "=", expectedEpoch)
        .returning(["shard", "owner", "epoch"]).executeTakeFirst();
      return r && toShard(r);
    });
  }

  getShards(): Promise<ShardRecord[]> {
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("shards").selectAll().orderBy("shard").execute()).map(toShard)
    );
  }
}
