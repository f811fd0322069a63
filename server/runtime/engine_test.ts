import type { ExecutionEvent } from "../../core/events.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { checkWorkflow } from "./workflows.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import {
  type AppendRequest,
  type Storage,
  StorageUnavailable,
  type StoredWorkflow,
} from "../../storage/storage.ts";
import type { Engine, EngineLimits } from "./engine.ts";
import { testEngine } from "../../testing/engine.ts";
import { realServices } from "../executors/services.ts";

function engine(storage: Storage, limits: Partial<EngineLimits> = {}, name = "node-a"): Engine {
  return testEngine(storage, limits, { nodeName: name });
}

async function store(storage: Storage, def: unknown): Promise<StoredWorkflow> {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

function chain(id: string, middle: WorkflowDefinition["nodes"]): WorkflowDefinition {
  const nodes: WorkflowDefinition["nodes"] = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    ...middle,
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ];
  return {
    id,
    name: id,
    nodes,
    edges: nodes.slice(1).map((n, i) => ({ source: nodes[i].id, target: n.id })),
  };
}

const succeededPerNode = (events: ExecutionEvent[]) => {
  const counts: Record<string, number> = {};
  for (const e of events) if (e.type === "NodeSucceeded") counts[e.nodeId] = (counts[e.nodeId] ?? 0) + 1;
  return counts;
};

Deno.test("engine: output over the bound fails the node at once, never truncates", async () => {
  const storage = new MemoryStorage();
  const e = engine(storage, { maxRecords: 2 });
  await e.start();
  try {
    const wf = await store(storage, chain("big", []));
    const r = await e.submit(wf, { input: null });
    assert(r.ok);
    const view = await e.wait(r.value.executionId, 5000);
    assertStrictEquals(view?.status, "failed");
    const src = view!.nodes.find((n) => n.nodeId === "src")!;
    assertStrictEquals(src.error?.code, "output_too_large");
    assertStrictEquals(src.attempts, 1);
  } finally {
    await e.stop();
  }
});

Deno.test("engine: a restarted engine recovers a running execution; the old one is fenced off", async () => {
  const storage = new MemoryStorage();
  const first = engine(storage);
  await first.start();
  const wf = await store(
    storage,
    chain("slow", [{ id: "wait", type: "control", nodeType: "delay", config: { durationMs: 150 } }]),
  );
  const r = await first.submit(wf, { input: null });
  assert(r.ok);
  const id = r.value.executionId;
  const epochsBefore = (await storage.getShards()).map((s) => s.epoch);
  await first.stop(); // the process "dies" while the delay is pending

  const second = engine(storage, {}, "node-b");
  await second.start();
  try {
    const epochsAfter = (await storage.getShards()).map((s) => s.epoch);
    assertEquals(epochsAfter, epochsBefore.map((e) => e + 1));
    const view = await second.wait(id, 5000);
    assertStrictEquals(view?.status, "completed");
    const events = await second.events(id);
    assertEquals(succeededPerNode(events), { src: 1, wait: 1, out: 1 });
    const out = await second.output(id, "out");
    assert(out.ok);
    assertEquals(out.value, [1, 2, 3]);
    // A late write of the first owner carries the old epoch and is refused.
    const stored = (await storage.getExecution(id))!;
    const stale: AppendRequest = {
      executionId: id,
      expectedSeq: stored.lastSeq,
      fence: { shard: stored.shard, epoch: epochsBefore[stored.shard] },
      events: [],
      summary: { ...stored },
    };
    const refused = await storage.append(stale);
    assert(!refused.ok && refused.error.code === "stale_epoch");
  } finally {
    await second.stop();
  }
});

