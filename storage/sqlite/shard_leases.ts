/**
 * Shard leases in the SQLite store: one `shards` row per shard ever claimed. A claim is a compare-and-set
 * on the epoch (an insert at epoch 1 for a shard never claimed). Every fenced write reads the epoch inside
 * its own write transaction, and SQLite runs one write transaction at a time, so a claim and a write of its
 * shard are ordered by their commits.
 *
 * @module
 */
import type { ShardRecord } from "../records.ts";
import type { ShardLeases } from "../roles.ts";
import type { SqliteContext } from "./context.ts";
import type { SqliteDatabase } from "./database.ts";
import { toShard } from "./rows.ts";

/**
 * The epoch a shard is at (0 when never claimed): the fence every write compares, inside its transaction.
 *
 * @example
 * ```ts
 * import { SqliteDatabase } from "./database.ts";
 * import { migrateSqlite } from "./migrations.ts";
 * import { shardEpoch } from "./shard_leases.ts";
 * const dir = await Deno.makeTempDir();
 * const db = new SqliteDatabase(`${dir}/x.db`);
 * migrateSqlite(db, 0);
 * if (shardEpoch(db, 7) !== 0) throw new Error("a shard never claimed is at epoch 0");
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function shardEpoch(db: SqliteDatabase, shard: number): number {
  return db.get<{ epoch: number }>("select epoch from shards where shard = ?", shard)?.epoch ?? 0;
}

type ShardRow = { shard: number; owner: string | null; epoch: number };

/** The `ShardLeases` role over SQLite. */
export class SqliteShardLeases implements ShardLeases {
  constructor(private readonly ctx: SqliteContext) {}

  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined> {
    return this.ctx.write(() => {
      const row = expectedEpoch === 0
        ? this.ctx.db.get<ShardRow>(
          `insert into shards (shard, owner, epoch) values (?, ?, 1)
            on conflict (shard) do nothing returning shard, owner, epoch`,
          shard,
          owner,
        )
        : this.ctx.db.get<ShardRow>(
          "update shards set owner = ?, epoch = ? where shard = ? and epoch = ? returning shard, owner, epoch",
          owner,
          expectedEpoch + 1,
          shard,
          expectedEpoch,
        );
      return row && toShard(row);
    });
  }

  getShards(): Promise<ShardRecord[]> {
    return this.ctx.run(() =>
      this.ctx.db.all<ShardRow>("select shard, owner, epoch from shards order by shard").map(toShard)
    );
  }
}
