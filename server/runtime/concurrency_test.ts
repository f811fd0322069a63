/**
 * Concurrency keys in the runtime: the key's evaluation, the gate's bookkeeping (claims, ends, reopenings,
 * recovery held per shard, shards given up), and an engine over memory storage: runs of a key beyond its limit
 * start queued and are admitted in order as others end, and a new engine over the same storage rebuilds the
 * queues without losing a run or going over the limit.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { testEngine } from "../../testing/engine.ts";
import { sleep, waitUntil } from "../../testing/wait.ts";
import { initialState } from "../../core/state.ts";
import { compilePlan } from "../../core/plan.ts";
import type { ExecutionState } from "../../core/state.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import {
  type AppendRequest,
  type AppendResult,
  StorageUnavailable,
  type StoredWorkflow,
} from "../../storage/storage.ts";
import { ConcurrencyGate, concurrencyKeyOf, MAX_CONCURRENCY_KEY_CHARS } from "./concurrency.ts";
import type { Engine } from "./engine.ts";
import { checkWorkflow } from "./workflows.ts";

Deno.test("concurrencyKeyOf: input and $input read the input; strings and numbers only, 1 to 256 chars", async () => {
  const ok = async (expr: string, input: unknown) => {
    const r = await concurrencyKeyOf(expr, input as never);
    assert(r.ok, `${expr}: ${!r.ok && r.message}`);
    return r.key;
  };
  const bad = async (expr: string, input: unknown) => {
    const r = await concurrencyKeyOf(expr, input as never);
    assert(!r.ok, `${expr} should be refused`);
    return r.message;
  };
  assertEquals(await ok("input.customer", { customer: "acme" }), "acme");
  assertEquals(await ok("$input.customer", { customer: "acme" }), "acme");
  assertEquals(await ok("input.tenant & '/' & input.region", { tenant: "t", region: "eu" }), "t/eu");
  assertEquals(await ok("input.n", { n: 7 }), "7");
  assertEquals(await ok("input.n", { n: 1.5 }), "1.5");
  assertEquals(await ok("'all'", null), "all");
  assertEquals(await ok("input", "bare"), "bare");
  assertEquals(await ok("input.s", { s: "x".repeat(MAX_CONCURRENCY_KEY_CHARS) }), "x".repeat(256));
  assert((await bad("input.missing", {})).includes("gave nothing"));
  assert((await bad("input.o", { o: { a: 1 } })).includes("gave object"));
  assert((await bad("input.a", { a: [1] })).includes("gave an array"));
  assert((await bad("input.b", { b: true })).includes("gave boolean"));
  assert((await bad("input.z", { z: null })).includes("gave null"));
  assert((await bad("input.s", { s: "" })).includes("1 to 256"));
  assert((await bad("input.s", { s: "x".repeat(257) })).includes("1 to 256"));
  assert((await bad("$error('no')", {})).includes("failed"));
});

// ---- the gate alone

const keyedPlan = compilePlan(
  {
    id: "wf",
    name: "wf",
    nodes: [{ id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }],
    edges: [],
    concurrency: { key: "input.k", limit: 2 },
  },
  1,
);

function stateOf(id: string, patch: Partial<ExecutionState>): ExecutionState {
  return {
    ...initialState(id, keyedPlan),
    status: "running",
    concurrency: { key: "k1", limit: 2 },
    ...patch,
  };
}

Deno.test("gate: claims beyond the limit queue; ends, creation failures and cancellations admit in order", () => {
  const admitted: string[] = [];
  const gate = new ConcurrencyGate((id) => admitted.push(id));
  const slot = { key: "k1", limit: 2 };
  const queued = ["e1", "e2", "e3", "e4", "e5"].map((id, i) => gate.claim(id, 3, "wf", slot, i));
  assertEquals(queued, [false, false, true, true, true]);
  assertEquals(
    gate.claim("other", 3, "wf", { key: "k2", limit: 2 }, 9),
    false,
    "another key has its own room",
  );
  assertEquals(gate.claim("e1b", 4, "wf", slot, 9), false, "another shard's runs of the key are apart");
  gate.forget("e1"); // its creation failed
  assertEquals(admitted, ["e3"]);
  const running = stateOf("e2", {}), ended = stateOf("e2", { status: "completed" });
  gate.committed("e2", 3, running, running, 10); // an ordinary commit changes nothing
  assertEquals(admitted, ["e3"]);
  const cancelledQueued = stateOf("e4", { status: "cancelled", queued: true });
  gate.committed("e4", 3, stateOf("e4", { queued: true }), cancelledQueued, 11);
  assertEquals(admitted, ["e3"], "a waiting run that ends frees no slot");
  gate.committed("e2", 3, running, ended, 12);
  assertEquals(admitted, ["e3", "e5"], "e4 left the queue: e5 is next");
  const group = gate.snapshot().find((g) => g.shard === 3 && g.key === "k1")!;
  assertEquals({ admitted: group.admitted.sort(), waiting: group.waiting, limit: group.limit }, {
    admitted: ["e3", "e5"],
    waiting: [],
    limit: 2,
  });
});

Deno.test("gate: a reopened run waits at the tail; an unclaimed keyed run is counted as its state says", () => {
  const admitted: string[] = [];
  const gate = new ConcurrencyGate((id) => admitted.push(id));
  const slot = { key: "k1", limit: 1 };
  const one = (id: string, patch: Partial<ExecutionState> = {}) =>
    stateOf(id, { concurrency: slot, ...patch });
  gate.claim("a", 0, "wf", slot, 1);
  gate.claim("b", 0, "wf", slot, 2);
  gate.committed("a", 0, one("a"), one("a", { status: "failed" }), 3);
  assertEquals(admitted, ["b"]);
  // a is retried: it waits behind b.
  gate.committed("a", 0, one("a", { status: "failed" }), one("a", { queued: true }), 4);
  assertEquals(admitted, ["b"]);
  // c was created by a path that did not claim (admitted in its state): it counts.
  gate.committed("c", 0, initialState("c", keyedPlan), one("c"), 5);
  gate.committed("b", 0, one("b"), one("b", { status: "completed" }), 6);
  assertEquals(admitted, ["b"], "c holds the only slot");
  gate.committed("c", 0, one("c"), one("c", { status: "completed" }), 7);
  assertEquals(admitted, ["b", "a"]);
});

Deno.test("gate: recovery holds the shard's admissions, orders the waiting runs, re-admits a lost Admit", () => {
  const admitted: string[] = [];
  const gate = new ConcurrencyGate((id) => admitted.push(id));
  const done = gate.recovering([5]);
  // Found in no particular order: two admitted (one of them only in the gate before: an Admit lost), three
  // waiting since 30, 10 and 10.
  gate.recovered("w30", 5, stateOf("w30", { queued: true }), 30);
  gate.recovered("run1", 5, stateOf("run1", {}), 1);
  gate.recovered("w10b", 5, stateOf("w10b", { queued: true }), 10);
  gate.recovered("w10a", 5, stateOf("w10a", { queued: true }), 10);
  assertEquals(
    gate.claim("live", 5, "wf", { key: "k1", limit: 2 }, 40),
    true,
    "a claim while recovering waits",
  );
  assertEquals(admitted, [], "nothing admitted while the shard recovers");
  done();
  assertEquals(admitted, ["w10a"], "one slot left: the earliest waiting run, ties by id");
  done(); // a second call changes nothing
  assertEquals(admitted, ["w10a"]);
  // The sweep reloads w10a before its Admit committed: the gate admits it again.
  gate.recovered("w10a", 5, stateOf("w10a", { queued: true }), 10);
  assertEquals(admitted, ["w10a", "w10a"]);
  gate.committed("run1", 5, stateOf("run1", {}), stateOf("run1", { status: "completed" }), 50);
  assertEquals(admitted, ["w10a", "w10a", "w10b"]);
  gate.dropShard(5);
  assertEquals(gate.size, 0);
  assertEquals(gate.snapshot(), []);
});

Deno.test("gate: a raised limit admits the waiting runs before a new claim", () => {
  const admitted: string[] = [];
  const gate = new ConcurrencyGate((id) => admitted.push(id));
  gate.claim("a", 0, "wf", { key: "k", limit: 1 }, 1);
  gate.claim("b", 0, "wf", { key: "k", limit: 1 }, 2);
  assertEquals(gate.claim("c", 0, "wf", { key: "k", limit: 3 }, 3), false);
  assertEquals(admitted, ["b"]);
});

// ---- an engine over memory storage

async function store(storage: MemoryStorage, def: WorkflowDefinition): Promise<StoredWorkflow> {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

/** A keyed workflow whose runs wait for the signal `go`, then collect their input. */
const waiting = (limit: number): WorkflowDefinition => ({
  id: "keyed",
  name: "keyed",
  nodes: [
    { id: "wait", type: "control", nodeType: "signal.wait", config: { name: "go" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "wait", target: "out" }],
  concurrency: { key: "input.customer", limit },
});

/** Whether each run is past admission (its view is not queued) and not ended. */
async function admittedRunning(engine: Engine, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) {
    const v = await engine.view(id);
    if (v && v.status === "running" && v.queued !== true) out.push(id);
  }
  return out;
}

