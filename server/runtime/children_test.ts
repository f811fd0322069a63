import { assert, assertEquals } from "../../testing/assert.ts";
import { childExecutionId } from "../../core/ids.ts";
import { compilePlan } from "../../core/plan.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { type AppendRequest, StorageUnavailable, type StoredWorkflow } from "../../storage/storage.ts";
import { testEngine } from "../../testing/engine.ts";
import { sleep } from "../../testing/wait.ts";
import { NodeError } from "../executors/executor.ts";
import { executorFor } from "../executors/registry.ts";
import { realServices } from "../executors/services.ts";
import { gatherOutput, runInline } from "./children_inline.ts";
import type { Clock } from "./clock.ts";
import type { Engine } from "./engine.ts";
import { runLocalPlan } from "./local_plan.ts";
import { referenceProblems } from "./workflow_refs.ts";
import { checkWorkflow } from "./workflows.ts";

type Node = WorkflowDefinition["nodes"][number];

function chain(id: string, ...nodes: Node[]): WorkflowDefinition {
  return {
    id,
    name: id,
    nodes,
    edges: nodes.slice(1).map((n, i) => ({ source: nodes[i].id, target: n.id })),
  };
}
const one: Node = { id: "one", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 1 } };
const map = (expression: string): Node => ({
  id: "calc",
  type: "transform",
  nodeType: "map",
  config: { expression },
});
const collect: Node = { id: "out", type: "sink", nodeType: "memory.collect", config: {} };
const delay = (durationMs: number): Node => ({
  id: "pause",
  type: "control",
  nodeType: "delay",
  config: { durationMs },
});

/** `data` → foreach `workflow` → collected. */
function parent(id: string, data: unknown[], config: Record<string, unknown>): WorkflowDefinition {
  return chain(
    id,
    { id: "src", type: "source", nodeType: "memory.collection", config: { data } },
    { id: "each", type: "control", nodeType: "foreach", config },
    collect,
  );
}

