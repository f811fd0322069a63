/**
 * The cluster member: heartbeats into storage, reads members and shards back,
 * lets the leader (the live coordinator with the smallest id) allocate shards
 * with the core's least-shard strategy, and keeps the engine's owned shards in
 * step with storage. Authority lives in storage: every move is a compare-and-set
 * claim that bumps the shard's epoch, and every append is fenced by it.
 *
 * @module
 */
import {
  allocate,
  type AllocationOptions,
  DEFAULT_ALLOCATION,
  DEFAULT_TIMINGS,
  eligible,
  holdsShards,
  leaderOf,
  type Member,
  type MemberRecord,
  members,
  type MembershipTimings,
  type Role,
  type ShardAssignment,
} from "../../core/cluster.ts";
import type {
  ClusterEvent,
  ClusterEventLog,
  ClusterRegistry,
  ShardLeases,
  ShardRecord,
} from "../../storage/storage.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Engine } from "../runtime/engine.ts";
import type { Logger } from "../runtime/logger.ts";

/** Settings of a cluster member. */
export interface ClusterOptions {
  nodeId: string;
  /** Cluster transport address (`host:port`), `""` standalone. */
  address: string;
  /** HTTP address (`host:port`). */
  httpAddress: string;
  roles: readonly Role[];
  shardCount: number;
  /** How often this node heartbeats into storage. */
  heartbeatMs: number;
  /** How often it reads members and shards and acts on them. */
  pollMs: number;
  timings: MembershipTimings;
  allocation: AllocationOptions;
  /** Cluster events kept in storage. */
  keepEvents: number;
  /**
   * A verifier of the cluster secret (an HMAC of a fixed text under it). The first
   * member stores it; a member whose verifier differs is refused at start.
   */
  secretVerifier?: string;
  /** Told the members after every read (the transport learns peers' addresses from it). */
  onMembers?: (members: readonly Member[]) => void;
  /**
   * Told every cluster event this member records (metrics count failovers and rebalances from it: a
   * `shard_rebalance` lists its round's `moves`, a `workflow_failover` its `shards`).
   */
  onEvent?: (type: string, details: Record<string, unknown>) => void;
}

/** The defaults: heartbeat 500 ms, poll 250 ms, down after 2.5 s, 8 moves a round, 10,000 events kept. */
export const DEFAULT_CLUSTER_OPTIONS = Object.freeze({
  heartbeatMs: 500,
  pollMs: 250,
  timings: DEFAULT_TIMINGS,
  allocation: DEFAULT_ALLOCATION,
  keepEvents: 10_000,
});

/** This node's cluster secret is not the one the cluster was created with. */
export class WrongClusterSecret extends Error {
  constructor() {
    super("wrong cluster secret: --cluster-secret does not match the cluster's (refusing to join)");
    this.name = "WrongClusterSecret";
  }
}

/** This node's shard count is not the one the cluster was created with. */
export class ShardCountMismatch extends Error {
  constructor(readonly cluster: number, readonly mine: number) {
    super(`shard count mismatch: the cluster has ${cluster} shards, --shards is ${mine} (refusing to join)`);
    this.name = "ShardCountMismatch";
  }
}

/** The verifier of a cluster secret: HMAC-SHA256(secret, "flowmesh cluster secret v1"), hex. */
export async function secretVerifier(secret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("flowmesh cluster secret v1"));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What this member knows of the cluster after its last poll. */
export interface ClusterSnapshot {
  at: number;
  leader: string | null;
  members: Member[];
  shards: ShardAssignment[];
}

/**
 * Entries one collapsed cluster event lists at most (a round's shards or moves): a round with more writes
 * several events, so no event (nor its log line) grows with a large `--shards`.
 */
const MAX_LISTED = 1024;

/** One entry of a collapsed event's list (a shard, a move). */
type Listed = Record<string, unknown>;

const sum = (list: readonly Listed[], key: string) => list.reduce((n, e) => n + (e[key] as number), 0);