Deno.test("engine: runs of a key beyond its limit wait, durably, and are admitted in order", async () => {
  const storage = new MemoryStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    const wf = await store(storage, waiting(2));
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await engine.submit(wf, { input: { customer: "acme", i } });
      assert(r.ok, JSON.stringify(r));
      ids.push(r.value.executionId);
    }
    const other = await engine.submit(wf, { input: { customer: "globex" } });
    assert(other.ok);
    assert(ids.every((id) => id.startsWith(ids[0].split("@")[0] + "@")), "one key, one routing prefix");
    assert(!other.value.executionId.startsWith(ids[0].split("@")[0]), "another key, another prefix");
    assertEquals(await admittedRunning(engine, ids), ids.slice(0, 2));
    const queuedView = await engine.view(ids[2]);
    assertEquals(queuedView?.queued, true);
    assertEquals(queuedView?.concurrency, { key: "acme", limit: 2 });
    assertEquals(await admittedRunning(engine, [other.value.executionId]), [other.value.executionId]);
    const events = await engine.events(ids[2]);
    assertEquals(events.map((e) => e.type), ["ExecutionStarted"], "a queued run schedules nothing");
    // A queued run can be cancelled: it leaves the queue.
    assert((await engine.cancel(ids[3], "not needed")).ok);
    for (let n = 0; n < 5; n++) {
      const next = (await admittedRunning(engine, ids))[0];
      if (next === undefined) break;
      assert((await engine.signal(next, "go", null)).ok);
      assertEquals((await engine.wait(next, 5_000))?.status, "completed");
      await waitUntil(
        "the next run admitted",
        async () => (await admittedRunning(engine, ids)).length === Math.min(2, remaining(ids, n)),
      );
      const admitted = await admittedRunning(engine, ids);
      assert(admitted.length <= 2, `over the limit: ${admitted}`);
    }
    for (const id of ids) {
      const v = await engine.view(id);
      assertEquals(v?.status, id === ids[3] ? "cancelled" : "completed", id);
    }
    const admittedAt = await Promise.all(
      [0, 1, 2, 4, 5].map(async (i) => {
        const ev = await engine.events(ids[i]);
        return { i, at: ev.find((e) => e.type === "ExecutionAdmitted")?.seq ?? 0 };
      }),
    );
    assertEquals(
      admittedAt.map((a) => a.at > 0),
      [false, false, true, true, true],
      "2, 4, 5 were admitted later",
    );
  } finally {
    await engine.stop();
  }

  /** Runs not yet ended after `n + 1` completions (one of the six was cancelled). */
  function remaining(ids: string[], n: number): number {
    return ids.length - 1 - (n + 1);
  }
});