async function store(storage: MemoryStorage, def: WorkflowDefinition): Promise<StoredWorkflow> {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

const limits = { maxRecords: 1000, maxBytes: 1 << 20 };

/** The plan of a definition, normalised as validation does (defaults filled). */
function planOf(def: WorkflowDefinition) {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return compilePlan(checked.value.definition, 1);
}

// ---- the local plan runner and the inline path

Deno.test("local plan: a retried node runs again at once on the virtual clock, and the run completes", async () => {
  let calls = 0;
  const flaky = (type: string, nodeType: string) =>
    nodeType === "map"
      ? () => {
        if (++calls < 3) return Promise.reject(new NodeError("flaky", "not yet", true));
        return Promise.resolve({ records: ["done"] });
      }
      : executorFor(type, nodeType);
  const plan = planOf(chain("w", one, map("$input"), collect));
  const services = realServices();
  try {
    const run = await runLocalPlan(plan, null, {
      runId: "r",
      now: 1000,
      signal: new AbortController().signal,
    }, {
      executorFor: flaky,
      services,
      limits,
    });
    assertEquals([run.status, run.output, calls], ["completed", ["done"], 3]);
    calls = -10; // fails every attempt: the policy's 3 attempts, then the run fails
    const failed = await runLocalPlan(plan, null, {
      runId: "r",
      now: 0,
      signal: new AbortController().signal,
    }, {
      executorFor: flaky,
      services,
      limits,
    });
    assertEquals([failed.status, failed.error?.code, failed.output], ["failed", "flaky", []]);
  } finally {
    await services.close();
  }
});

Deno.test("inline: items run in order across many event-loop turns, each exactly once", async () => {
  // A clock that moves 4 ms per reading: the runner yields every few items.
  let t = 0;
  const clock: Clock = {
    now: () => (t += 4),
    setTimer: (_ms, fn) => setTimeout(fn, 0),
    clearTimer: (h) => clearTimeout(h as number),
  };
  const child = planOf(chain("c", one, map("$input + 1"), collect));
  const node = planOf(parent("p", [], { workflow: "c", maxConcurrency: 7 })).byId.get("each")!;
  const items = Array.from({ length: 500 }, (_, i) => i);
  const services = realServices();
  try {
    const out = await runInline({
      runId: "e/each@1",
      plan: child,
      node,
      items,
      clock,
      local: { executorFor, services, limits },
      limits,
      waits: () => true,
    });
    assert(out?.ok);
    assertEquals(out.records, items.map((i) => i + 1));
    let asked = 0;
    const gone = await runInline({
      runId: "e/each@1",
      plan: child,
      node,
      items,
      clock,
      local: { executorFor, services, limits },
      limits,
      waits: () => ++asked < 50,
    });
    assertEquals(gone, undefined, "a node that stopped waiting gets nothing");
  } finally {
    await services.close();
  }
});

Deno.test("gatherOutput: completed children in order; over the bounds fails, never truncates", () => {
  const results = [
    { status: "completed", records: [1, 2] },
    { status: "cancelled", records: [] },
    { status: "completed", records: ["x"] },
  ];
  const ok = gatherOutput({ id: "each" }, results, limits);
  assert(ok.ok);
  assertEquals(ok.records, [1, 2, "x"]);
  assertEquals(ok.bytes, JSON.stringify([1, 2, "x"]).length);
  const many = gatherOutput({ id: "each" }, results, { maxRecords: 2, maxBytes: 100 });
  assert(!many.ok && many.error.code === "output_too_large" && !many.error.retryable);
  const big = gatherOutput({ id: "each" }, results, { maxRecords: 10, maxBytes: 5 });
  assert(!big.ok && big.error.code === "output_too_large");
});

// ---- references

Deno.test("references: unknown, pinned, cycles through latest and pinned versions, bounded", async () => {
  const runs = (id: string, workflow: string, version?: number): WorkflowDefinition => ({
    id,
    name: id,
    edges: [],
    nodes: [{ id: "run", type: "control", nodeType: "workflow.run", config: { workflow, version } }],
  });
  const stored = new Map<string, WorkflowDefinition>([
    ["b@latest", runs("b", "c")],
    ["c@latest", runs("c", "a", 1)], // c pins a's version 1, which runs nothing
    ["a@1", { id: "a", name: "a", edges: [], nodes: [one] }],
    ["a@latest", { id: "a", name: "a", edges: [], nodes: [one] }],
    ["d@latest", runs("d", "a")],
  ]);
  let reads = 0;
  const read = (id: string, version?: number) => {
    reads++;
    const d = stored.get(`${id}@${version ?? "latest"}`);
    return Promise.resolve(d && { definition: d });
  };
  assertEquals(await referenceProblems(runs("a", "b"), read), [], "a → b → c → a@1: no cycle");
  const cycle = await referenceProblems(runs("a", "d"), read);
  assertEquals(cycle.map((p) => [p.path, p.code, p.message]), [
    ["$.nodes[0].config.workflow", "workflow_cycle", "a cycle of sub-workflows: a → d → a"],
  ]);
  const unknown = await referenceProblems(runs("x", "nope"), read);
  assertEquals(unknown.map((p) => p.code), ["workflow_unknown"]);
  const version = await referenceProblems(runs("x", "b", 4), read);
  assertEquals(version.map((p) => [p.path, p.code]), [["$.nodes[0].config.version", "version_unknown"]]);
  // A long chain is followed only so deep, and each version read once.
  const long = new Map<string, WorkflowDefinition>();
  for (let i = 0; i < 50; i++) long.set(`l${i}@latest`, runs(`l${i}`, `l${i + 1}`));
  long.set("l50@latest", runs("l50", "top"));
  reads = 0;
  const readLong = (id: string) => {
    reads++;
    const d = long.get(`${id}@latest`);
    return Promise.resolve(d && { definition: d });
  };
  assertEquals(await referenceProblems(runs("top", "l0"), readLong), []);
  assert(reads <= 10, `${reads} reads`);
});

// ---- crash and recovery

/** Memory storage that refuses (throws) the appends `refuse` picks, and loses the acknowledgement of `lose`'s. */
class PickyStorage extends MemoryStorage {
  refuse: (request: AppendRequest) => boolean = () => false;
  lose: (request: AppendRequest) => boolean = () => false;
  override async appendMany(requests: AppendRequest[]) {
    if (requests.some((r) => this.refuse(r))) throw new StorageUnavailable("refused");
    const results = await super.appendMany(requests);
    if (requests.some((r) => this.lose(r))) throw new StorageUnavailable("acknowledgement lost");
    return results;
  }
  override append(request: AppendRequest) {
    return this.appendMany([request]).then((r) => r[0]);
  }
}

async function until(what: string, fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every child execution of a parent, from its `ChildStarted` events. */
async function childrenOf(engine: Engine, id: string): Promise<{ index: number; childId: string }[]> {
  const events = await engine.events(id);
  return events.flatMap((e) => (e.type === "ChildStarted" ? [{ index: e.index, childId: e.childId }] : []));
}

Deno.test("recovery: a restart mid-foreach starts no child twice, orphans none, and completes", async () => {
  const storage = new PickyStorage();
  const first = testEngine(storage);
  await first.start();
  const items = Array.from({ length: 20 }, (_, i) => i);
  await store(storage, chain("slow", one, delay(150), map("$input * 2"), collect));
  const wf = await store(storage, parent("p", items, { workflow: "slow", maxConcurrency: 5 }));
  // The 4th and 5th children's creation never commits on the first engine: its "crash" comes between the
  // parent's ChildStarted and their creation.
  const id = "ex-parent";
  const lost = new Set([3, 4].map((i) => childExecutionId(id, "each", 1, i)));
  storage.refuse = (r) => r.expectedSeq === 0 && lost.has(r.executionId);
  const r = await first.submit(wf, { executionId: id, input: null });
  assert(r.ok);
  await until("5 children started", async () => (await childrenOf(first, id)).length >= 5);
  await first.stop();
  for (const child of lost) assertEquals(await storage.getExecution(child), undefined, "not created");
  storage.refuse = () => false;

  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    const view = await second.wait(id, 15_000);
    assertEquals(view?.status, "completed");
    const out = await second.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, items.map((i) => i * 2));
    const started = await childrenOf(second, id);
    assertEquals(started.map((c) => c.index), items, "each item's child started once, in order");
    for (const c of started) {
      const events = await second.events(c.childId);
      assertEquals(events.filter((e) => e.type === "ExecutionStarted").length, 1);
      assertEquals((await second.view(c.childId))?.status, "completed");
    }
    assertEquals(await storage.listRunning([...Array(8).keys()]), [], "nothing left running: no orphan");
  } finally {
    await second.stop();
  }
});

