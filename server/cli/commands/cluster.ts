/**
 * `cluster status|shards`: the cluster's members and its shards' owners.
 *
 * @module
 */
import { apiPath } from "../client.ts";
import type { Command } from "../command.ts";
import { printJson } from "../command.ts";
import { ago, count, NONE, table } from "../format.ts";

/** `GET /api/v1/cluster/stats`, as far as the CLI reads it. */
interface Stats {
  clusterName: string;
  nodeCount: number;
  leader: string | null;
  selfId: string;
  members: {
    id: string;
    address: string;
    httpAddress: string | null;
    status: string;
    roles: string[];
    lastHeartbeat: number | null;
    shardCount: number;
    liveExecutions: number;
  }[];
  sharding: { totalShards: number; activeShards: number; totalEntities: number };
}

/** `GET /api/v1/cluster/shards`. */
interface Shards {
  totalShards: number;
  activeShards: number;
  shards: { shardId: number; location: string | null; epoch: number; entityCount: number }[];
}

/** The cluster commands. */
export const clusterCommands: Command[] = [
  {
    name: "cluster status",
    summary: "Show the cluster's leader, members and shards",
    examples: ["cluster status", "cluster status --json"],
    async run(ctx) {
      const s = await ctx.client.get<Stats>(apiPath("cluster", "stats"));
      if (ctx.json) {
        printJson(ctx.io, s);
        return 0;
      }
      const now = ctx.io.now();
      const { sharding: sh } = s;
      ctx.io.out(
        `cluster ${s.clusterName}: ${s.nodeCount} member(s) up, leader ${s.leader ?? NONE}, ` +
          `${sh.activeShards}/${sh.totalShards} shards owned, ${
            count(sh.totalEntities)
          } running execution(s)`,
      );
      ctx.io.out("");
      const lines = table(
        ["MEMBER", "STATUS", "ROLES", "ADDRESS", "HTTP", "SHARDS", "RUNNING", "HEARTBEAT"],
        s.members.map((m) => [
          `${m.id}${m.id === s.leader ? " (leader)" : ""}${m.id === s.selfId ? " *" : ""}`,
          m.status,
          m.roles.join(","),
          m.address || NONE,
          m.httpAddress ?? NONE,
          String(m.shardCount),
          count(m.liveExecutions),
          ago(m.lastHeartbeat, now),
        ]),
        ["left", "left", "left", "left", "left", "right", "right", "left"],
      );
      for (const l of lines) ctx.io.out(l);
      ctx.io.out("* the member that answered");
      return 0;
    },
  },
  {
    name: "cluster shards",
    summary: "Show every shard's owner, epoch and runs",
    examples: ["cluster shards", "cluster shards --json"],
    async run(ctx) {
      const s = await ctx.client.get<Shards>(apiPath("cluster", "shards"));
      if (ctx.json) {
        printJson(ctx.io, s);
        return 0;
      }
      const owners = new Map<string, number>();
      for (const sh of s.shards) owners.set(sh.location ?? NONE, (owners.get(sh.location ?? NONE) ?? 0) + 1);
      const byOwner = [...owners].map(([o, n]) => `${o} ${n}`).join(", ");
      ctx.io.out(`${s.activeShards}/${s.totalShards} shards owned: ${byOwner}`);
      ctx.io.out("");
      const lines = table(
        ["SHARD", "OWNER", "EPOCH", "RUNNING"],
        s.shards.map((
          sh,
        ) => [String(sh.shardId), sh.location ?? NONE, String(sh.epoch), count(sh.entityCount)]),
        ["right", "left", "right", "right"],
      );
      for (const l of lines) ctx.io.out(l);
      return 0;
    },
  },
];
