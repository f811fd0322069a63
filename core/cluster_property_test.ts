/**
 * Property tests of the cluster core over a model cluster: members join, leave
 * gracefully, crash, restart and time passes; after every step the leader's
 * allocation rounds are carried out as compare-and-set claims in a model ledger
 * (a claim applies only at the shard's current epoch and bumps it), and every
 * live member re-claims the shards it takes up, as `server/cluster/member.ts` does.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import {
  allocate,
  type AllocationOptions,
  balanced,
  eligible,
  holdsShards,
  leaderOf,
  type Member,
  type MemberRecord,
  members,
  type MembershipTimings,
  type Move,
  type Role,
  type ShardAssignment,
} from "./cluster.ts";
import { DEFAULT_SHARD_COUNT, shardOf } from "./ids.ts";

// ---- the model

interface ModelMember {
  id: string;
  roles: Role[];
  joinedAt: number;
  heartbeatAt: number;
  leaving: boolean;
  /** Its process runs (heartbeats, syncs). */
  alive: boolean;
  /** What its engine holds: shard → epoch (only epochs it claimed itself). */
  held: Map<number, number>;
}

/** Shard ownership as storage keeps it, with the history of every claim. */
class Ledger {
  readonly shards: ShardAssignment[];
  /** `shard@epoch` → the owner that claim gave it. */
  readonly history = new Map<string, string>();
  claims = 0;

  constructor(shardCount: number) {
    this.shards = Array.from({ length: shardCount }, (_, shard) => ({ shard, owner: null, epoch: 0 }));
  }

  /** A compare-and-set claim: applies only at `expected`, bumping the epoch by one. */
  claim(shard: number, owner: string, expected: number): boolean {
    const s = this.shards[shard];
    if (s.epoch !== expected) return false;
    const key = `${shard}@${expected + 1}`;
    const before = this.history.get(key);
    assert(
      before === undefined,
      `(a) shard ${shard} epoch ${expected + 1} given to ${before} and to ${owner}`,
    );
    this.history.set(key, owner);
    s.owner = owner;
    s.epoch = expected + 1;
    this.claims++;
    return true;
  }

  snapshot(): ShardAssignment[] {
    return this.shards.map((s) => ({ ...s }));
  }
}

type Op =
  | { kind: "join"; coordinator: boolean; workerToo: boolean }
  | { kind: "leave"; pick: number }
  | { kind: "crash"; pick: number }
  | { kind: "restart"; pick: number }
  | { kind: "advance"; ms: number };

/** How one step's rounds interleave: members sync before the leader's claims; a rival leader. */
interface Step {
  op: Op;
  rounds: number;
  syncFirst: boolean;
  rival: boolean;
}

const TIMINGS_BASE = { suspectAfterMs: 1_000, downAfterMs: 2_500 };

class Model {
  now = 1_000_000;
  readonly all: ModelMember[] = [];
  readonly ledger: Ledger;
  #next = 0;
  #lastEpochs: number[];

  constructor(
    readonly shardCount: number,
    readonly timings: MembershipTimings,
    readonly opts: AllocationOptions,
  ) {
    this.ledger = new Ledger(shardCount);
    this.#lastEpochs = this.ledger.shards.map((s) => s.epoch);
  }

  join(roles: Role[]): ModelMember {
    const m: ModelMember = {
      id: `m${String(this.#next++).padStart(3, "0")}`,
      roles,
      joinedAt: this.now,
      heartbeatAt: this.now,
      leaving: false,
      alive: true,
      held: new Map(),
    };
    this.all.push(m);
    return m;
  }

  apply(op: Op): void {
    const alive = this.all.filter((m) => m.alive && !m.leaving);
    const dead = this.all.filter((m) => !m.alive);
    switch (op.kind) {
      case "join": {
        const roles: Role[] = op.coordinator
          ? (op.workerToo ? ["coordinator", "worker"] : ["coordinator"])
          : [
            "worker",
          ];
        this.join(roles);
        break;
      }
      case "leave":
        if (alive.length > 0) alive[op.pick % alive.length].leaving = true;
        break;
      case "crash":
        if (alive.length > 0) {
          const m = alive[op.pick % alive.length];
          m.alive = false;
          m.held.clear();
        }
        break;
      case "restart":
        if (dead.length > 0) {
          const m = dead[op.pick % dead.length];
          // Storage keeps joinedAt from the first heartbeat.
          m.alive = true;
          m.leaving = false;
          m.heartbeatAt = this.now;
        }
        break;
      case "advance":
        this.now += op.ms;
        break;
    }
    this.heartbeat();
  }