Deno.test("recovery: a child whose parent ended while it was down is cancelled when it is recovered", async () => {
  const storage = new PickyStorage();
  const first = testEngine(storage);
  await first.start();
  await store(
    storage,
    chain("waits", { id: "w", type: "control", nodeType: "signal.wait", config: { name: "go" } }),
  );
  const wf = await store(storage, parent("p", [1, 2], { workflow: "waits", maxConcurrency: 2 }));
  const r = await first.submit(wf, { input: null });
  assert(r.ok);
  const id = r.value.executionId;
  await until("both children running", async () => {
    const children = await childrenOf(first, id);
    if (children.length < 2) return false;
    const views = await Promise.all(children.map((c) => first.view(c.childId)));
    return views.every((v) => v?.status === "running");
  });
  // The children's cancel never commits on the first engine.
  storage.refuse = (req) => req.executionId !== id && req.events.some((e) => e.type === "ExecutionCancelled");
  const cancelled = await first.cancel(id, "stop");
  assert(cancelled.ok);
  await first.stop();
  const children = await childrenOf(first, id);
  for (const c of children) assertEquals((await storage.getExecution(c.childId))?.status, "running");
  storage.refuse = () => false;

  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    for (const c of children) {
      await until(
        `${c.childId} cancelled`,
        async () => (await second.view(c.childId))?.status === "cancelled",
      );
    }
  } finally {
    await second.stop();
  }
});

