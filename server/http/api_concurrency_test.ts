/**
 * Concurrency keys over real HTTP: 200 submissions for 3 keys with a limit of 2, each run blocked in an http
 * call to a local target that counts the calls under way per key (never more than the limit, every run
 * completes, runs of a key called in submission order); the same smaller on PostgreSQL; a restart with queued
 * runs (memory storage shared by two nodes, and PostgreSQL): the queues are rebuilt, nothing is lost and the
 * limit holds; the views of queued runs; and the key's validation errors.
 */
import { MemoryStorage } from "../../storage/memory.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import {
  assertApiError,
  createWorkflow,
  e,
  execute,
  getJson,
  n,
  postJson,
  startTarget,
  startTestNode,
  type Target,
  waitForExecution,
  wf,
  withNode,
} from "../../testing/server.ts";
import { waitUntil } from "../../testing/wait.ts";
import type { RunningNode } from "../start.ts";
import type { EngineConfig } from "../ops/config.ts";

const KEYS = ["acme", "globex", "initech"];

/**
 * A target that holds every call until the test releases it: the calls under way per key (and the most ever
 * seen), the order calls arrived per key (by the input's `n`).
 */
interface HoldingTarget extends Target {
  held: Map<string, { n: number; release: () => void }[]>;
  arrived: Map<string, number[]>;
  maxUnderWay: Map<string, number>;
}

function holdingTarget(): HoldingTarget {
  const held = new Map<string, { n: number; release: () => void }[]>();
  const arrived = new Map<string, number[]>();
  const maxUnderWay = new Map<string, number>();
  const target = startTarget(async (req, _index, closing) => {
    const [, , key, nText] = new URL(req.url).pathname.split("/");
    const n = Number(nText);
    const list = held.get(key) ?? [];
    held.set(key, list);
    (arrived.get(key) ?? arrived.set(key, []).get(key)!).push(n);
    let resolve!: () => void;
    const released = new Promise<void>((r) => resolve = r);
    // Released: answered, and no longer under way (taken off the list at once, before the answer goes).
    const release = () => {
      const at = list.indexOf(entry);
      if (at >= 0) list.splice(at, 1);
      resolve();
    };
    const entry = { n, release };
    list.push(entry);
    maxUnderWay.set(key, Math.max(maxUnderWay.get(key) ?? 0, list.length));
    closing.addEventListener("abort", release);
    await released;
    return Response.json({ key, n });
  });
  return { ...target, held, arrived, maxUnderWay };
}

/** A keyed workflow whose runs call `target` at `/hold/<customer>/<n>` and collect the answer. */
function callingWorkflow(id: string, target: Target, limit: number) {
  return wf(
    id,
    [
      n("call", "control/http", {
        url: `${target.url}/hold/{{input.customer}}/{{input.n}}`,
        timeoutMs: 120_000,
      }),
      n("out", "sink/memory.collect"),
    ],
    [e("call", "out")],
    { concurrency: { key: "input.customer", limit } },
  );
}

/** Submits run `i` (key `KEYS[i % 3]`), answered 202 at once; returns its id. */
async function submit(node: { url: string }, workflowId: string, i: number): Promise<string> {
  const r = await execute(node, workflowId, { input: { customer: KEYS[i % KEYS.length], n: i }, wait: 0 });
  assertEquals(r.status, 202, r.text);
  return r.body.executionId;
}

/**
 * Releases every key's held calls one at a time, each only once the key has as many calls under way as its
 * limit allows (so a run admitted over the limit would show as one call too many), until `total` calls of all
 * keys were released.
 */
async function releaseAll(target: HoldingTarget, perKey: Map<string, number>, limit: number): Promise<void> {
  await Promise.all([...perKey].map(async ([key, total]) => {
    for (let released = 0; released < total; released++) {
      const expect = Math.min(limit, total - released);
      await waitUntil(
        `${expect} calls of ${key} under way (released ${released} of ${total})`,
        () => (target.held.get(key)?.length ?? 0) >= expect,
        30_000,
        2,
      );
      const held = target.held.get(key)!;
      assert(held.length <= limit, `${held.length} calls of ${key} under way: over the limit ${limit}`);
      held[0].release();
    }
  }));
}

/** The runs of each key, in submission order (by `n`). */
function submittedPerKey(count: number): Map<string, number[]> {
  const out = new Map<string, number[]>(KEYS.map((k) => [k, []]));
  for (let i = 0; i < count; i++) out.get(KEYS[i % KEYS.length])!.push(i);
  return out;
}

