/**
 * The cluster in the core: members and their status, the shard map, the leader,
 * and shard allocation in the spirit of Pekko's least-shard strategy. All pure:
 * the runtime reads member heartbeats and shard rows from storage, asks these
 * functions what should change, and carries the moves out as compare-and-set
 * claims in storage (each one bumps the shard's epoch).
 *
 * @module
 */

/** What a node does: `coordinator` (may lead allocation), `worker` (owns shards), `api-gateway` (serves HTTP). */
export type Role = "coordinator" | "worker" | "api-gateway";

/** Every role; a single node with no configuration has them all. */
export const ROLES: readonly Role[] = ["coordinator", "worker", "api-gateway"];

/** A member's status, derived from its heartbeat's age and its leave flag. */
export type MemberStatus = "joining" | "up" | "suspect" | "down" | "leaving";

/** A member as storage records it. */
export interface MemberRecord {
  id: string;
  /** Cluster transport address, `host:port`. */
  address: string;
  /** HTTP address, `host:port`. */
  httpAddress: string;
  roles: readonly Role[];
  /** When it first registered (epoch ms). */
  joinedAt: number;
  /** Its last heartbeat (epoch ms). */
  heartbeatAt: number;
  /** It announced a graceful leave. */
  leaving: boolean;
}

/** A member with its derived status. */
export interface Member extends MemberRecord {
  status: MemberStatus;
}

/** One shard's owner and epoch. */
export interface ShardAssignment {
  shard: number;
  owner: string | null;
  epoch: number;
}

/** Failure-detection timings. */
export interface MembershipTimings {
  /** A member this long without a heartbeat is `suspect`. */
  suspectAfterMs: number;
  /** A member this long without a heartbeat is `down`: its shards are reassigned. */
  downAfterMs: number;
  /** A member heartbeating for less than this is `joining` (not yet given shards). */
  joiningForMs: number;
}

/** The defaults: heartbeats every 500 ms, suspect after 1 s, down after 2.5 s, joining for 0 ms. */
export const DEFAULT_TIMINGS: Readonly<MembershipTimings> = Object.freeze({
  suspectAfterMs: 1_000,
  downAfterMs: 2_500,
  joiningForMs: 0,
});

/**
 * A member's status at `now`.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMINGS, memberStatus } from "./cluster.ts";
 * const m = { id: "a", address: "", httpAddress: "", roles: [], joinedAt: 0, heartbeatAt: 0, leaving: false };
 * if (memberStatus(m, 5_000, DEFAULT_TIMINGS) !== "down") throw new Error();
 * ```
 */
export function memberStatus(m: MemberRecord, now: number, t: MembershipTimings): MemberStatus {
  const age = now - m.heartbeatAt;
  if (age >= t.downAfterMs) return "down";
  if (m.leaving) return "leaving";
  if (age >= t.suspectAfterMs) return "suspect";
  if (now - m.joinedAt < t.joiningForMs) return "joining";
  return "up";
}