Deno.test("a child whose ending append is acknowledged to nobody still tells its parent", async () => {
  const storage = new PickyStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    await store(storage, chain("slow", one, delay(20), map("$input * 2"), collect));
    const wf = await store(storage, parent("p", [1, 2, 3], { workflow: "slow", maxConcurrency: 3 }));
    let lost = 0;
    storage.lose = (r) =>
      r.executionId.includes("@ch-") && r.summary.status === "completed" && lost < 2 && ++lost > 0;
    const r = await engine.submit(wf, { input: null });
    assert(r.ok);
    const view = await engine.wait(r.value.executionId, 5_000);
    assertEquals(view?.status, "completed");
    assertEquals(lost, 2, "two children's end was acknowledged to nobody");
    const out = await engine.output(r.value.executionId, "out");
    assert(out.ok);
    assertEquals(out.value, [2, 4, 6]);
  } finally {
    await engine.stop();
  }
});

// ---- refusals, steering, retention, versions, pause

const input: Node = { id: "in", type: "source", nodeType: "execution.input", config: {} };
const waitGo: Node = { id: "w", type: "control", nodeType: "signal.wait", config: { name: "go" } };
/** A child: its item → waits for `go` → `expression` → collected. */
const waitsThen = (id: string, expression: string) => chain(id, input, waitGo, map(expression), collect);

/** The ids of a parent's children, by item (each started by now). */
async function childIdsOf(engine: Engine, id: string, count: number): Promise<string[]> {
  await until(`${count} children started`, async () => (await childrenOf(engine, id)).length >= count);
  const started = await childrenOf(engine, id);
  return started.sort((a, b) => a.index - b.index).map((c) => c.childId);
}

/** Whether the parent recorded the end of its child `index`. */
async function counted(engine: Engine, id: string, index: number): Promise<boolean> {
  return (await engine.events(id)).some((e) => e.type === "ChildEnded" && e.index === index);
}

/** Waits until `id` runs (created, and live or stored as running). */
function running(engine: Engine, id: string): Promise<void> {
  return until(`${id} running`, async () => (await engine.view(id))?.status === "running");
}

Deno.test("a child whose creation is refused for good (its key does not evaluate) fails its node", async () => {
  const storage = new MemoryStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    await store(storage, {
      ...waitsThen("keyed-child", "$input"),
      concurrency: { key: "input.customer", limit: 1 },
    });
    const wf = await store(
      storage,
      parent("p-refused", [1, 2], { workflow: "keyed-child", maxConcurrency: 2 }),
    );
    const r = await engine.submit(wf, { input: null });
    assert(r.ok);
    const view = await engine.wait(r.value.executionId, 5_000);
    assertEquals(view?.status, "failed");
    const ended = (await engine.events(r.value.executionId)).find((e) => e.type === "ChildEnded");
    assert(ended?.type === "ChildEnded");
    assertEquals([ended.status, ended.error?.code], ["failed", "concurrency_key_invalid"]);
  } finally {
    await engine.stop();
  }
});

Deno.test("submit: a fixed id without an idempotency key that is live already is a conflict; the run stays", async () => {
  const storage = new MemoryStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    const wf = await store(storage, waitsThen("fixed", "$input"));
    assert((await engine.submit(wf, { executionId: "ex-fixed", input: 1 })).ok);
    const again = await engine.submit(wf, { executionId: "ex-fixed", input: 2 });
    assert(!again.ok && again.error.code === "conflict", JSON.stringify(again));
    assert((await engine.signal("ex-fixed", "go", null)).ok, "the first run is still live here");
    assertEquals((await engine.wait("ex-fixed", 5_000))?.status, "completed");
    const out = await engine.output("ex-fixed", "out");
    assert(out.ok);
    assertEquals(out.value, [1]);
  } finally {
    await engine.stop();
  }
});

