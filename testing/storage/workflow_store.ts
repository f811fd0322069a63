/**
 * Conformance cases of the `WorkflowStore` role: a put is a compare-and-set on
 * the latest version (racing puts: one wins), listings page live workflows, and a
 * delete hides the latest version but keeps every version and the counter.
 *
 * @module
 */
import type { StoredWorkflow } from "../../storage/storage.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";
import { type ConformanceCase, type Ctx, definition, putOk, race, T, walk } from "./fixtures.ts";

/** putWorkflow is a CAS on the latest version; getWorkflow latest and by version */
async function putWorkflowIsCas(c: Ctx): Promise<void> {
  const s = c.storage;
  const id = c.id("wf");
  assertStrictEquals(await s.latestVersion(id), 0);
  assertStrictEquals(await s.getWorkflow(id), undefined);
  const def1 = definition(id, "first");
  const put1 = await s.putWorkflow(def1, "hash-1", 0, T);
  const v1: StoredWorkflow = { id, version: 1, definition: def1, hash: "hash-1", createdAt: T };
  assertEquals(put1, { ok: true, workflow: v1 });
  assertEquals(await s.putWorkflow(definition(id, "late"), "hash-x", 0, T + 1), {
    ok: false,
    code: "version_conflict",
    current: v1,
  });
  const def2 = definition(id, "second");
  const put2 = await s.putWorkflow(def2, "hash-2", 1, T + 2);
  const v2: StoredWorkflow = { id, version: 2, definition: def2, hash: "hash-2", createdAt: T + 2 };
  assertEquals(put2, { ok: true, workflow: v2 });
  for (const stale of [0, 1, 3, 7]) {
    assertEquals(await s.putWorkflow(definition(id, "stale"), "hash-s", stale, T + 3), {
      ok: false,
      code: "version_conflict",
      current: v2,
    });
  }
  assertEquals(await s.getWorkflow(id), v2);
  assertEquals(await s.getWorkflow(id, 1), v1);
  assertEquals(await s.getWorkflow(id, 2), v2);
  assertStrictEquals(await s.getWorkflow(id, 3), undefined);
  assertStrictEquals(await s.latestVersion(id), 2);

  // Racing puts on one expected version: exactly one stores the next version, the rest are conflicts.
  // (Puts of other ids first, so that a pooled backend has its connections open and the races overlap.)
  await race(Array.from({ length: 5 }, (_, i) => putOk(s, definition(c.id(`warm${i}`)), 0)));
  const races: [string, number][] = [
    [id, 2],
    ...Array.from({ length: 4 }, (_, i): [string, number] => [c.id(`new${i}`), 0]),
  ];
  for (const [wid, expected] of races) {
    const racing = await race(
      Array.from(
        { length: 5 },
        (_, i) => s.putWorkflow(definition(wid, `racer ${i}`), `h${i}`, expected, T + 9),
      ),
    );
    const winners = racing.flatMap((r) => r.ok ? [r.workflow] : []);
    assertStrictEquals(
      winners.length,
      1,
      `one winner for ${wid}@${expected}, got ${JSON.stringify(racing)}`,
    );
    assertStrictEquals(winners[0].version, expected + 1);
    for (const r of racing) {
      if (!r.ok) assertEquals(r, { ok: false, code: "version_conflict", current: winners[0] });
    }
    assertEquals(await s.getWorkflow(wid), winners[0]);
    assertStrictEquals(await s.latestVersion(wid), expected + 1);
  }
}

/** listWorkflows pages live workflows by id */
async function listWorkflowsPagesLive(c: Ctx): Promise<void> {
  const s = c.storage;
  const [w1, w2, w3, w4] = [c.id("w1"), c.id("w2"), c.id("w3"), c.id("w4")];
  // Stored out of order; w3 has two versions; w2 is deleted.
  for (const id of [w3, w1, w4, w2]) await putOk(s, definition(id), 0);
  await putOk(s, definition(w3, "v2"), 1);
  assert(await s.deleteWorkflow(w2, T + 2));
  const mine = new Set([w1, w2, w3, w4]);
  for (const limit of [1, 2, 3, 100]) {
    const all = await walk((cursor) => s.listWorkflows(limit, cursor), limit);
    assertEquals(all.filter((w) => mine.has(w.id)).map((w) => [w.id, w.version]), [[w1, 1], [w3, 2], [
      w4,
      1,
    ]]);
    assertStrictEquals(new Set(all.map((w) => w.id)).size, all.length, "each workflow exactly once");
    for (let i = 1; i < all.length; i++) assert(all[i - 1].id < all[i].id, "ordered by id");
  }
  const w3Latest = (await walk((cursor) => s.listWorkflows(2, cursor), 2)).find((w) => w.id === w3);
  assertEquals(w3Latest, await s.getWorkflow(w3));
}

/** deleteWorkflow hides the latest version but keeps versions readable and counting */
async function deleteWorkflowHidesLatest(c: Ctx): Promise<void> {
  const s = c.storage;
  const id = c.id("wf");
  await putOk(s, definition(id, "one"), 0);
  await putOk(s, definition(id, "two"), 1);
  const v1 = await s.getWorkflow(id, 1);
  const v2 = await s.getWorkflow(id, 2);
  assertStrictEquals(v2?.definition.name, "two");
  assertStrictEquals(await s.deleteWorkflow(id, T + 2), true);
  assertStrictEquals(await s.deleteWorkflow(id, T + 3), false);
  assertStrictEquals(await s.deleteWorkflow(c.id("never"), T + 3), false);
  assertStrictEquals(await s.getWorkflow(id), undefined);
  assertEquals(await s.getWorkflow(id, 1), v1);
  assertEquals(await s.getWorkflow(id, 2), v2);
  assertStrictEquals(await s.latestVersion(id), 2);
  const listed = await walk((cursor) => s.listWorkflows(50, cursor), 50);
  assert(!listed.some((w) => w.id === id), "a deleted workflow is not listed");

  // The counter goes on: a re-put must expect the last version and gets the next one.
  assertEquals(await s.putWorkflow(definition(id, "again"), "h3", 0, T + 4), {
    ok: false,
    code: "version_conflict",
    current: undefined,
  });
  const again = await s.putWorkflow(definition(id, "three"), "h3", 2, T + 5);
  assert(again.ok);
  assertStrictEquals(again.workflow.version, 3);
  assertEquals(await s.getWorkflow(id), again.workflow);
  assertEquals(await s.getWorkflow(id, 1), v1);
  assertStrictEquals(await s.latestVersion(id), 3);
  const relisted = await walk((cursor) => s.listWorkflows(50, cursor), 50);
  assertEquals(relisted.find((w) => w.id === id), again.workflow);
}

/** The `WorkflowStore` role's conformance cases, in order. */
export const WORKFLOW_STORE_CASES: ConformanceCase[] = [
  {
    title: "putWorkflow is a CAS on the latest version; getWorkflow latest and by version",
    run: putWorkflowIsCas,
  },
  { title: "listWorkflows pages live workflows by id", run: listWorkflowsPagesLive },
  {
    title: "deleteWorkflow hides the latest version but keeps versions readable and counting",
    run: deleteWorkflowHidesLatest,
  },
];