  /** Every running member heartbeats now. */
  heartbeat(): void {
    for (const m of this.all) if (m.alive) m.heartbeatAt = this.now;
  }

  records(): MemberRecord[] {
    return this.all.map(({ id, roles, joinedAt, heartbeatAt, leaving }) => ({
      id,
      address: "",
      httpAddress: "",
      roles,
      joinedAt,
      heartbeatAt,
      leaving,
    }));
  }

  view(): { ms: Member[]; leader: string | null; eligibleIds: string[]; holding: Set<string> } {
    const ms = members(this.records(), this.now, this.timings);
    return {
      ms,
      leader: leaderOf(ms),
      eligibleIds: ms.filter(eligible).map((m) => m.id),
      holding: new Set(ms.filter(holdsShards).map((m) => m.id)),
    };
  }

  /** One round; returns the leader's moves that applied. */
  round(syncFirst = false, rival = false): Move[] {
    const { leader, eligibleIds, holding } = this.view();
    const applied: Move[] = [];
    if (leader !== null) {
      const snapshot = this.ledger.snapshot();
      const moves = allocate(snapshot, eligibleIds, holding, this.opts);
      for (const m of moves) {
        assert(eligibleIds.includes(m.to), `a move to ${m.to}, who is not eligible`);
        if (m.reason === "orphaned") {
          assert(m.from === null || !holding.has(m.from), `an orphan move from ${m.from}, who holds shards`);
        }
      }
      // The leader's snapshot may be stale: members re-claim in between.
      if (syncFirst) this.sync();
      for (const m of moves) {
        const before = this.ledger.shards[m.shard].epoch;
        if (this.ledger.claim(m.shard, m.to, m.epoch)) applied.push(m);
        else assertStrictEquals(this.ledger.shards[m.shard].epoch, before, "a refused claim changes nothing");
      }
      // A rival leader (split brain) with an older, different view: its claims race on the same epochs.
      if (rival && eligibleIds.length > 1) {
        const gone = eligibleIds[0];
        const rivalMoves = allocate(
          snapshot,
          eligibleIds.slice(1),
          new Set([...holding].filter((id) => id !== gone)),
          this.opts,
        );
        for (const m of rivalMoves) this.ledger.claim(m.shard, m.to, m.epoch);
      }
    }
    this.sync();
    this.check();
    return applied;
  }

  /** Every running member makes its engine hold exactly what the ledger says, re-claiming what it takes up. */
  sync(): void {
    for (const m of this.all) {
      if (!m.alive) continue;
      for (const [shard, epoch] of [...m.held]) {
        const s = this.ledger.shards[shard];
        if (s.owner !== m.id || s.epoch !== epoch) m.held.delete(shard);
      }
      for (const s of this.ledger.shards) {
        if (s.owner !== m.id || m.held.get(s.shard) === s.epoch) continue;
        const expected = s.epoch;
        if (this.ledger.claim(s.shard, m.id, expected)) m.held.set(s.shard, expected + 1);
      }
      // A leaving member stops once it holds nothing and owns nothing.
      if (m.leaving && m.held.size === 0 && !this.ledger.shards.some((s) => s.owner === m.id)) {
        m.alive = false;
      }
    }
  }

  /** Invariants after every round. */
  check(): void {
    // (b) epochs only grow.
    for (const s of this.ledger.shards) {
      assert(s.epoch >= this.#lastEpochs[s.shard], `(b) shard ${s.shard} epoch went back`);
      this.#lastEpochs[s.shard] = s.epoch;
    }
    // (a) no two engines hold one shard at one epoch; none holds an epoch storage never gave it.
    const holders = new Map<string, string>();
    for (const m of this.all) {
      for (const [shard, epoch] of m.held) {
        const key = `${shard}@${epoch}`;
        assert(!holders.has(key), `(a) ${key} held by ${holders.get(key)} and ${m.id}`);
        holders.set(key, m.id);
        assertStrictEquals(this.ledger.history.get(key), m.id, `(a) ${m.id} holds ${key} it never claimed`);
        assert(epoch <= this.ledger.shards[shard].epoch, "(b) a held epoch above storage's");
      }
    }
  }

  /** Rounds until one moves and claims nothing; returns the leader's moves over them. */
  settle(): Move[] {
    const moved: Move[] = [];
    for (let i = 0; i < this.shardCount + 50; i++) {
      const claims = this.ledger.claims;
      const moves = this.round();
      moved.push(...moves);
      if (moves.length === 0 && this.ledger.claims === claims) return moved;
    }
    throw new Error("allocation never settled");
  }
}

// ---- generators

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("join" as const),
      coordinator: fc.boolean(),
      workerToo: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("leave" as const), pick: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("crash" as const), pick: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("restart" as const), pick: fc.nat(20) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 4_000 }) }),
  },
);