Deno.test({
  name: "engine: a node started but not recorded is re-run on recovery with the same idempotency key",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const keys: string[] = [];
    let release: () => void = () => {};
    const hung = new Promise<void>((r) => release = r);
    const target = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
      keys.push(req.headers.get("idempotency-key") ?? "");
      if (keys.length === 1) await hung; // the first attempt never answers before the "crash"
      return Response.json({ ok: true });
    });
    const storage = new MemoryStorage();
    // The target listens on 127.0.0.1: the engines' services grant it (egress refuses loopback by default).
    const services = realServices({ httpAllow: ["127.0.0.1"] });
    const first = testEngine(storage, {}, { services });
    await first.start();
    try {
      const wf = await store(storage, {
        id: "call",
        name: "call",
        nodes: [{
          id: "call",
          type: "control",
          nodeType: "http",
          config: { url: `http://127.0.0.1:${target.addr.port}/` },
        }],
        edges: [],
      });
      const r = await first.submit(wf, { input: null });
      assert(r.ok);
      for (let i = 0; i < 100 && keys.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await first.stop();
      const second = testEngine(storage, {}, { nodeName: "node-b", services });
      await second.start();
      const view = await second.wait(r.value.executionId, 5000);
      await second.stop();
      assertStrictEquals(view?.status, "completed");
      assertStrictEquals(keys.length, 2);
      assertStrictEquals(keys[0], `${r.value.executionId}:call`);
      assertStrictEquals(keys[1], keys[0]);
      const call = view!.nodes[0];
      assertStrictEquals(call.attempts, 1); // the same attempt, re-run
    } finally {
      release();
      await target.shutdown();
    }
  },
});

/** Memory storage whose appends fail while `down` is set. */
class FlakyStorage extends MemoryStorage {
  down = false;
  failures = 0;
  override appendMany(requests: AppendRequest[]) {
    if (this.down) {
      this.failures++;
      return Promise.reject(new StorageUnavailable("down"));
    }
    return super.appendMany(requests);
  }
  override append(request: AppendRequest) {
    return this.appendMany([request]).then((r) => r[0]);
  }
}

Deno.test("engine: node results survive a storage outage and land once it returns", async () => {
  const storage = new FlakyStorage();
  const e = engine(storage);
  await e.start();
  try {
    const wf = await store(
      storage,
      chain("outage", [{ id: "wait", type: "control", nodeType: "delay", config: { durationMs: 50 } }]),
    );
    const r = await e.submit(wf, { input: null });
    assert(r.ok);
    storage.down = true; // the delay fires during the outage
    await new Promise((r) => setTimeout(r, 300));
    assert(storage.failures > 0, "appends were attempted during the outage");
    const during = await e.view(r.value.executionId);
    assertStrictEquals(during?.status, "running");
    // A submission during the outage is not acknowledged.
    let refused = false;
    await e.submit(wf, { input: null }).catch((err) => refused = err instanceof StorageUnavailable);
    assert(refused);
    storage.down = false;
    const view = await e.wait(r.value.executionId, 5000);
    assertStrictEquals(view?.status, "completed");
    assertEquals(succeededPerNode(await e.events(r.value.executionId)), { src: 1, wait: 1, out: 1 });
  } finally {
    await e.stop();
  }
});

Deno.test("engine: the sweep deletes executions past retention and keeps running ones", async () => {
  const storage = new MemoryStorage();
  const e = engine(storage, { retentionMs: 1 });
  await e.start();
  try {
    const quick = await store(storage, chain("quick", []));
    const waiting = await store(storage, {
      id: "waiting",
      name: "waiting",
      nodes: [{ id: "w", type: "control", nodeType: "signal.wait", config: { name: "go" } }],
      edges: [],
    });
    const done = await e.submit(quick, { input: null });
    const open = await e.submit(waiting, { input: null });
    assert(done.ok && open.ok);
    assertStrictEquals((await e.wait(done.value.executionId, 5000))?.status, "completed");
    await new Promise((r) => setTimeout(r, 5));
    const swept = await e.sweep();
    assertStrictEquals(swept.deleted, 1);
    assertStrictEquals(await storage.getExecution(done.value.executionId), undefined);
    assertStrictEquals((await storage.getExecution(open.value.executionId))?.status, "running");
    assert(await storage.getWorkflow("quick"), "definitions are never deleted by retention");
  } finally {
    await e.stop();
  }
});