/** The whole scenario on one node: `count` runs over 3 keys with `limit`. */
async function scenario(node: RunningNode, target: HoldingTarget, count: number, limit: number) {
  await createWorkflow(node, callingWorkflow("keyed-calls", target, limit));
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await submit(node, "keyed-calls", i));
  assertEquals(new Set(ids).size, count);
  // Every key filled its slots; the rest wait, queued, with their key in the view.
  await waitUntil("every key's slots taken", () => KEYS.every((k) => target.held.get(k)?.length === limit));
  const views = await Promise.all(ids.map((id) => getJson(node, `/api/v1/executions/${id}`)));
  const queued = views.filter((v) => v.body.queued === true);
  assertEquals(queued.length, count - KEYS.length * limit);
  for (const v of queued) {
    assertEquals(v.body.status, "running");
    const i = ids.indexOf(v.body.executionId);
    assertEquals(v.body.concurrency, { key: KEYS[i % KEYS.length], limit });
    assert(
      v.body.nodes.every((x: { status: string }) => x.status === "pending"),
      "a queued run started nothing",
    );
  }
  const expected = submittedPerKey(count);
  await releaseAll(target, new Map([...expected].map(([k, runs]) => [k, runs.length])), limit);
  for (const id of ids) {
    const done = await waitForExecution(node, id, (v) => v.status !== "running", 30_000);
    assertEquals(done.status, "completed", JSON.stringify(done.error));
    assertEquals(done.queued, undefined);
  }
  for (const key of KEYS) {
    assertEquals(target.maxUnderWay.get(key), limit, `the most calls of ${key} under way at once`);
    const arrived = target.arrived.get(key)!;
    const want = expected.get(key)!;
    // The first `limit` were admitted together (their calls may cross); after that one at a time, in order.
    assertEquals(
      arrived.slice(0, limit).sort((a, b) => a - b),
      want.slice(0, limit),
      `the first runs of ${key}`,
    );
    assertEquals(arrived.slice(limit), want.slice(limit), `runs of ${key} called in submission order`);
  }
  // The events say the same: a run over the limit started queued and was admitted later.
  const events = await getJson(node, `/api/v1/executions/${ids[count - 1]}/events`);
  assertEquals(events.body.events[0].queued, true);
  assertEquals(events.body.events[1].type, "ExecutionAdmitted");
}

/** A node granted the target, over `config`'s storage. */
function nodeCalling(target: Target, config: Partial<EngineConfig> = {}, storage?: MemoryStorage) {
  return startTestNode(storage ? { storage } : {}, {
    ...config,
    httpAllow: [new URL(target.url).host],
  });
}

Deno.test("200 submissions for 3 keys, limit 2: never more than 2 under way per key, all complete in order", async () => {
  const target = holdingTarget();
  const node = await nodeCalling(target);
  try {
    await scenario(node, target, 200, 2);
  } finally {
    await node.close();
    await target.close();
  }
});

pgTest(
  "PostgreSQL: 45 submissions for 3 keys, limit 2, admitted in order, never over the limit",
  async () => {
    await withTempDatabase(async (databaseUrl) => {
      const target = holdingTarget();
      const node = await nodeCalling(target, { storage: "postgres", databaseUrl });
      try {
        await scenario(node, target, 45, 2);
      } finally {
        await node.close();
        await target.close();
      }
    });
  },
);

// ---- restart

/** A keyed workflow whose runs wait for the signal `go`. */
const signalled = (limit: number) =>
  wf(
    "keyed-wait",
    [
      n("wait", "control/signal.wait", { name: "go" }),
      n("out", "sink/memory.collect"),
    ],
    [e("wait", "out")],
    { concurrency: { key: "input.customer", limit } },
  );

/** The runs of `ids` past admission and not ended, per key. */
async function admittedPerKey(node: { url: string }, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const v = (await getJson(node, `/api/v1/executions/${id}`)).body;
    if (v.status === "running" && v.queued !== true) {
      const key = v.concurrency.key;
      (out.get(key) ?? out.set(key, []).get(key)!).push(id);
    }
  }
  return out;
}

/**
 * 12 runs over 3 keys with a limit of 2 on one node, stopped with 6 admitted and 6 queued; a second node over
 * the same storage finds them all, admits no more than 2 per key, and as runs end admits the rest in order.
 */