Deno.test("engine: a new engine over the same storage rebuilds the queue; nothing lost, the limit holds", async () => {
  const storage = new MemoryStorage();
  const first = testEngine(storage);
  await first.start();
  const wf = await store(storage, waiting(1));
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    // A queue rebuilt from storage is in start order, to the millisecond (then by id): one run a millisecond.
    await sleep(2);
    const r = await first.submit(wf, { input: { customer: "acme", i } });
    assert(r.ok);
    ids.push(r.value.executionId);
  }
  assertEquals(await admittedRunning(first, ids), [ids[0]]);
  await first.stop();

  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    assertEquals(second.activeExecutions, 4, "queued runs are live (recovered) too");
    assertEquals(await admittedRunning(second, ids), [ids[0]], "still one admitted after the restart");
    for (let k = 0; k < ids.length; k++) {
      const [running] = await admittedRunning(second, ids);
      assertEquals(running, ids[k], "admitted in submission order");
      assert((await second.signal(running, "go", null)).ok);
      assertEquals((await second.wait(running, 5_000))?.status, "completed");
      if (k + 1 < ids.length) {
        await waitUntil(
          "the next run admitted",
          async () => (await admittedRunning(second, ids)).length === 1,
        );
      }
    }
    assertEquals(second.activeExecutions, 0);
  } finally {
    await second.stop();
  }
});

