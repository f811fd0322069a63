import postgres from "npm:postgres@3.4.9";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../testing/assert.ts";
import { CommitGroup, type CommitGroupClock } from "./commit_group.ts";
import { MemoryStorage } from "./memory.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import {
  appendOf,
  assertSequenceConflict,
  assertStaleEpoch,
  claimFresh,
} from "../testing/storage/fixtures.ts";
import { openPostgres } from "./postgres.ts";
import type { SqlStorage } from "./sql/sql_storage.ts";
import { type AppendRequest, type AppendResult, type Storage, StorageUnavailable } from "./storage.ts";

const T = 1_700_000_000_000;

/** A create of one execution with one event, on shard 0 at epoch 0 (never claimed). */
function create(executionId: string): AppendRequest {
  return {
    executionId,
    expectedSeq: 0,
    fence: { shard: 0, epoch: 0 },
    events: [{
      v: 1,
      seq: 1,
      at: T,
      type: "ExecutionStarted",
      executionId,
      workflowId: "wf",
      version: 1,
      input: null,
      timeoutAt: null,
      idempotencyKey: null,
    }],
    summary: { executionId, workflowId: "wf", version: 1, status: "running", startTime: T, endTime: null },
  };
}

/** A storage whose `appendMany` calls are recorded, and can be held or made to throw. */
class ControlledStorage {
  readonly batches: number[] = [];
  /** The execution ids of each call, in the order the call carried them. */
  readonly ids: string[][] = [];
  /** Calls in flight now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Calls wait for this before going on. */
  gate: Promise<void> = Promise.resolve();
  /** Makes the call with this number (1-based) throw it. */
  failures = new Map<number, Error>();

  constructor(readonly inner: Storage) {}

