import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import {
  allocate,
  type AllocationOptions,
  balanced,
  DEFAULT_ALLOCATION,
  DEFAULT_TIMINGS,
  eligible,
  holdsShards,
  leaderOf,
  type Member,
  type MemberRecord,
  members,
  type MembershipTimings,
  memberStatus,
  type Move,
  type Role,
  type ShardAssignment,
} from "./cluster.ts";

const T: MembershipTimings = { suspectAfterMs: 1_000, downAfterMs: 2_500, joiningForMs: 500 };
const NOW = 1_000_000;

function rec(id: string, o: Partial<MemberRecord> = {}): MemberRecord {
  return {
    id,
    address: `${id}:7000`,
    httpAddress: `${id}:8080`,
    roles: ["coordinator", "worker", "api-gateway"],
    joinedAt: NOW - 60_000,
    heartbeatAt: NOW,
    leaving: false,
    ...o,
  };
}

function member(
  id: string,
  status: Member["status"],
  roles: readonly Role[] = ["coordinator", "worker"],
): Member {
  return { ...rec(id, { roles }), status };
}

/** `count` shards with the given owners, in turn (`null` for none), at `epoch`. */
function shardsOwned(owners: (string | null)[], epoch = 3): ShardAssignment[] {
  return owners.map((owner, shard) => ({ shard, owner, epoch: owner === null ? 0 : epoch + shard }));
}

function repeat(owner: string | null, n: number): (string | null)[] {
  return Array.from({ length: n }, () => owner);
}

function loads(shards: readonly ShardAssignment[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of shards) if (s.owner !== null) out[s.owner] = (out[s.owner] ?? 0) + 1;
  return out;
}

/** Applies moves as the leader does: a claim at the expected epoch, bumping it. */
function apply(shards: readonly ShardAssignment[], moves: readonly Move[]): ShardAssignment[] {
  const next = shards.map((s) => ({ ...s }));
  for (const m of moves) {
    const s = next[m.shard];
    assertStrictEquals(s.epoch, m.epoch, `move of shard ${m.shard} expects the current epoch`);
    s.owner = m.to;
    s.epoch++;
  }
  return next;
}

const OPTS: AllocationOptions = { rebalanceThreshold: 1, maxMovesPerRound: 8 };

// ---- memberStatus

Deno.test("memberStatus: up while the heartbeat is fresh, suspect, then down by its age", () => {
  const at = (age: number) => memberStatus(rec("a", { heartbeatAt: NOW - age }), NOW, T);
  assertStrictEquals(at(0), "up");
  assertStrictEquals(at(999), "up");
  assertStrictEquals(at(1_000), "suspect");
  assertStrictEquals(at(2_499), "suspect");
  assertStrictEquals(at(2_500), "down");
  assertStrictEquals(at(60_000), "down");
});

Deno.test("memberStatus: leaving while it heartbeats, down once it stops", () => {
  const at = (age: number) => memberStatus(rec("a", { heartbeatAt: NOW - age, leaving: true }), NOW, T);
  assertStrictEquals(at(0), "leaving");
  assertStrictEquals(at(1_500), "leaving"); // leaving wins over suspect
  assertStrictEquals(at(2_500), "down");
});

Deno.test("memberStatus: joining for joiningForMs after it joined, then up", () => {
  const joined = (ago: number, age = 0) =>
    memberStatus(rec("a", { joinedAt: NOW - ago, heartbeatAt: NOW - age }), NOW, T);
  assertStrictEquals(joined(0), "joining");
  assertStrictEquals(joined(499), "joining");
  assertStrictEquals(joined(500), "up");
  // A new member that stopped heartbeating is suspect, then down, not joining.
  assertStrictEquals(joined(100, 1_000), "suspect");
  assertStrictEquals(joined(100, 3_000), "down");
  // With the default timings (joining for 0 ms) a member is up at once.
  assertStrictEquals(memberStatus(rec("a", { joinedAt: NOW }), NOW, DEFAULT_TIMINGS), "up");
});

