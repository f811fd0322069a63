/**
 * Conformance cases of `WorkflowStore.listWorkflowVersions`: every version of a workflow, newest first,
 * summarised and paged, those of a deleted workflow included; nothing for an id never stored; a cursor it did
 * not hand out is `InvalidCursor`.
 *
 * @module
 */
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { InvalidCursor } from "../../storage/storage.ts";
import type { WorkflowVersionInfo } from "../../storage/workflow_versions.ts";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../assert.ts";
import { type ConformanceCase, type Ctx, T, walk } from "./fixtures.ts";

/** A definition of `nodes` chained nodes, named `name`. */
function chained(id: string, name: string, nodes: number): WorkflowDefinition {
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  return {
    id,
    name,
    nodes: ids.map((n, i) => ({
      id: n,
      type: i === 0 ? "source" : "transform",
      nodeType: i === 0 ? "sequence.numbers" : "map",
      config: { expression: "value", note: { nested: [i] } },
    })),
    edges: ids.slice(1).map((n, i) => ({ source: ids[i], target: n })),
    metadata: { nested: { list: [1, "x"] } },
  };
}

/** listWorkflowVersions lists every version newest first, paged, deleted workflows included */
async function listsVersionsNewestFirst(c: Ctx): Promise<void> {
  const s = c.storage;
  const id = c.id("wf");
  const other = c.id("other");
  const expected: WorkflowVersionInfo[] = [];
  for (let v = 1; v <= 5; v++) {
    const put = await s.putWorkflow(chained(id, `name ${v} "quoted" é`, v), `h${v}`, v - 1, T + v);
    assert(put.ok, JSON.stringify(put));
    expected.unshift({
      id,
      version: v,
      name: `name ${v} "quoted" é`,
      hash: `h${v}`,
      createdAt: T + v,
      nodeCount: v,
      edgeCount: v - 1,
    });
  }
  assert((await s.putWorkflow(chained(other, "other", 1), "o1", 0, T)).ok);
  for (const limit of [1, 2, 3, 5, 6, 500]) {
    assertEquals(
      await walk((cursor) => s.listWorkflowVersions(id, limit, cursor), limit),
      expected,
      `limit ${limit}`,
    );
  }
  const first = await s.listWorkflowVersions(id, 2);
  assertEquals(first.items.map((v) => v.version), [5, 4]);
  assert(first.next !== null, "a further page");
  const second = await s.listWorkflowVersions(id, 2, first.next);
  assertEquals(second.items.map((v) => v.version), [3, 2]);
  assertEquals((await s.listWorkflowVersions(id, 5)).next, null, "an exact last page has no next");

  // A deleted workflow keeps its versions listed; a put after it goes on counting.
  assert(await s.deleteWorkflow(id, T + 10));
  assertEquals((await s.listWorkflowVersions(id, 10)).items, expected);
  assert((await s.putWorkflow(chained(id, "back", 2), "h6", 5, T + 11)).ok);
  assertEquals((await s.listWorkflowVersions(id, 1)).items.map((v) => [v.version, v.name]), [[6, "back"]]);

  assertEquals(await s.listWorkflowVersions(c.id("never"), 10), { items: [], next: null });
  assertEquals((await s.listWorkflowVersions(other, 10)).items.map((v) => v.id), [other]);
  for (const bad of ["x", "-1", "0", "1.5", "99999999999"]) {
    await assertRejects(() => s.listWorkflowVersions(id, 10, bad), InvalidCursor);
  }
  assertStrictEquals((await s.listWorkflowVersions(id, 10, "1")).items.length, 0);
}

/** The `listWorkflowVersions` conformance cases. */
export const WORKFLOW_VERSIONS_CASES: ConformanceCase[] = [
  {
    title: "listWorkflowVersions lists every version newest first, paged, deleted workflows included",
    run: listsVersionsNewestFirst,
  },
];