/** A member of the cluster (also the single member of a standalone node). */
export class ClusterMember {
  #snapshot: ClusterSnapshot = { at: 0, leader: null, members: [], shards: [] };
  #timer: unknown = null;
  #stopped = false;
  #leaving = false;
  #joinedAt: number;
  #lastHeartbeat = 0;
  #lastHeartbeatOk = 0;
  #polling: Promise<void> | null = null;
  #previousStatus = new Map<string, string>();
  #previousLeader: string | null = null;
  #ready = false;

  constructor(
    readonly opts: ClusterOptions,
    private readonly storage: ClusterRegistry & ShardLeases & ClusterEventLog,
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.#joinedAt = clock.now();
  }

  /** The last snapshot. */
  get snapshot(): ClusterSnapshot {
    return this.#snapshot;
  }

  /** True once the first round ran and this member's shards are recovered. */
  get ready(): boolean {
    return this.#ready && !this.#stopped;
  }

  /** Whether this member has failed to heartbeat into storage for longer than a member may (it gave its shards up). */
  get cutOff(): boolean {
    return this.#ready && this.clock.now() - this.#lastHeartbeatOk >= this.opts.timings.downAfterMs;
  }

  /** The owner of a shard in the last snapshot. */
  ownerOf(shard: number): string | null {
    return this.#snapshot.shards[shard]?.owner ?? null;
  }

  /** A member by id in the last snapshot. */
  member(id: string): Member | undefined {
    return this.#snapshot.members.find((m) => m.id === id);
  }

  /** Registers, runs the first round (so a standalone node owns its shards when this resolves), then polls. */
  async start(): Promise<void> {
    if (this.opts.secretVerifier !== undefined) {
      const stored = await this.storage.claimClusterMeta("secret_verifier", this.opts.secretVerifier);
      if (stored !== this.opts.secretVerifier) {
        throw new WrongClusterSecret();
      }
    }
    if (this.opts.address !== "") {
      // Members that disagree on the shard count map executions to different shards and allocate
      // different shard sets: the first member fixes it for the cluster.
      const stored = await this.storage.claimClusterMeta("shard_count", String(this.opts.shardCount));
      if (stored !== String(this.opts.shardCount)) {
        throw new ShardCountMismatch(Number(stored), this.opts.shardCount);
      }
    }
    await this.#heartbeat(true);
    await this.#record("member_event", { member: this.opts.nodeId, event: "joined", roles: this.opts.roles });
    await this.poll();
    this.#ready = true;
    this.#schedule();
  }

  /** Graceful leave: announces it, waits (up to `timeoutMs`) until its shards moved elsewhere, then stops. */
  async leave(timeoutMs = 10_000): Promise<void> {
    this.#leaving = true;
    await this.#heartbeat(true).catch(() => {});
    const deadline = this.clock.now() + timeoutMs;
    while (this.engine.ownedShards.size > 0 && this.clock.now() < deadline && !this.#stopped) {
      await new Promise<void>((r) => this.clock.setTimer(this.opts.pollMs, r));
    }
    await this.#record("member_event", { member: this.opts.nodeId, event: "left" }).catch(() => {});
    await this.stop();
  }