Deno.test("members: statuses derived, sorted by id", () => {
  const ms = members(
    [rec("c"), rec("a", { heartbeatAt: NOW - 1_200 }), rec("b", { heartbeatAt: NOW - 5_000 })],
    NOW,
    T,
  );
  assertEquals(ms.map((m) => [m.id, m.status]), [["a", "suspect"], ["b", "down"], ["c", "up"]]);
  assertStrictEquals(ms[2].address, "c:7000");
});

Deno.test("eligible and holdsShards: up workers get shards; suspects keep theirs", () => {
  assert(eligible(member("a", "up")));
  assert(!eligible(member("a", "up", ["coordinator", "api-gateway"])));
  for (const s of ["joining", "suspect", "down", "leaving"] as const) assert(!eligible(member("a", s)), s);
  assert(holdsShards(member("a", "up")));
  assert(holdsShards(member("a", "suspect")));
  for (const s of ["joining", "down", "leaving"] as const) assert(!holdsShards(member("a", s)), s);
  assert(!holdsShards(member("a", "up", ["coordinator"])));
});

// ---- leaderOf

Deno.test("leaderOf: the live coordinator with the smallest id", () => {
  assertStrictEquals(
    leaderOf([member("a", "up", ["worker"]), member("b", "up"), member("c", "up")]),
    "b",
  );
  // A suspect coordinator still leads; a down, leaving or joining one does not.
  assertStrictEquals(leaderOf([member("a", "suspect"), member("b", "up")]), "a");
  assertStrictEquals(leaderOf([member("a", "down"), member("b", "up")]), "b");
  assertStrictEquals(leaderOf([member("a", "leaving"), member("b", "up")]), "b");
  assertStrictEquals(leaderOf([member("a", "joining"), member("b", "up")]), "b");
});

Deno.test("leaderOf: the smallest id whatever the order it is given in", () => {
  assertStrictEquals(leaderOf([member("c", "up"), member("a", "up"), member("b", "up")]), "a");
  assertStrictEquals(leaderOf([member("c", "up"), member("b", "down"), member("a", "suspect")]), "a");
});

Deno.test("leaderOf: none without a live coordinator", () => {
  assertStrictEquals(leaderOf([]), null);
  assertStrictEquals(leaderOf([member("a", "down"), member("b", "up", ["worker", "api-gateway"])]), null);
});

// ---- allocate

Deno.test("allocate: fresh shards spread evenly, all orphaned at epoch 0", () => {
  const fresh = shardsOwned(repeat(null, 16));
  const moves = allocate(fresh, ["a", "b"], new Set(["a", "b"]), OPTS);
  assertStrictEquals(moves.length, 16);
  assert(moves.every((m) => m.reason === "orphaned" && m.from === null && m.epoch === 0));
  assertEquals(loads(apply(fresh, moves)), { a: 8, b: 8 });
  assertEquals(moves.map((m) => m.shard).sort((x, y) => x - y), [...Array(16).keys()]);

  const three = apply(fresh, allocate(fresh, ["a", "b", "c"], new Set(["a", "b", "c"]), OPTS));
  assertEquals(loads(three), { a: 6, b: 5, c: 5 });
  assert(balanced(three, ["a", "b", "c"], 1));
});

Deno.test("allocate: nothing without an eligible member", () => {
  assertEquals(allocate(shardsOwned(repeat(null, 4)), [], new Set(), OPTS), []);
  assertEquals(allocate(shardsOwned(repeat("a", 4)), [], new Set(["a"]), OPTS), []);
});