async function restartScenario(start: () => Promise<RunningNode>): Promise<void> {
  const limit = 2, count = 12;
  let node = await start();
  const ids: string[] = [];
  try {
    await createWorkflow(node, signalled(limit));
    for (let i = 0; i < count; i++) {
      // Rebuilt queues are in start order to the millisecond: one submission a millisecond at least.
      await new Promise((r) => setTimeout(r, 2));
      const r = await execute(node, "keyed-wait", { input: { customer: KEYS[i % 3], n: i }, wait: 0 });
      assertEquals(r.status, 202, r.text);
      ids.push(r.body.executionId);
    }
    const before = await admittedPerKey(node, ids);
    assertEquals(KEYS.map((k) => before.get(k)?.length), [2, 2, 2]);
  } finally {
    await node.close();
  }
  node = await start();
  try {
    await waitUntil("the runs recovered", async () => {
      const admitted = await admittedPerKey(node, ids);
      return KEYS.every((k) => admitted.get(k)?.length === limit);
    });
    const order: string[] = [];
    for (let step = 0; step < count; step++) {
      const admitted = await admittedPerKey(node, ids);
      for (const [key, runs] of admitted) assert(runs.length <= limit, `${key}: ${runs.length} admitted`);
      const key = KEYS[step % 3];
      const run = admitted.get(key)!.sort((a, b) => ids.indexOf(a) - ids.indexOf(b))[0];
      order.push(run);
      const signal = await postJson(node, `/api/v1/executions/${run}/signals/go`, { payload: null });
      assertEquals(signal.status, 200, signal.text);
      await waitForExecution(node, run, (v) => v.status === "completed");
    }
    assertEquals(order.toSorted((a, b) => ids.indexOf(a) - ids.indexOf(b)), ids, "every run ran once");
    for (const key of KEYS) {
      const ofKey = order.filter((id) => ids.indexOf(id) % 3 === KEYS.indexOf(key));
      assertEquals(ofKey, ids.filter((_, i) => i % 3 === KEYS.indexOf(key)), `${key} in submission order`);
    }
  } finally {
    await node.close();
  }
}

Deno.test("restart with queued runs (shared memory storage): the queues are rebuilt, nothing lost", async () => {
  const storage = new MemoryStorage();
  await restartScenario(() => startTestNode({ storage }));
});

pgTest("restart with queued runs on PostgreSQL: the queues are rebuilt, nothing lost", async () => {
  await withTempDatabase((databaseUrl) =>
    restartScenario(() => startTestNode({}, { storage: "postgres", databaseUrl }))
  );
});

// ---- the key's errors

Deno.test("concurrency key errors: refused at create and at execute, with their paths; nothing started", async () => {
  await withNode(async (node) => {
    const bad = await postJson(node, "/api/v1/workflows", {
      ...signalled(1),
      id: "bad-key",
      concurrency: { key: "input.(", limit: 1 },
    });
    assertApiError(bad, 400, "validation_failed");
    assert(bad.body.error.details.some((d: { path: string }) => d.path === "$.concurrency.key"), bad.text);
    const badLimit = await postJson(node, "/api/v1/workflows", {
      ...signalled(1),
      id: "bad-limit",
      concurrency: { key: "input.customer", limit: 0 },
    });
    assertApiError(badLimit, 400, "validation_failed");
    assert(badLimit.body.error.details.some((d: { path: string }) => d.path === "$.concurrency.limit"));

    await createWorkflow(node, signalled(1));
    for (
      const input of [
        undefined,
        { other: "x" },
        { customer: { id: 1 } },
        { customer: [1] },
        { customer: true },
        { customer: "" },
        { customer: "k".repeat(257) },
      ]
    ) {
      const r = await execute(node, "keyed-wait", { input, wait: 0 });
      assertApiError(r, 400, "concurrency_key_invalid");
      assertEquals(r.body.error.details[0].path, "$.input", r.text);
    }
    const listed = await getJson(node, "/api/v1/workflows/keyed-wait/executions");
    assertEquals(listed.body, [], "nothing started");

    // A number is a key (its decimal text), and a key of 256 characters is fine.
    for (const customer of [42, "k".repeat(256)]) {
      const r = await execute(node, "keyed-wait", { input: { customer }, wait: 0 });
      assertEquals(r.status, 202, r.text);
      const view = await getJson(node, `/api/v1/executions/${r.body.executionId}`);
      assertEquals(view.body.concurrency, { key: String(customer), limit: 1 });
    }
  });
});