  /** Stops polling; resolves once a round in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.clock.clearTimer(this.#timer);
    await this.#polling?.catch(() => {});
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.clock.setTimer(this.opts.pollMs, () => {
      this.poll().catch((err) => this.log.warn("cluster round failed", { error: String(err) }))
        .finally(() => this.#schedule());
    });
  }

  async #heartbeat(force = false): Promise<void> {
    const now = this.clock.now();
    if (!force && now - this.#lastHeartbeat < this.opts.heartbeatMs) return;
    this.#lastHeartbeat = now;
    const record: MemberRecord = {
      id: this.opts.nodeId,
      address: this.opts.address,
      httpAddress: this.opts.httpAddress,
      roles: this.opts.roles,
      joinedAt: this.#joinedAt,
      heartbeatAt: now,
      leaving: this.#leaving,
    };
    await this.storage.heartbeat(record);
    this.#lastHeartbeatOk = now;
  }

  async #record(type: string, details: Record<string, unknown>): Promise<void> {
    const event: ClusterEvent = { at: this.clock.now(), type, node: this.opts.nodeId, details };
    this.log.info(type, details);
    this.opts.onEvent?.(type, details);
    await this.storage.appendClusterEvent(event);
  }

  /** One round: heartbeat, read, lead if leader, sync owned shards. Rounds never overlap. */
  poll(): Promise<void> {
    this.#polling ??= this.#round().finally(() => this.#polling = null);
    return this.#polling;
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#heartbeat();
    } catch (err) {
      // Cut off from storage: once our membership would count as down, stop acting as owner.
      if (this.clock.now() - this.#lastHeartbeatOk >= this.opts.timings.downAfterMs) {
        for (const shard of [...this.engine.ownedShards.keys()]) this.engine.releaseShard(shard);
      }
      throw err;
    }
    let snapshot = await this.#read();
    // Every member tracks statuses and leadership, so a member that takes over
    // leadership records the changes that made it leader (its predecessor down).
    await this.#observe(snapshot, snapshot.leader === this.opts.nodeId);
    if (snapshot.leader === this.opts.nodeId) {
      if (await this.#lead(snapshot)) snapshot = await this.#read();
    }
    const previous = this.#snapshot;
    this.#snapshot = snapshot;
    await this.#sync(previous, snapshot);
  }

