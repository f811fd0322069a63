/**
 * Retention per workflow, through the engine's sweep: a workflow's own `retentionMs` deletes its ended
 * executions on its own schedule while the node's `--retention` keeps the others, `retentionMs: 0` keeps them
 * past the node's, and a migrated execution goes by the version it moved to. The clock is the system's,
 * moved forward by hand for the sweep (executions run on real timers).
 */
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { Storage, StoredWorkflow } from "../../storage/storage.ts";
import { assert, assertStrictEquals } from "../../testing/assert.ts";
import { testEngine } from "../../testing/engine.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Engine } from "./engine.ts";
import { checkWorkflow } from "./workflows.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const YEAR = 365 * 24 * HOUR;

/** The system clock, `ahead` ms in the future (its timers are the system's). */
class AheadClock implements Clock {
  ahead = 0;
  now(): number {
    return Date.now() + this.ahead;
  }
  setTimer(delayMs: number, fn: () => void): unknown {
    return systemClock.setTimer(delayMs, fn);
  }
  clearTimer(handle: unknown): void {
    systemClock.clearTimer(handle);
  }
}

/** A one-node workflow: a signal wait (`wait`), or a sequence into a collector. */
function workflow(id: string, extra: Partial<WorkflowDefinition> = {}, wait = false): WorkflowDefinition {
  if (wait) {
    return {
      id,
      name: id,
      nodes: [{ id: "w", type: "control", nodeType: "signal.wait", config: { name: "go" } }],
      edges: [],
      ...extra,
    };
  }
  return {
    id,
    name: id,
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "src", target: "out" }],
    ...extra,
  };
}

/** Stores a definition as the next version of its workflow. */
async function store(storage: Storage, def: WorkflowDefinition, expected = 0): Promise<StoredWorkflow> {
  const checked = checkWorkflow(def);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, expected, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

/** Runs one execution of `wf` to its end; returns its id. */
async function runToEnd(engine: Engine, wf: StoredWorkflow): Promise<string> {
  const r = await engine.submit(wf, { input: null });
  assert(r.ok, JSON.stringify(r));
  assertStrictEquals((await engine.wait(r.value.executionId, 5000))?.status, "completed");
  return r.value.executionId;
}

/** Whether the execution is still there: in storage, and served by the engine. */
async function kept(storage: Storage, engine: Engine, id: string): Promise<boolean> {
  const stored = await storage.getExecution(id) !== undefined;
  assertStrictEquals(
    await engine.view(id) !== undefined,
    stored,
    `${id}: the engine serves what storage has`,
  );
  return stored;
}

Deno.test("retention: a workflow's own retentionMs deletes its executions; the node's keeps the others; 0 keeps them past it", async () => {
  const storage = new MemoryStorage();
  const clock = new AheadClock();
  const engine = testEngine(storage, { retentionMs: HOUR }, { clock });
  await engine.start();
  try {
    const brief = await runToEnd(engine, await store(storage, workflow("brief", { retentionMs: MINUTE })));
    const plain = await runToEnd(engine, await store(storage, workflow("plain")));
    const forever = await runToEnd(engine, await store(storage, workflow("forever", { retentionMs: 0 })));
    const ids = [brief, plain, forever];
    const left = async () =>
      (await Promise.all(ids.map((id) => kept(storage, engine, id)))).map(Number).join("");

    assertStrictEquals((await engine.sweep()).deleted, 0);
    assertStrictEquals(await left(), "111");
    clock.ahead = 2 * MINUTE; // past brief's minute, within the node's hour
    assertStrictEquals((await engine.sweep()).deleted, 1);
    assertStrictEquals(await left(), "011", "brief went by its own retention");
    clock.ahead = 2 * HOUR; // past the node's hour
    assertStrictEquals((await engine.sweep()).deleted, 1);
    assertStrictEquals(await left(), "001", "plain went by the node's retention; forever stays");
    clock.ahead = 11 * YEAR;
    assertStrictEquals((await engine.sweep()).deleted, 0);
    assertStrictEquals(await left(), "001", "retentionMs 0 keeps it for good");
    assert(await storage.getWorkflow("brief"), "definitions are never deleted by retention");
  } finally {
    await engine.stop();
  }
});

Deno.test("retention: a workflow's own retention applies when the node keeps everything (--retention 0)", async () => {
  const storage = new MemoryStorage();
  const clock = new AheadClock();
  const engine = testEngine(storage, { retentionMs: 0 }, { clock });
  await engine.start();
  try {
    const brief = await runToEnd(engine, await store(storage, workflow("brief", { retentionMs: MINUTE })));
    const plain = await runToEnd(engine, await store(storage, workflow("plain")));
    clock.ahead = 20 * YEAR;
    assertStrictEquals((await engine.sweep()).deleted, 1);
    assertStrictEquals(await kept(storage, engine, brief), false);
    assertStrictEquals(await kept(storage, engine, plain), true);
  } finally {
    await engine.stop();
  }
});

Deno.test("retention: a migrated execution goes by the retention of the version it moved to", async () => {
  const storage = new MemoryStorage();
  const clock = new AheadClock();
  const engine = testEngine(storage, { retentionMs: 0 }, { clock });
  await engine.start();
  try {
    const v1 = await store(storage, workflow("moving", {}, true));
    await store(storage, workflow("moving", { retentionMs: MINUTE }, true), 1);
    const r = await engine.submit(v1, { input: null });
    assert(r.ok, JSON.stringify(r));
    const id = r.value.executionId;
    assert((await engine.migrate(id, 2)).ok, "migrated to version 2");
    assert((await engine.signal(id, "go", null)).ok);
    assertStrictEquals((await engine.wait(id, 5000))?.status, "completed");
    const stored = await storage.getExecution(id);
    assertStrictEquals(stored?.version, 2);
    assertStrictEquals(stored?.expiresAt, stored!.endTime! + MINUTE);
    clock.ahead = 2 * MINUTE;
    assertStrictEquals((await engine.sweep()).deleted, 1);
    assertStrictEquals(await kept(storage, engine, id), false);
  } finally {
    await engine.stop();
  }
});