Deno.test("engine: a duplicate submission waits for the first one's creating append, and shares its refusal", async () => {
  // Holds every append until released; the first is then refused as another node took the shard.
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  class Gated extends MemoryStorage {
    override async appendMany(requests: AppendRequest[]) {
      await held;
      return super.appendMany(requests);
    }
    override async append(request: AppendRequest) {
      await held;
      return super.append(request);
    }
  }
  const storage = new Gated();
  const gated = storage;
  const e = engine(gated);
  await e.start();
  try {
    const wf = await store(storage, chain("dup", []));
    const first = e.submit(wf, { input: null, idempotencyKey: "k" });
    let secondDone = false;
    const second = e.submit(wf, { input: null, idempotencyKey: "k" }).finally(() => secondDone = true);
    await new Promise((r) => setTimeout(r, 50));
    assert(!secondDone, "the duplicate was answered before the first submission's append committed");
    // Another node claims every shard meanwhile: the held append carries a stale epoch.
    for (const s of await storage.getShards()) await storage.claimShard(s.shard, "node-b", s.epoch);
    release();
    const [a, b] = await Promise.all([first, second]);
    assert(!a.ok && a.error.code === "not_owner", JSON.stringify(a));
    assert(!b.ok && b.error.code === "not_owner", `the duplicate was acknowledged: ${JSON.stringify(b)}`);
    assertStrictEquals((await storage.listExecutions({ limit: 10 })).items.length, 0);
  } finally {
    await e.stop();
  }
});

Deno.test("engine: concurrent retries of a stored, retired execution are both answered as duplicates", async () => {
  const storage = new MemoryStorage();
  const e = engine(storage);
  await e.start();
  try {
    const wf = await store(storage, chain("retry", []));
    const first = await e.submit(wf, { input: null, idempotencyKey: "k" });
    assert(first.ok && first.value.created);
    assertStrictEquals((await e.wait(first.value.executionId, 5000))?.status, "completed");
    assertStrictEquals(e.activeExecutions, 0); // retired: the retries meet no live actor
    const [a, b] = await Promise.all([
      e.submit(wf, { input: null, idempotencyKey: "k" }),
      e.submit(wf, { input: null, idempotencyKey: "k" }),
    ]);
    for (const r of [a, b]) {
      assert(r.ok, JSON.stringify(r));
      assertEquals(r.value, { executionId: first.value.executionId, created: false });
    }
  } finally {
    await e.stop();
  }
});

Deno.test("engine: local nodes yield to the commit when their work runs long; a cancel then stops the chain", async () => {
  const storage = new MemoryStorage();
  const e = engine(storage);
  await e.start();
  try {
    // Each map takes JSONata's slow path over 100,000 records: far over the 50 ms a pump may spend on them.
    const slow = (id: string) => ({
      id,
      type: "transform" as const,
      nodeType: "map",
      config: { expression: "$string(value)" },
    });
    const def = chain("long", [slow("m1"), slow("m2"), slow("m3"), slow("m4")]);
    def.nodes[0].config = { start: 1, end: 100_000 };
    const wf = await store(storage, def);
    const r = await e.submit(wf, { input: null });
    assert(r.ok);
    // Acknowledged before the chain ended: the rest runs after the first commit, so a cancel can land.
    const c = await e.cancel(r.value.executionId, "enough");
    assert(c.ok, JSON.stringify(c));
    const view = await e.wait(r.value.executionId, 10_000);
    assertStrictEquals(view?.status, "cancelled");
    const done = (await storage.readEvents(r.value.executionId)).filter((x) => x.type === "NodeSucceeded");
    assert(!done.some((x) => x.type === "NodeSucceeded" && x.nodeId === "out"), "the chain ran to its end");
  } finally {
    await e.stop();
  }
});