  async #read(): Promise<ClusterSnapshot> {
    const now = this.clock.now();
    const [records, rows] = await Promise.all([this.storage.listMembers(), this.storage.getShards()]);
    const byShard = new Map<number, ShardRecord>(rows.map((r) => [r.shard, r]));
    const shards: ShardAssignment[] = [];
    for (let shard = 0; shard < this.opts.shardCount; shard++) {
      const r = byShard.get(shard);
      shards.push({ shard, owner: r?.owner ?? null, epoch: r?.epoch ?? 0 });
    }
    const ms = members(records, now, this.opts.timings);
    this.opts.onMembers?.(ms);
    return { at: now, leader: leaderOf(ms), members: ms, shards };
  }

  /** Tracks member statuses and leadership; the leader (`record`) records their changes. */
  async #observe(s: ClusterSnapshot, record: boolean): Promise<void> {
    if (this.#previousLeader !== s.leader) {
      if (record) await this.#record("leader_changed", { from: this.#previousLeader, to: s.leader });
      this.#previousLeader = s.leader;
    }
    for (const m of s.members) {
      const before = this.#previousStatus.get(m.id);
      if (record && before !== undefined && before !== m.status) {
        await this.#record(
          m.status === "down" || m.status === "suspect" ? "unreachable_member" : "member_event",
          {
            member: m.id,
            from: before,
            to: m.status,
          },
        );
        if (before === "suspect" && m.status === "up") {
          await this.#record("reachable_member", { member: m.id });
        }
      }
      this.#previousStatus.set(m.id, m.status);
    }
  }

  /**
   * A round's list as one event (`{count, ...summary, [key]: list}`), or one per `MAX_LISTED` entries of a
   * larger list; nothing when the list is empty.
   */
  async #recordList(
    type: string,
    key: string,
    list: readonly Listed[],
    summary: (chunk: readonly Listed[]) => Record<string, unknown> = () => ({}),
  ): Promise<void> {
    for (let i = 0; i < list.length; i += MAX_LISTED) {
      const chunk = list.slice(i, i + MAX_LISTED);
      await this.#record(type, { count: chunk.length, ...summary(chunk), [key]: chunk });
    }
  }

  /**
   * The leader's allocation round; returns whether it moved anything. Its moves are recorded as one
   * `shard_rebalance` event once the round's claims are made (also when a claim failed half-way).
   */
  async #lead(s: ClusterSnapshot): Promise<boolean> {
    const eligibleIds = s.members.filter(eligible).map((m) => m.id);
    const holding = new Set(s.members.filter(holdsShards).map((m) => m.id));
    const moves = allocate(s.shards, eligibleIds, holding, this.opts.allocation);
    const moved: Listed[] = [];
    try {
      for (const move of moves) {
        await this.#heartbeat(); // a long round must not starve our heartbeat (others would see us suspect, down)
        const claimed = await this.storage.claimShard(move.shard, move.to, move.epoch);
        if (!claimed) continue; // someone else changed it; next round sees it
        const from = move.from === null ? undefined : s.members.find((m) => m.id === move.from);
        moved.push({
          ...move,
          epoch: claimed.epoch,
          // For a dead owner: how long after its last heartbeat the shard was reassigned.
          detectedAfterMs: from && from.status === "down" ? s.at - from.heartbeatAt : null,
        });
      }
    } finally {
      await this.#recordList("shard_rebalance", "moves", moved);
    }
    if (moved.length > 0) await this.storage.trimClusterEvents(this.opts.keepEvents);
    return moved.length > 0;
  }

  /**
   * Makes the engine own exactly the shards storage says this node owns,
   * re-claiming each one it takes up (a new incarnation bumps the epoch). A shard
   * taken from a member that is down is a failover: its downtime is measured from
   * that member's last heartbeat to the end of recovery here. The round's released
   * shards are one `shard_stopped` event; once its shards are all taken up, they are
   * one `shard_started` event and, per member they were taken from that is down,
   * one `workflow_failover` event.
   */
  async #sync(previous: ClusterSnapshot, s: ClusterSnapshot): Promise<void> {
    const mine = new Map(s.shards.filter((a) => a.owner === this.opts.nodeId).map((a) => [a.shard, a.epoch]));
    const stopped: Listed[] = [];
    for (const [shard, held] of [...this.engine.ownedShards]) {
      if (mine.get(shard) !== held) {
        this.engine.releaseShard(shard);
        stopped.push({ shard, epoch: held, now: mine.get(shard) ?? null });
      }
    }
    await this.#recordList("shard_stopped", "shards", stopped);
    const started: Listed[] = [];
    const failedOver = new Map<string, Listed[]>(); // by the member that was down
    try {
      for (const [shard, epoch] of mine) {
        if (this.engine.ownedShards.get(shard) === epoch) continue;
        await this.#heartbeat(); // as in #lead: recovering many shards takes longer than a heartbeat period
        const claimed = await this.storage.claimShard(shard, this.opts.nodeId, epoch);
        if (!claimed) continue;
        const t0 = this.clock.now();
        const recovered = await this.engine.acquireShard(shard, claimed.epoch);
        const done = this.clock.now();
        started.push({ shard, epoch: claimed.epoch, recovered, recoveryMs: done - t0 });
        const before = previous.shards[shard]?.owner;
        const gone = before && before !== this.opts.nodeId
          ? s.members.find((m) => m.id === before)
          : undefined;
        if (gone && gone.status === "down") {
          const list = failedOver.get(gone.id) ?? [];
          list.push({ shard, epoch: claimed.epoch, recovered, downtimeMs: done - gone.heartbeatAt });
          failedOver.set(gone.id, list);
        }
      }
    } finally {
      await this.#recordList("shard_started", "shards", started, (chunk) => ({
        recovered: sum(chunk, "recovered"),
        recoveryMs: sum(chunk, "recoveryMs"),
      }));
      for (const [from, list] of failedOver) {
        await this.#recordList("workflow_failover", "shards", list, (chunk) => ({
          from,
          to: this.opts.nodeId,
          recovered: sum(chunk, "recovered"),
          maxDowntimeMs: Math.max(...chunk.map((e) => e.downtimeMs as number)),
        }));
      }
    }
  }
}