Deno.test("steering a child: refused while its parent waits for it; a rerun after changes nothing for the parent", async () => {
  const storage = new PickyStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    await store(storage, waitsThen("dbl", "$input * 2"));
    const wf = await store(storage, parent("p-steer", [1, 2], { workflow: "dbl", maxConcurrency: 2 }));
    const r = await engine.submit(wf, { input: null });
    assert(r.ok);
    const id = r.value.executionId;
    const [c0, c1] = await childIdsOf(engine, id, 2);
    await running(engine, c0);
    // c0 ends, but its parent cannot record it yet: the parent still waits for c0.
    storage.refuse = (req) => req.executionId === id && req.events.some((e) => e.type === "ChildEnded");
    assert((await engine.signal(c0, "go", null)).ok);
    assertEquals((await engine.wait(c0, 5_000))?.status, "completed");
    const refused = await engine.rerun(c0, "in", 10);
    assert(!refused.ok && refused.error.code === "parent_waiting", JSON.stringify(refused));
    storage.refuse = () => false;
    await until("c0 counted", () => counted(engine, id, 0));
    // Counted: c0 may run again, on its own; its new output is not its parent's.
    assert((await engine.rerun(c0, "in", 10)).ok);
    await running(engine, c0);
    assert((await engine.signal(c0, "go", null)).ok);
    assertEquals((await engine.wait(c0, 5_000))?.status, "completed");
    const rerun = await engine.output(c0, "out");
    assert(rerun.ok);
    assertEquals(rerun.value, [20]);
    await running(engine, c1);
    assert((await engine.signal(c1, "go", null)).ok);
    assertEquals((await engine.wait(id, 5_000))?.status, "completed");
    const out = await engine.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, [2, 4], "c0's first end, which its parent counted");
  } finally {
    await engine.stop();
  }
});

Deno.test("a child rerun after its parent counted it is read back at its first end after a restart", async () => {
  const storage = new MemoryStorage();
  const first = testEngine(storage);
  await first.start();
  const wf = await store(storage, parent("p-first-end", [1, 2], { workflow: "dbl", maxConcurrency: 2 }));
  await store(storage, waitsThen("dbl", "$input * 2"));
  const r = await first.submit(wf, { input: null });
  assert(r.ok);
  const id = r.value.executionId;
  const [c0, c1] = await childIdsOf(first, id, 2);
  await running(first, c0);
  assert((await first.signal(c0, "go", null)).ok);
  await until("c0 counted", () => counted(first, id, 0));
  assert((await first.rerun(c0, "in", 10)).ok);
  await running(first, c0);
  assert((await first.signal(c0, "go", null)).ok);
  assertEquals((await first.wait(c0, 5_000))?.status, "completed");
  await first.stop();

  // A new engine: the parent's hand-overs are gone; it reads c0 back from storage.
  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    await running(second, c1);
    assert((await second.signal(c1, "go", null)).ok);
    assertEquals((await second.wait(id, 5_000))?.status, "completed");
    const out = await second.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, [2, 4]);
  } finally {
    await second.stop();
  }
});

Deno.test("retention: a completed child deleted before its parent collects fails the node, not silently", async () => {
  const storage = new MemoryStorage();
  const first = testEngine(storage);
  await first.start();
  await store(storage, waitsThen("dbl", "$input * 2"));
  const wf = await store(storage, parent("p-gone", [1, 2], { workflow: "dbl", maxConcurrency: 2 }));
  const r = await first.submit(wf, { input: null });
  assert(r.ok);
  const id = r.value.executionId;
  const [c0, c1] = await childIdsOf(first, id, 2);
  await running(first, c0);
  assert((await first.signal(c0, "go", null)).ok);
  await until("c0 counted", () => counted(first, id, 0));
  await first.stop();
  assertEquals(await storage.deleteFinishedBefore(Date.now() + 1, 100), 1, "c0 deleted");

  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    await running(second, c1);
    assert((await second.signal(c1, "go", null)).ok);
    const view = await second.wait(id, 5_000);
    assertEquals(view?.status, "failed");
    assertEquals(view?.nodes.find((n) => n.nodeId === "each")?.error?.code, "child_output_missing");
  } finally {
    await second.stop();
  }
});