Deno.test("an Idempotency-Key finds the same keyed run; the key routes every run of a key alike", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, signalled(1));
    const headers = { "idempotency-key": "order-7" };
    const input = { customer: "acme" };
    const first = await execute(node, "keyed-wait", { input, wait: 0, headers });
    const again = await execute(node, "keyed-wait", { input, wait: 0, headers });
    assertEquals(first.status, 202);
    assertEquals(again.body.executionId, first.body.executionId);
    assertEquals(again.headers.get("idempotent-replayed"), "true");
    const other = await execute(node, "keyed-wait", { input, wait: 0 });
    const [prefix] = first.body.executionId.split("@");
    assert(other.body.executionId.startsWith(`${prefix}@`), "runs of one key share their routing prefix");
    const view = (await getJson(node, `/api/v1/executions/${other.body.executionId}`)).body;
    assertEquals([view.status, view.queued], ["running", true]);
    // Cancelling the admitted run admits the queued one.
    await postJson(node, `/api/v1/executions/${first.body.executionId}/cancel`, {});
    await waitForExecution(node, other.body.executionId, (v) => v.queued === undefined);
  });
});

Deno.test("a schedule's runs of a keyed workflow queue by their key; a key that does not evaluate skips the tick", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, signalled(1));
    const added = await postJson(node, "/api/v1/schedules/add", {
      id: "sch-keyed",
      workflowId: "keyed-wait",
      kind: "cron",
      cronExpression: "0 0 1 1 *",
      input: { customer: "acme" },
    });
    assertEquals(added.status, 201, added.text);
    const trigger = (body: unknown) => postJson(node, "/api/v1/schedules/sch-keyed/trigger", body);
    const first = await trigger({});
    assertEquals(first.status, 202, first.text);
    await new Promise((r) => setTimeout(r, 2)); // another millisecond: another manual tick
    const second = await trigger({});
    assertEquals(second.status, 202, second.text);
    const a = first.body.executionId, b = second.body.executionId;
    const viewOf = async (id: string) =>
      (await getJson(node, `/api/v1/executions/${encodeURIComponent(id)}`)).body;
    assertEquals((await viewOf(a)).queued, undefined, "the first run of the key is admitted");
    assertEquals([(await viewOf(b)).queued, (await viewOf(b)).concurrency], [true, {
      key: "acme",
      limit: 1,
    }]);
    const go = await postJson(node, `/api/v1/executions/${encodeURIComponent(a)}/signals/go`, {});
    assertEquals(go.status, 200, go.text);
    await waitForExecution(node, encodeURIComponent(b), (v) => v.queued === undefined);

    // An input without the key: 400 at $.input for a manual run, the tick recorded skipped with the reason.
    const refused = await trigger({ input: { other: 1 } });
    assertApiError(refused, 400, "concurrency_key_invalid");
    assertEquals(refused.body.error.details[0].path, "$.input");
    const detail = await getJson(node, "/api/v1/schedules/sch-keyed");
    const last = detail.body.recentFires[0]; // newest first
    assertEquals([last.outcome, last.reason, last.executionId], ["skipped", "concurrency_key_invalid", null]);
  });
});

Deno.test("a retried keyed run waits again for a slot, behind the run that holds it", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, signalled(1));
    const run = async () =>
      (await execute(node, "keyed-wait", { input: { customer: "acme" }, wait: 0 })).body;
    const a = (await run()).executionId;
    const cancelled = await postJson(node, `/api/v1/executions/${a}/cancel`, {});
    assertEquals(cancelled.body.status, "cancelled", cancelled.text);
    const b = (await run()).executionId;
    assertEquals(
      (await getJson(node, `/api/v1/executions/${b}`)).body.queued,
      undefined,
      "a's slot went to b",
    );
    const retried = await postJson(node, `/api/v1/executions/${a}/retry`, {});
    assertEquals(retried.status, 200, retried.text);
    const waiting = (await getJson(node, `/api/v1/executions/${a}`)).body;
    assertEquals([waiting.status, waiting.queued], ["running", true]);
    await postJson(node, `/api/v1/executions/${b}/signals/go`, {});
    await waitForExecution(node, a, (v) => v.queued === undefined);
    await postJson(node, `/api/v1/executions/${a}/signals/go`, {});
    const done = await waitForExecution(node, a, (v) => v.status !== "running");
    assertEquals(done.status, "completed");
    const types = (await getJson(node, `/api/v1/executions/${a}/events`)).body.events.map((
      e: { type: string },
    ) => e.type);
    const reopened = types.indexOf("ExecutionReopened");
    assert(reopened > 0 && types.indexOf("ExecutionAdmitted", reopened) > reopened, types.join());
  });
});