Deno.test("engine: concurrent submissions of a key count exactly; a creation that fails gives its slot back", async () => {
  const storage = new MemoryStorage();
  let failCreations = 2;
  const appender = {
    append(request: AppendRequest): Promise<AppendResult> {
      if (request.expectedSeq === 0 && failCreations > 0) {
        failCreations--;
        return Promise.reject(new StorageUnavailable("storage is away"));
      }
      return storage.append(request);
    },
  };
  const engine = testEngine(storage, {}, { appender });
  await engine.start();
  try {
    const wf = await store(storage, waiting(3));
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => engine.submit(wf, { input: { customer: "acme", i } })),
    );
    const created = results.flatMap((r) =>
      r.status === "fulfilled" && r.value.ok ? [r.value.value.executionId] : []
    );
    assertEquals(created.length, 28, "two creations failed");
    await waitUntil(
      "the failed creations' slots passed on",
      async () => (await admittedRunning(engine, created)).length === 3,
    );
    assertEquals(engine.activeExecutions, 28);
  } finally {
    await engine.stop();
  }
});

Deno.test("engine: a key that does not evaluate is refused before anything is stored", async () => {
  const storage = new MemoryStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    const wf = await store(storage, waiting(1));
    const r = await engine.submit(wf, { input: { other: 1 } });
    assert(!r.ok);
    assertEquals(r.error.code, "concurrency_key_invalid");
    assertEquals(engine.activeExecutions, 0);
  } finally {
    await engine.stop();
  }
});

/** A keyed workflow whose runs wait `ms`, then collect their input. */
const delayed = (limit: number, ms: number): WorkflowDefinition => ({
  id: "keyed-delay",
  name: "keyed-delay",
  nodes: [
    { id: "wait", type: "control", nodeType: "delay", config: { durationMs: ms } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "wait", target: "out" }],
  concurrency: { key: "input.customer", limit },
});

Deno.test("engine: a run whose ending append is acknowledged to nobody still frees its slot", async () => {
  const storage = new MemoryStorage();
  let lost = 0;
  const appender = {
    async append(request: AppendRequest): Promise<AppendResult> {
      const r = await storage.append(request);
      if (request.summary.status === "completed" && lost === 0) {
        lost++;
        throw new StorageUnavailable("acknowledgement lost");
      }
      return r;
    },
  };
  const engine = testEngine(storage, {}, { appender });
  await engine.start();
  try {
    const wf = await store(storage, delayed(1, 20));
    const a = await engine.submit(wf, { input: { customer: "acme", i: 1 } });
    const b = await engine.submit(wf, { input: { customer: "acme", i: 2 } });
    assert(a.ok && b.ok);
    assertEquals((await engine.view(b.value.executionId))?.queued, true);
    // a's end commits but nobody hears of it: its reload finds it ended, and its slot goes to b.
    assertEquals((await engine.wait(b.value.executionId, 5_000))?.status, "completed");
    assertEquals(lost, 1);
    assertEquals((await engine.view(a.value.executionId))?.status, "completed");
  } finally {
    await engine.stop();
  }
});