  async appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    this.batches.push(requests.length);
    this.ids.push(requests.map((r) => r.executionId));
    const call = this.batches.length;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await this.gate;
      const failure = this.failures.get(call);
      if (failure) throw failure;
      return await this.inner.appendMany(requests);
    } finally {
      this.inFlight--;
    }
  }

  /** Holds every call from now on until the returned function is called. */
  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => open = resolve);
    return open;
  }
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A clock that moves only when told to, running the timers that come due. */
class ManualClock implements CommitGroupClock {
  t = 1_000;
  readonly timers: { at: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(delayMs: number, fn: () => void): void {
    this.timers.push({ at: this.t + delayMs, fn });
  }
  advance(ms: number): void {
    this.t += ms;
    for (const due of this.timers.filter((x) => x.at <= this.t)) {
      this.timers.splice(this.timers.indexOf(due), 1);
      due.fn();
    }
  }
}

Deno.test("commit group: 200 concurrent appends over memory are batched, within maxBatch", async () => {
  const memory = new MemoryStorage();
  const storage = new ControlledStorage(memory);
  const group = new CommitGroup(storage, { maxBatch: 50 });
  const ids = Array.from({ length: 200 }, (_, i) => `e${String(i).padStart(3, "0")}`);
  const results = await Promise.all(ids.map((id) => group.append(create(id))));
  assertEquals(results, ids.map(() => ({ ok: true })));
  assertStrictEquals(group.stats.appends, 200);
  assert(group.stats.flushes < 200, `batched: ${group.stats.flushes} flushes for 200 appends`);
  assert(group.stats.flushes >= 4, `at most 50 a flush: ${group.stats.flushes} flushes`);
  assert(group.stats.maxBatch <= 50, `maxBatch ${group.stats.maxBatch}`);
  assert(group.stats.maxBatch > 1, "some flush carried several appends");
  assertStrictEquals(storage.batches.length, group.stats.flushes);
  assertStrictEquals(storage.batches.reduce((a, b) => a + b, 0), 200);
  assertStrictEquals(Math.max(...storage.batches), group.stats.maxBatch);
  assertStrictEquals(group.queued, 0);
  for (const id of ids) assertStrictEquals((await memory.getExecution(id))?.lastSeq, 1);
});

Deno.test("commit group: with a linger, appends arriving one task apart share a flush; without, they do not", async () => {
  // Appends that arrive in separate tasks, as HTTP requests do after a storage call that blocked the loop.
  const spaced = async (group: CommitGroup, n: number) => {
    const pending: Promise<AppendResult>[] = [];
    for (let i = 0; i < n; i++) {
      pending.push(group.append(create(`spaced-${crypto.randomUUID()}`)));
      await tick();
    }
    return await Promise.all(pending);
  };
  const eager = new ControlledStorage(new MemoryStorage());
  assert((await spaced(new CommitGroup(eager), 8)).every((r) => r.ok));
  assertEquals(eager.batches, [1, 1, 1, 1, 1, 1, 1, 1]);
  const lingering = new ControlledStorage(new MemoryStorage());
  assert((await spaced(new CommitGroup(lingering, { lingerMs: 50 }), 8)).every((r) => r.ok));
  assert(lingering.batches.length <= 2, `8 spaced appends took ${lingering.batches.length} flushes`);
  assertStrictEquals(lingering.batches.reduce((a, b) => a + b, 0), 8);
});

Deno.test("commit group: an idle group flushes at once; appends arriving meanwhile go together right after", async () => {
  const storage = new ControlledStorage(new MemoryStorage());
  const open = storage.hold();
  const group = new CommitGroup(storage);
  const first = group.append(create("first"));
  assertEquals(storage.ids, [["first"]], "no wait when idle");
  const later = ["b", "c", "a", "d"].map((id) => group.append(create(id)));
  await tick();
  // maxInFlight is 2, but a second flush of a few appends does not start beside the first.
  assertEquals(storage.ids, [["first"]]);
  assertStrictEquals(group.queued, 4);
  assertStrictEquals(group.inFlight, 1);
  open();
  assertEquals(await Promise.all([first, ...later]), [1, 2, 3, 4, 5].map(() => ({ ok: true })));
  assertEquals(storage.ids, [["first"], ["b", "c", "a", "d"]], "one flush, in arrival order");
  assertStrictEquals(storage.maxInFlight, 1);
  // Idle again: the next append goes alone, at once.
  const open2 = storage.hold();
  const next = group.append(create("e"));
  assertEquals(storage.ids.at(-1), ["e"]);
  open2();
  assertEquals(await next, { ok: true });
  assertEquals(group.stats, { flushes: 3, appends: 6, maxBatch: 4 });
});

Deno.test("commit group: a full batch flushes beside the one in flight; the rest waits", async () => {
  const storage = new ControlledStorage(new MemoryStorage());
  const open = storage.hold();
  const group = new CommitGroup(storage, { maxBatch: 3, maxInFlight: 2 });
  const ids = ["p0", "f1", "f2", "f3", "w4", "w5", "w6", "w7"];
  const pending = ids.map((id) => group.append(create(id)));
  await tick();
  // p0 found the group idle; f1..f3 filled a batch, which started beside it; w4..w7 wait (2 in flight).
  assertEquals(storage.ids, [["p0"], ["f1", "f2", "f3"]]);
  assertStrictEquals(group.queued, 4);
  open();
  assert((await Promise.all(pending)).every((r) => r.ok));
  // Then the waiting ones: a full batch, and the one left over after it.
  assertEquals(storage.ids, [["p0"], ["f1", "f2", "f3"], ["w4", "w5", "w6"], ["w7"]]);
  assertStrictEquals(storage.maxInFlight, 2);
});

Deno.test("commit group: a backlog: at most maxInFlight flushes, maxBatch appends each, in order", async () => {
  const storage = new ControlledStorage(new MemoryStorage());
  const open = storage.hold();
  const group = new CommitGroup(storage, { maxBatch: 10, maxInFlight: 3 });
  const pending = Array.from({ length: 95 }, (_, i) => group.append(create(`b${i}`)));
  await tick();
  assertEquals(storage.batches, [1, 10, 10]);
  assertStrictEquals(group.queued, 74);
  open();
  assert((await Promise.all(pending)).every((r) => r.ok));
  assertStrictEquals(storage.maxInFlight, 3);
  assert(storage.batches.every((n) => n <= 10), JSON.stringify(storage.batches));
  assertStrictEquals(storage.batches.reduce((a, b) => a + b, 0), 95);
  assertEquals(storage.ids.flat(), Array.from({ length: 95 }, (_, i) => `b${i}`), "arrival order kept");
});

Deno.test("commit group: one flush answers each request for itself, one execution's appends in order", async () => {
  const memory = new MemoryStorage();
  const fence = await claimFresh(memory, 3);
  const moved = await claimFresh(memory, 4);
  assertEquals(await memory.claimShard(4, "node-2", 1), { shard: 4, owner: "node-2", epoch: 2 });
  const x = { id: "x", workflowId: "wf", fence };
  assertEquals(await memory.append(appendOf(x, 0, 1)), { ok: true });
  const storage = new ControlledStorage(memory);
  const open = storage.hold();
  const group = new CommitGroup(storage);
  const first = group.append(create("opener"));
  const y = { id: "y", workflowId: "wf", fence };
  const requests = [
    appendOf(y, 0, 1), // creates y
    appendOf({ id: "z", workflowId: "wf", fence: moved }, 0, 1), // fenced off: shard 4 moved on
    appendOf(x, 5, 1), // x has 1 event, not 5
    appendOf(y, 1, 2), // y's next append, after its create in the same flush
  ];
  const results = requests.map((r) => group.append(r));
  open();
  assertEquals(await first, { ok: true });
  const [createY, staleZ, conflictX, nextY] = await Promise.all(results);
  assertEquals(storage.ids, [["opener"], ["y", "z", "x", "y"]]);
  assertEquals(createY, { ok: true });
  assertStaleEpoch(staleZ, 2);
  assertSequenceConflict(conflictX, 1);
  assertEquals(nextY, { ok: true });
  assertStrictEquals((await memory.getExecution("y"))?.lastSeq, 3);
  assertStrictEquals(await memory.getExecution("z"), undefined);
  assertStrictEquals((await memory.getExecution("x"))?.lastSeq, 1);
});

Deno.test("commit group: spacingMs spaces the flushes of a steady load, never an idle group's", async () => {
  const clock = new ManualClock();
  const storage = new ControlledStorage(new MemoryStorage());
  const group = new CommitGroup(storage, { spacingMs: 10 }, undefined, clock);
  // Idle: at once.
  assertEquals(await group.append(create("s1")), { ok: true });
  assertEquals(storage.ids, [["s1"]]);
  // 3 ms after that flush started: the next waits until 10 ms after it, and those arriving meanwhile join it.
  clock.advance(3);
  const waiting = [group.append(create("s2"))];
  await tick();
  clock.advance(4);
  waiting.push(group.append(create("s3")));
  await tick();
  assertEquals(storage.ids, [["s1"]]);
  assertStrictEquals(group.queued, 2);
  clock.advance(2); // 9 ms
  await tick();
  assertStrictEquals(group.queued, 2);
  clock.advance(1); // 10 ms: due
  assertEquals(await Promise.all(waiting), [{ ok: true }, { ok: true }]);
  assertEquals(storage.ids, [["s1"], ["s2", "s3"]]);
  // A full batch does not wait for the spacing.
  const full = new CommitGroup(storage, { spacingMs: 10, maxBatch: 2 }, undefined, clock);
  assertEquals(await full.append(create("t1")), { ok: true });
  assertEquals(await Promise.all(["t2", "t3"].map((id) => full.append(create(id)))), [{ ok: true }, {
    ok: true,
  }]);
  assertEquals(storage.ids.slice(2), [["t1"], ["t2", "t3"]]);
  // Idle for the spacing or longer: at once again.
  clock.advance(10);
  assertEquals(await group.append(create("s4")), { ok: true });
  assertEquals(storage.ids.at(-1), ["s4"]);
  assertStrictEquals(clock.timers.length, 0);
});

Deno.test("commit group: each caller gets its own result (a refused append among ok ones)", async () => {
  const memory = new MemoryStorage();
  assertEquals((await memory.append(create("taken"))).ok, true);
  const group = new CommitGroup(memory, { maxBatch: 10, maxInFlight: 1 });
  const results = await Promise.all(["a", "taken", "b"].map((id) => group.append(create(id))));
  assertEquals(results[0], { ok: true });
  assertStrictEquals(!results[1].ok && results[1].error.code, "execution_exists");
  assertEquals(results[2], { ok: true });
});

Deno.test("commit group: beyond maxQueue an append is refused at once with StorageUnavailable", async () => {
  const storage = new ControlledStorage(new MemoryStorage());
  const open = storage.hold();
  const group = new CommitGroup(storage, { maxBatch: 1, maxQueue: 3, maxInFlight: 1 });
  const first = group.append(create("q1")); // in flight, held
  const queued = ["q2", "q3", "q4"].map((id) => group.append(create(id)));
  assertStrictEquals(group.queued, 3);
  await assertRejects(group.append(create("q5")), (err: unknown) => {
    assert(err instanceof StorageUnavailable, `expected StorageUnavailable, got ${err}`);
    assert(/queue full/.test(err.message), err.message);
    return true;
  });
  assertStrictEquals(group.queued, 3);
  assertEquals(storage.batches, [1]);
  open();
  assertEquals(await Promise.all([first, ...queued]), [{ ok: true }, { ok: true }, { ok: true }, {
    ok: true,
  }]);
  assertStrictEquals(group.queued, 0);
  // Room again: the refused append goes through now.
  assertEquals(await group.append(create("q5")), { ok: true });
  assertEquals(storage.batches, [1, 1, 1, 1, 1]);
});

Deno.test("commit group: a throwing appendMany rejects its whole batch; later appends still work", async () => {
  const memory = new MemoryStorage();
  const storage = new ControlledStorage(memory);
  const boom = new StorageUnavailable("connection lost");
  storage.failures.set(2, boom);
  const open = storage.hold();
  const group = new CommitGroup(storage, { maxBatch: 10, maxInFlight: 1 });
  const first = group.append(create("t1")); // flush 1, held
  const batch = ["t2", "t3", "t4"].map((id) => group.append(create(id))); // flush 2: throws
  const settled = Promise.allSettled(batch);
  await tick();
  assertStrictEquals(group.queued, 3);
  open();
  assertEquals(await first, { ok: true });
  const outcomes = await settled;
  for (const o of outcomes) {
    assertStrictEquals(o.status, "rejected");
    assertStrictEquals((o as PromiseRejectedResult).reason, boom);
  }
  assertEquals(storage.batches, [1, 3]);
  for (const id of ["t2", "t3", "t4"]) assertStrictEquals(await memory.getExecution(id), undefined);
  // The group goes on: new appends and retries of the failed ones.
  assertEquals(await Promise.all(["t5", "t2"].map((id) => group.append(create(id)))), [{ ok: true }, {
    ok: true,
  }]);
  assertStrictEquals((await memory.getExecution("t2"))?.lastSeq, 1);
  assertStrictEquals(group.queued, 0);
});

/** Waits until no other client is connected to the admin's database, so their statistics are flushed. */
async function settle(admin: postgres.Sql): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const [r] = await admin`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`;
    if (r.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("connections to the test database did not close");
}

/** Transactions committed in the admin's database (as far as the statistics are flushed). */
async function commits(admin: postgres.Sql): Promise<number> {
  await settle(admin);
  await admin`select pg_stat_clear_snapshot()`;
  const [r] =
    await admin`select xact_commit::int as n from pg_stat_database where datname = current_database()`;
  return r.n;
}

/**
 * Commits while `fn` runs on a fresh storage (opened and closed around it: closed
 * backends have flushed their statistics). Includes opening (a no-op migration)
 * and a few bookkeeping statements of the admin connection.
 */
async function commitsDuring(url: string, admin: postgres.Sql, fn: (s: SqlStorage) => Promise<void>) {
  await (await openPostgres({ url, poolMax: 10 })).close(); // migrated before counting
  const before = await commits(admin);
  const storage = await openPostgres({ url, poolMax: 10 });
  try {
    await fn(storage);
  } finally {
    await storage.close();
  }
  return (await commits(admin)) - before;
}

pgTest(
  "commit group over PostgreSQL: 200 concurrent creates take far fewer commits than 200 appends",
  async () => {
    await withTempDatabase(async (url) => {
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const baseline = await commitsDuring(url, admin, async (s) => {
          assertStrictEquals(await s.ping(), true);
        });
        let stats = { flushes: 0, appends: 0, maxBatch: 0 };
        const grouped = await commitsDuring(url, admin, async (s) => {
          const group = new CommitGroup(s);
          assertStrictEquals(group.options.spacingMs, 10, "PostgreSQL's flushes are spaced by default");
          const results = await Promise.all(
            Array.from({ length: 200 }, (_, i) => group.append(create(`grouped-${i}`))),
          );
          assert(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
          stats = { ...group.stats };
        });
        const direct = await commitsDuring(url, admin, async (s) => {
          const results = await Promise.all(
            Array.from({ length: 200 }, (_, i) => s.append(create(`direct-${i}`))),
          );
          assert(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
        });
        console.log(
          `commits: baseline (open, ping, close) ${baseline}; 200 creates through a commit group ${grouped} ` +
            `(${stats.flushes} flushes, largest ${stats.maxBatch}); 200 direct appends ${direct}`,
        );
        assertStrictEquals(stats.appends, 200);
        assert(grouped < 100, `grouped: ${grouped} commits`);
        assert(direct >= 200, `direct: ${direct} commits`);
        assert(grouped < direct / 2, `grouped ${grouped} vs direct ${direct}`);
        const [r] = await admin`select count(*)::int as n from executions`;
        assertStrictEquals(r.n, 400);
      } finally {
        await admin.end({ timeout: 2 });
      }
    });
  },
);