const stepArb: fc.Arbitrary<Step> = fc.record({
  op: opArb,
  rounds: fc.integer({ min: 1, max: 3 }),
  syncFirst: fc.boolean(),
  rival: fc.boolean(),
});

const scenarioArb = fc.record({
  shardCount: fc.integer({ min: 1, max: 128 }),
  joiningForMs: fc.constantFrom(0, 300),
  rebalanceThreshold: fc.integer({ min: 1, max: 3 }),
  maxMovesPerRound: fc.integer({ min: 1, max: 8 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 25 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function modelOf(s: Scenario): Model {
  const model = new Model(
    s.shardCount,
    { ...TIMINGS_BASE, joiningForMs: s.joiningForMs },
    { rebalanceThreshold: s.rebalanceThreshold, maxMovesPerRound: s.maxMovesPerRound },
  );
  model.join(["coordinator", "worker", "api-gateway"]);
  return model;
}

/** Runs the steps: every op, then its rounds (with the interleavings it asks for). */
function run(model: Model, steps: readonly Step[]): void {
  for (const step of steps) {
    model.apply(step.op);
    for (let r = 0; r < step.rounds; r++) model.round(step.syncFirst, step.rival);
  }
}

/** No more ops: time passes until the crashed are down and the joining up, then rounds settle. */
function stabilize(model: Model): void {
  model.now += model.timings.downAfterMs + model.timings.joiningForMs;
  model.heartbeat();
  model.settle();
}

const NUM_RUNS = 150;

// ---- properties

Deno.test("cluster model: (a) one owner per shard and epoch, (b) epochs only grow, under any history", () => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const model = modelOf(s);
      run(model, s.steps);
      stabilize(model);
      // Every claim in the history has a distinct (shard, epoch): as many entries as claims made.
      assertStrictEquals(model.ledger.history.size, model.ledger.claims);
      // Each shard's epochs in the history are exactly 1..current, none skipped.
      for (const sh of model.ledger.shards) {
        for (let e = 1; e <= sh.epoch; e++) assert(model.ledger.history.has(`${sh.shard}@${e}`));
        assert(!model.ledger.history.has(`${sh.shard}@${sh.epoch + 1}`));
        if (sh.epoch > 0) assertStrictEquals(model.ledger.history.get(`${sh.shard}@${sh.epoch}`), sh.owner);
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("cluster model: (c) once stable, every shard is owned by an eligible member and loads are balanced", () => {
  let checked = 0;
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const model = modelOf(s);
      run(model, s.steps);
      stabilize(model);
      const { leader, eligibleIds, ms } = model.view();
      if (leader === null || eligibleIds.length === 0) return; // nobody may allocate, or nobody to own
      checked++;
      for (const sh of model.ledger.shards) {
        assert(sh.owner !== null && eligibleIds.includes(sh.owner), `shard ${sh.shard} owned by ${sh.owner}`);
      }
      assert(
        balanced(model.ledger.shards, eligibleIds, s.rebalanceThreshold),
        `not balanced: ${JSON.stringify(loadsOf(model.ledger.shards))}`,
      );
      // Every eligible member's engine holds exactly its shards, at storage's epochs.
      for (const m of model.all) {
        if (!ms.find((x) => x.id === m.id && eligible(x))) continue;
        const mine = new Map(
          model.ledger.shards.filter((x) => x.owner === m.id).map((x) => [x.shard, x.epoch]),
        );
        assertEquals(new Map(m.held), mine);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  assert(checked > NUM_RUNS / 4, `only ${checked} runs reached a state with a leader and a worker`);
});

Deno.test("cluster model: (d) a balanced map with no membership change moves nothing", () => {
  fc.assert(
    fc.property(scenarioArb, fc.integer({ min: 1, max: 5 }), (s, extraRounds) => {
      const model = modelOf(s);
      run(model, s.steps);
      stabilize(model);
      const { leader, eligibleIds, holding } = model.view();
      if (leader === null || eligibleIds.length === 0) return;
      assert(balanced(model.ledger.shards, eligibleIds, s.rebalanceThreshold));
      assertEquals(allocate(model.ledger.shards, eligibleIds, holding, model.opts), []);
      const claims = model.ledger.claims;
      for (let i = 0; i < extraRounds; i++) {
        model.now += 100;
        model.heartbeat();
        assertEquals(model.round(), []);
      }
      assertStrictEquals(model.ledger.claims, claims, "no claims at all in a stable cluster");
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("cluster model: (d) one member joining moves at most ceil(shards / members) + threshold shards", () => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const model = modelOf(s);
      run(model, s.steps);
      stabilize(model);
      const before = model.view();
      if (before.leader === null || before.eligibleIds.length === 0) return;
      const newcomer = model.join(["worker"]);
      model.now += model.timings.joiningForMs;
      model.heartbeat();
      const moved = model.settle();
      const { eligibleIds } = model.view();
      assertStrictEquals(eligibleIds.length, before.eligibleIds.length + 1);
      const bound = Math.ceil(s.shardCount / eligibleIds.length) + s.rebalanceThreshold;
      assert(moved.length <= bound, `${moved.length} moves for one join, bound ${bound}`);
      assert(moved.every((m) => m.reason === "rebalance" && m.to === newcomer.id), JSON.stringify(moved));
      assert(balanced(model.ledger.shards, eligibleIds, s.rebalanceThreshold));
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("cluster model: (d) a crash moves exactly the dead member's shards, to the least loaded", () => {
  fc.assert(
    fc.property(scenarioArb, fc.nat(20), (s, pick) => {
      const model = modelOf(s);
      run(model, s.steps);
      stabilize(model);
      const before = model.view();
      if (before.leader === null || before.eligibleIds.length < 2) return;
      const victimId = before.eligibleIds[pick % before.eligibleIds.length];
      const victim = model.all.find((m) => m.id === victimId)!;
      const itsShards = model.ledger.shards.filter((sh) => sh.owner === victimId).map((sh) => sh.shard);
      victim.alive = false;
      victim.held.clear();
      // Suspect first: it keeps its shards.
      model.now += model.timings.suspectAfterMs;
      model.heartbeat();
      const whileSuspect = model.round();
      assert(whileSuspect.every((m) => m.from !== victimId), "a suspect member lost shards");
      model.now += model.timings.downAfterMs;
      model.heartbeat();
      const after = model.view();
      if (after.leader === null) return; // the only coordinator died
      const moved = model.settle();
      assertEquals(moved.map((m) => m.shard).sort((a, b) => a - b), itsShards);
      assert(moved.every((m) => m.reason === "orphaned" && m.from === victimId));
      assert(balanced(model.ledger.shards, after.eligibleIds, s.rebalanceThreshold));
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("cluster model: (c) with no eligible worker nothing is allocated", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 128 }),
      fc.integer({ min: 0, max: 3 }),
      (shardCount, coordinators) => {
        const model = new Model(shardCount, { ...TIMINGS_BASE, joiningForMs: 0 }, {
          rebalanceThreshold: 1,
          maxMovesPerRound: 8,
        });
        for (let i = 0; i < coordinators; i++) model.join(["coordinator", "api-gateway"]);
        assertEquals(model.settle(), []);
        assert(model.ledger.shards.every((sh) => sh.owner === null && sh.epoch === 0));
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("shardOf: the same id always maps to the same shard, within [0, n)", () => {
  const idArb = fc.oneof(
    fc.string({ maxLength: 64 }),
    fc.string({ unit: "binary", maxLength: 64 }),
    fc.uuid().map((u) => `ex-${u}`),
  );
  fc.assert(
    fc.property(idArb, fc.integer({ min: 1, max: 4096 }), (id, n) => {
      const shard = shardOf(id, n);
      assert(
        Number.isInteger(shard) && shard >= 0 && shard < n,
        `shardOf(${JSON.stringify(id)}, ${n}) = ${shard}`,
      );
      assertStrictEquals(shardOf(id, n), shard);
      assertStrictEquals(shardOf(String(id), n), shard);
      const byDefault = shardOf(id);
      assert(byDefault >= 0 && byDefault < DEFAULT_SHARD_COUNT);
      assertStrictEquals(byDefault, shardOf(id, DEFAULT_SHARD_COUNT));
    }),
    { numRuns: 500 },
  );
  // A single shard takes everything.
  fc.assert(fc.property(fc.string(), (id) => shardOf(id, 1) === 0), { numRuns: 100 });
});

function loadsOf(shards: readonly ShardAssignment[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of shards) out[String(s.owner)] = (out[String(s.owner)] ?? 0) + 1;
  return out;
}