Deno.test("retention: a child that ended unheard of and was deleted counts as failed at the sweep", async () => {
  const storage = new PickyStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    await store(storage, chain("slow", one, delay(20), map("$input * 2"), collect));
    const wf = await store(storage, parent("p-missing", [1], { workflow: "slow", maxConcurrency: 1 }));
    // The child's end commits, its acknowledgement is lost, and it is deleted before its reload reads it.
    let deleted = 0;
    storage.lose = (req) => {
      if (!req.executionId.includes("@ch-") || req.summary.status !== "completed" || deleted > 0) {
        return false;
      }
      queueMicrotask(() => void storage.deleteFinishedBefore(Date.now() + 1, 10).then((n) => deleted += n));
      return true;
    };
    const r = await engine.submit(wf, { input: null });
    assert(r.ok);
    const id = r.value.executionId;
    await until("the child deleted", () => Promise.resolve(deleted === 1));
    await until("the child reloaded: gone", () => Promise.resolve(engine.activeExecutions === 1));
    await engine.sweep();
    const view = await engine.wait(id, 5_000);
    assertEquals(view?.status, "failed");
    const ended = (await engine.events(id)).find((e) => e.type === "ChildEnded");
    assert(ended?.type === "ChildEnded");
    assertEquals([ended.status, ended.error?.code], ["failed", "child_missing"]);
  } finally {
    await engine.stop();
  }
});

/** Storage whose reads can be held: `heldWorkflow` (by id), and the next read of `heldExecution`, taken at once. */
class HeldReads extends PickyStorage {
  heldWorkflow: { id: string; hit: () => void; release: Promise<void> } | undefined;
  heldExecution: { id: string; taken: () => void; release: Promise<void> } | undefined;
  override async getWorkflow(id: string, version?: number) {
    const held = this.heldWorkflow;
    if (held?.id === id) {
      held.hit();
      await held.release;
    }
    return super.getWorkflow(id, version);
  }
  override async getExecution(executionId: string) {
    const held = this.heldExecution;
    const found = await super.getExecution(executionId);
    if (held?.id !== executionId) return found;
    this.heldExecution = undefined;
    held.taken();
    await held.release;
    return found;
  }
}

Deno.test("the sweep does not count as missing a child created while its read of it was in flight", async () => {
  const storage = new HeldReads();
  const first = testEngine(storage);
  await first.start();
  await store(storage, waitsThen("held-child", "$input"));
  const wf = await store(storage, parent("p-race", [7], { workflow: "held-child", maxConcurrency: 1 }));
  const id = "ex-race";
  const childId = childExecutionId(id, "each", 1, 0);
  // The first engine starts the child but never creates it: the second one recovers the parent and does.
  storage.refuse = (r) => r.expectedSeq === 0 && r.executionId === childId;
  assert((await first.submit(wf, { executionId: id, input: null })).ok);
  await until("the child started", async () => (await childrenOf(first, id)).length === 1);
  await first.stop();
  storage.refuse = () => false;

  // The recovered parent's launch of the child waits (on reading the child's workflow) ...
  const launch = Promise.withResolvers<void>(), read = Promise.withResolvers<void>();
  const launching = Promise.withResolvers<void>(), reading = Promise.withResolvers<void>();
  storage.heldWorkflow = { id: "held-child", hit: launching.resolve, release: launch.promise };
  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    await launching.promise;
    // ... while the sweep reads the child (not there yet) and its answer is slow to come back ...
    storage.heldExecution = { id: childId, taken: reading.resolve, release: read.promise };
    const sweeping = second.sweep();
    await reading.promise;
    // ... so the child is created, by the launch, before the sweep hears that it was not there.
    storage.heldWorkflow = undefined;
    launch.resolve();
    await until("the child created", async () => (await storage.getExecution(childId)) !== undefined);
    await running(second, childId);
    await sleep(20);
    read.resolve();
    await sweeping;
    assertEquals((await second.view(id))?.status, "running", "the parent still waits for its child");
    assertEquals(await counted(second, id, 0), false, "the child did not end");
    assert((await second.signal(childId, "go", null)).ok);
    assertEquals((await second.wait(id, 5_000))?.status, "completed");
    const out = await second.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, [7]);
  } finally {
    launch.resolve();
    read.resolve();
    await second.stop();
  }
});