/** Memory storage whose next read of `hold.id`'s index row waits for `hold.release`. */
class HeldReads extends MemoryStorage {
  hold: { id: string; release: Promise<void> } | undefined;
  override async getExecution(id: string) {
    const hold = this.hold;
    if (hold?.id === id) {
      this.hold = undefined;
      await hold.release;
    }
    return super.getExecution(id);
  }
}

Deno.test("engine: an idempotent resubmission of a keyed run being reloaded frees no one's slot", async () => {
  const storage = new HeldReads();
  let conflict: string | undefined;
  const appender = {
    append(request: AppendRequest): Promise<AppendResult> {
      if (request.executionId !== conflict) return storage.append(request);
      conflict = undefined;
      return Promise.resolve({
        ok: false,
        error: { code: "sequence_conflict", message: "changed meanwhile", lastSeq: request.expectedSeq + 1 },
      });
    },
  };
  const engine = testEngine(storage, {}, { appender });
  await engine.start();
  try {
    const wf = await store(storage, waiting(1));
    const a = await engine.submit(wf, { input: { customer: "acme" }, idempotencyKey: "k-a" });
    const b = await engine.submit(wf, { input: { customer: "acme", i: 2 } });
    assert(a.ok && b.ok);
    const [ida, idb] = [a.value.executionId, b.value.executionId];
    assertEquals(await admittedRunning(engine, [ida, idb]), [ida]);
    // a's next append is refused (a sequence conflict): its actor goes and its reload waits on storage.
    let release!: () => void;
    storage.hold = { id: ida, release: new Promise<void>((r) => release = r) };
    conflict = ida;
    const refused = await engine.signal(ida, "go", null);
    assert(!refused.ok && refused.error.code === "conflict", JSON.stringify(refused));
    // Meanwhile a client retries a's submission with its key: a duplicate, which must free nothing.
    const again = await engine.submit(wf, { input: { customer: "acme" }, idempotencyKey: "k-a" });
    assert(again.ok, JSON.stringify(again));
    assertEquals([again.value.executionId, again.value.created], [ida, false]);
    release();
    await waitUntil("a reloaded", async () => (await engine.view(ida))?.status === "running");
    await sleep(50);
    assertEquals(await admittedRunning(engine, [ida, idb]), [ida], "b still waits: a holds the only slot");
    assert((await engine.signal(ida, "go", null)).ok);
    await waitUntil("b admitted", async () => (await admittedRunning(engine, [idb])).length === 1);
  } finally {
    await engine.stop();
  }
});

Deno.test("engine: a queued run whose cancel is acknowledged to nobody leaves the queue when its turn comes", async () => {
  const storage = new MemoryStorage();
  let lose: string | undefined;
  const appender = {
    async append(request: AppendRequest): Promise<AppendResult> {
      const r = await storage.append(request);
      if (request.executionId === lose && request.summary.status === "cancelled") {
        lose = undefined;
        throw new StorageUnavailable("acknowledgement lost");
      }
      return r;
    },
  };
  const engine = testEngine(storage, {}, { appender });
  await engine.start();
  try {
    const wf = await store(storage, waiting(1));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await engine.submit(wf, { input: { customer: "acme", i } });
      assert(r.ok);
      ids.push(r.value.executionId);
    }
    const [a, b, c] = ids;
    lose = b;
    const cancelled = await engine.cancel(b, "not needed").catch((err) => err);
    assert(cancelled instanceof StorageUnavailable, String(cancelled));
    assertEquals((await storage.getExecution(b))?.status, "cancelled", "the cancel committed");
    assert((await engine.signal(a, "go", null)).ok);
    // b's turn: its Admit finds it ended (a reload), and the slot goes on to c.
    await waitUntil("c admitted", async () => (await admittedRunning(engine, [c])).length === 1);
    assertEquals((await engine.view(b))?.status, "cancelled");
  } finally {
    await engine.stop();
  }
});