Deno.test("allocate: a dead owner's shards go to the least loaded, one at a time", () => {
  // a (dead) 4, b 6, c 2.
  const shards = shardsOwned([...repeat("a", 4), ...repeat("b", 6), ...repeat("c", 2)]);
  const moves = allocate(shards, ["b", "c"], new Set(["b", "c"]), OPTS);
  assertEquals(
    moves.map((m) => [m.shard, m.from, m.to, m.epoch, m.reason]),
    [0, 1, 2, 3].map((s) => [s, "a", "c", shards[s].epoch, "orphaned"]),
  );
  const after = apply(shards, moves);
  assertEquals(loads(after), { b: 6, c: 6 });
  assertEquals(allocate(after, ["b", "c"], new Set(["b", "c"]), OPTS), []);

  // Orphans alternate between equally loaded members.
  const even = shardsOwned([...repeat("a", 4), ...repeat("b", 3), ...repeat("c", 3)]);
  const alternated = allocate(even, ["b", "c"], new Set(["b", "c"]), OPTS);
  assertEquals(alternated.map((m) => m.to), ["b", "c", "b", "c"]);
});

Deno.test("allocate: a leaving or non-worker owner's shards are orphaned too", () => {
  const shards = shardsOwned([...repeat("a", 2), ...repeat("b", 2)]);
  // a is leaving: neither eligible nor holding.
  const moves = allocate(shards, ["b"], new Set(["b"]), OPTS);
  assertEquals(moves.map((m) => [m.shard, m.from, m.to, m.reason]), [[0, "a", "b", "orphaned"], [
    1,
    "a",
    "b",
    "orphaned",
  ]]);
  // An owner unknown to the membership (removed long ago) loses its shards as well.
  const ghost = shardsOwned(["ghost", "b"]);
  assertEquals(allocate(ghost, ["b"], new Set(["b"]), OPTS).map((m) => m.from), ["ghost"]);
});

Deno.test("allocate: a suspect owner keeps its shards, and is left out of the balance", () => {
  // a is suspect: holding, not eligible. b and c are up.
  const shards = shardsOwned([...repeat("a", 6), ...repeat("b", 3), ...repeat("c", 3)]);
  assertEquals(allocate(shards, ["b", "c"], new Set(["a", "b", "c"]), OPTS), []);
  // Orphans are still placed, never on the suspect.
  const withOrphans = shardsOwned([...repeat("a", 6), ...repeat(null, 2), ...repeat("b", 3)]);
  const moves = allocate(withOrphans, ["b", "c"], new Set(["a", "b", "c"]), OPTS);
  assertEquals(moves.map((m) => [m.shard, m.to]), [[6, "c"], [7, "c"]]);
  assert(moves.every((m) => m.to !== "a"));
});

Deno.test("allocate: rebalances at most maxMovesPerRound a round, most to least loaded", () => {
  const shards = shardsOwned(repeat("a", 16));
  const moves = allocate(shards, ["a", "b"], new Set(["a", "b"]), {
    rebalanceThreshold: 1,
    maxMovesPerRound: 3,
  });
  assertStrictEquals(moves.length, 3);
  for (const m of moves) {
    assertEquals([m.from, m.to, m.reason, m.epoch], ["a", "b", "rebalance", shards[m.shard].epoch]);
  }
  // The highest shard numbers move first.
  assertEquals(moves.map((m) => m.shard), [15, 14, 13]);
  assertEquals(loads(apply(shards, moves)), { a: 13, b: 3 });
  // The default: 8 a round.
  assertStrictEquals(allocate(shards, ["a", "b"], new Set(["a", "b"]), DEFAULT_ALLOCATION).length, 8);
});