Deno.test("versions: children launched after a restart run the version their planning recorded", async () => {
  const storage = new MemoryStorage();
  const first = testEngine(storage);
  await first.start();
  const v1 = await store(storage, waitsThen("ver", "$input * 2"));
  const wf = await store(storage, parent("p-ver", [1, 2], { workflow: "ver", maxConcurrency: 1 }));
  const r = await first.submit(wf, { input: null });
  assert(r.ok);
  const id = r.value.executionId;
  const [c0] = await childIdsOf(first, id, 1);
  await running(first, c0);
  const planned = (await first.events(id)).find((e) => e.type === "ChildrenPlanned");
  assertEquals(planned?.type === "ChildrenPlanned" && planned.version, v1.version);
  await first.stop();
  const checked = checkWorkflow(waitsThen("ver", "$input * 100"));
  assert(checked.ok);
  assert((await storage.putWorkflow(checked.value.definition, checked.value.hash, 1, Date.now())).ok);

  const second = testEngine(storage, {}, { nodeName: "node-b" });
  await second.start();
  try {
    await running(second, c0);
    assert((await second.signal(c0, "go", null)).ok);
    const [, c1] = await childIdsOf(second, id, 2);
    await running(second, c1);
    assertEquals((await second.view(c1))?.version, 1, "the version planned, not the latest");
    assert((await second.signal(c1, "go", null)).ok);
    assertEquals((await second.wait(id, 5_000))?.status, "completed");
    const out = await second.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, [2, 4]);
  } finally {
    await second.stop();
  }
});

Deno.test("pause: an inline foreach started just before a pause does not complete until the resume", async () => {
  const storage = new MemoryStorage();
  const engine = testEngine(storage);
  await engine.start();
  try {
    await store(storage, chain("twice", input, map("$input * 2"), collect));
    const wf = await store(
      storage,
      chain(
        "p-pause-inline",
        { id: "src", type: "source", nodeType: "memory.collection", config: { data: [1, 2, 3] } },
        waitGo,
        {
          id: "each",
          type: "control",
          nodeType: "foreach",
          config: { workflow: "twice", maxConcurrency: 2 },
        },
        collect,
      ),
    );
    const r = await engine.submit(wf, { input: null });
    assert(r.ok);
    const id = r.value.executionId;
    await until(
      "w waits",
      async () => (await engine.view(id))?.nodes.find((n) => n.nodeId === "w")?.status === "running",
    );
    // One batch starts the foreach (the signal) and pauses the run: [Resume, Signal, Pause] queue behind a Pause.
    const outcomes = await Promise.all([
      engine.pause(id, "first"),
      engine.resume(id),
      engine.signal(id, "go", null),
      engine.pause(id, "then"),
    ]);
    assert(outcomes.every((o) => o.ok), JSON.stringify(outcomes.map((o) => !o.ok && o.error)));
    await sleep(100);
    const paused = await engine.view(id);
    assertEquals(paused?.status, "paused");
    assertEquals(
      paused?.nodes.find((n) => n.nodeId === "each")?.status,
      "running",
      "nothing ends while paused",
    );
    assert((await engine.resume(id)).ok);
    assertEquals((await engine.wait(id, 5_000))?.status, "completed");
    const out = await engine.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, [2, 4, 6]);
  } finally {
    await engine.stop();
  }
});