/** Members with their status, in id order. */
export function members(records: readonly MemberRecord[], now: number, t: MembershipTimings): Member[] {
  return records.map((r) => ({ ...r, status: memberStatus(r, now, t) }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether a member may own shards: an `up` worker. A suspect keeps what it has but gets nothing new. */
export function eligible(m: Member): boolean {
  return m.status === "up" && m.roles.includes("worker");
}

/** Whether a member still holds its shards: up or suspect (not yet down), and not leaving. */
export function holdsShards(m: Member): boolean {
  return (m.status === "up" || m.status === "suspect") && m.roles.includes("worker");
}

/** The leader: the live coordinator with the smallest id (every node computes the same one). */
export function leaderOf(ms: readonly Member[]): string | null {
  const live = ms.filter((m) =>
    (m.status === "up" || m.status === "suspect") && m.roles.includes("coordinator")
  );
  let leader: string | null = null;
  for (const m of live) if (leader === null || m.id < leader) leader = m.id;
  return leader;
}

/** Allocation settings. */
export interface AllocationOptions {
  /** Rebalance only when the most and least loaded eligible members differ by more than this. */
  rebalanceThreshold: number;
  /** Rebalance moves per round at most (orphaned shards are always placed). */
  maxMovesPerRound: number;
}

/** The defaults: threshold 1 (as balanced as shard counts allow), 8 moves a round. */
export const DEFAULT_ALLOCATION: Readonly<AllocationOptions> = Object.freeze({
  rebalanceThreshold: 1,
  maxMovesPerRound: 8,
});

/** One ownership change to carry out: a claim of `shard` at `epoch` for `to`. */
export interface Move {
  shard: number;
  from: string | null;
  to: string;
  /** The epoch the claim expects (the shard's current one). */
  epoch: number;
  reason: "orphaned" | "rebalance";
}

function byLoadThenId(load: Map<string, number>) {
  return (a: string, b: string) => (load.get(a)! - load.get(b)!) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The moves of one allocation round. Shards whose owner is missing or no longer
 * holds shards (down, leaving, not a worker) go to the least-loaded eligible
 * member, one at a time; then, if the imbalance exceeds the threshold, at most
 * `maxMovesPerRound` shards move from the most to the least loaded. Shards of
 * members that still hold them never move otherwise (minimal movement).
 *
 * @example
 * ```ts
 * import { allocate, DEFAULT_ALLOCATION } from "./cluster.ts";
 * const shards = [0, 1, 2, 3].map((shard) => ({ shard, owner: null, epoch: 0 }));
 * const moves = allocate(shards, ["a", "b"], new Set(), DEFAULT_ALLOCATION);
 * if (moves.filter((m) => m.to === "a").length !== 2) throw new Error();
 * ```
 */
export function allocate(
  shards: readonly ShardAssignment[],
  eligibleIds: readonly string[],
  holding: ReadonlySet<string>,
  opts: AllocationOptions,
): Move[] {
  if (eligibleIds.length === 0) return [];
  const load = new Map<string, number>(eligibleIds.map((id) => [id, 0]));
  const owned = new Map<string, ShardAssignment[]>(eligibleIds.map((id) => [id, []]));
  const orphans: ShardAssignment[] = [];
  for (const s of shards) {
    if (s.owner !== null && load.has(s.owner)) {
      load.set(s.owner, load.get(s.owner)! + 1);
      owned.get(s.owner)!.push(s);
    } else if (s.owner === null || !holding.has(s.owner)) orphans.push(s);
    // else: owned by a suspect member, which keeps it for now
  }
  const moves: Move[] = [];
  const order = byLoadThenId(load);
  for (const s of orphans) {
    const to = [...load.keys()].sort(order)[0];
    moves.push({ shard: s.shard, from: s.owner, to, epoch: s.epoch, reason: "orphaned" });
    load.set(to, load.get(to)! + 1);
  }
  for (let i = 0; i < opts.maxMovesPerRound; i++) {
    const sorted = [...load.keys()].sort(order);
    const least = sorted[0], most = sorted[sorted.length - 1];
    // A move only helps when the gap is 2 or more; a threshold below 1 would move shards back and forth.
    if (load.get(most)! - load.get(least)! <= Math.max(1, opts.rebalanceThreshold)) break;
    const candidates = owned.get(most)!.sort((a, b) => b.shard - a.shard);
    const s = candidates.shift();
    if (!s) break;
    moves.push({ shard: s.shard, from: most, to: least, epoch: s.epoch, reason: "rebalance" });
    load.set(most, load.get(most)! - 1);
    load.set(least, load.get(least)! + 1);
  }
  return moves;
}

/** Whether shard loads over the eligible members are within the threshold and every shard is owned by one. */
export function balanced(
  shards: readonly ShardAssignment[],
  eligibleIds: readonly string[],
  threshold: number,
): boolean {
  if (eligibleIds.length === 0) return false;
  const load = new Map<string, number>(eligibleIds.map((id) => [id, 0]));
  for (const s of shards) {
    if (s.owner === null || !load.has(s.owner)) return false;
    load.set(s.owner, load.get(s.owner)! + 1);
  }
  const counts = [...load.values()];
  return Math.max(...counts) - Math.min(...counts) <= threshold;
}