Deno.test("allocate: rebalances only when the imbalance exceeds the threshold", () => {
  const shards = shardsOwned([...repeat("a", 9), ...repeat("b", 7)]);
  const both = ["a", "b"];
  const holding = new Set(both);
  // 9 - 7 = 2: within a threshold of 2, beyond a threshold of 1.
  assertEquals(allocate(shards, both, holding, { rebalanceThreshold: 2, maxMovesPerRound: 8 }), []);
  const moves = allocate(shards, both, holding, { rebalanceThreshold: 1, maxMovesPerRound: 8 });
  assertEquals(moves.map((m) => [m.from, m.to, m.reason]), [["a", "b", "rebalance"]]);
  assertEquals(loads(apply(shards, moves)), { a: 8, b: 8 });
  // A large threshold tolerates a lot.
  const lopsided = shardsOwned([...repeat("a", 12), ...repeat("b", 4)]);
  assertEquals(allocate(lopsided, both, holding, { rebalanceThreshold: 8, maxMovesPerRound: 8 }), []);
  assertStrictEquals(
    allocate(lopsided, both, holding, { rebalanceThreshold: 7, maxMovesPerRound: 8 }).length,
    1,
  );
});

Deno.test("allocate: no moves when balanced", () => {
  const shards = shardsOwned([...repeat("a", 5), ...repeat("b", 6), ...repeat("c", 5)]);
  const ids = ["a", "b", "c"];
  assert(balanced(shards, ids, 1));
  assertEquals(allocate(shards, ids, new Set(ids), OPTS), []);
  assertEquals(allocate(shards, ids, new Set(ids), { rebalanceThreshold: 0, maxMovesPerRound: 0 }), []);
});

Deno.test("allocate: a joining third member receives shards over rounds, then the map is stable", () => {
  const joinedAt = NOW;
  let now = NOW;
  let shards = apply(
    shardsOwned(repeat(null, 32)),
    allocate(shardsOwned(repeat(null, 32)), ["a", "b"], new Set(["a", "b"]), OPTS),
  );
  assertEquals(loads(shards), { a: 16, b: 16 });
  const opts = { rebalanceThreshold: 1, maxMovesPerRound: 3 };
  const round = () => {
    const ms = members(
      [
        rec("a", { heartbeatAt: now }),
        rec("b", { heartbeatAt: now }),
        rec("c", { joinedAt, heartbeatAt: now }),
      ],
      now,
      T,
    );
    const moves = allocate(
      shards,
      ms.filter(eligible).map((m) => m.id),
      new Set(ms.filter(holdsShards).map((m) => m.id)),
      opts,
    );
    shards = apply(shards, moves);
    return moves;
  };
  // While c is joining it gets nothing.
  assertEquals(round(), []);
  now += T.joiningForMs;
  const perRound: number[] = [];
  for (let i = 0; i < 10; i++) {
    const moves = round();
    if (moves.length === 0) break;
    assert(moves.every((m) => m.to === "c" && m.reason === "rebalance"));
    perRound.push(moves.length);
  }
  assertEquals(perRound, [3, 3, 3, 1]);
  assertEquals(loads(shards), { a: 11, b: 11, c: 10 });
  assert(balanced(shards, ["a", "b", "c"], 1));
  assertEquals(round(), []);
});

// ---- balanced

Deno.test("balanced: every shard owned by an eligible member, loads within the threshold", () => {
  const ids = ["a", "b"];
  assert(balanced(shardsOwned([...repeat("a", 4), ...repeat("b", 4)]), ids, 0));
  assert(balanced(shardsOwned([...repeat("a", 5), ...repeat("b", 4)]), ids, 1));
  assert(!balanced(shardsOwned([...repeat("a", 5), ...repeat("b", 4)]), ids, 0));
  assert(!balanced(shardsOwned([...repeat("a", 6), ...repeat("b", 4)]), ids, 1));
  // An eligible member with no shards counts as 0.
  assert(!balanced(shardsOwned(repeat("a", 4)), ["a", "b", "c"], 1));
  // An unowned shard, or one owned by a non-eligible member, is not balanced.
  assert(!balanced(shardsOwned(["a", null, "b"]), ids, 1));
  assert(!balanced(shardsOwned(["a", "x", "b"]), ids, 1));
  // Nobody eligible: never balanced.
  assert(!balanced([], [], 1));
  assert(!balanced(shardsOwned(["a"]), [], 5));
  // No shards over eligible members: trivially balanced.
  assert(balanced([], ids, 0));
});
