/**
 * Conformance cases of the `AuditLog` role: calls listed newest first in the order recorded, paged by
 * cursor, fields round-tripped, and the log trimmed to the newest N. The log is not scoped: each case tells
 * its events by a node name of its own, and reads the newest ones right after appending them.
 *
 * @module
 */
import { type AuditEvent, InvalidCursor } from "../../storage/storage.ts";
import { assertEquals, assertRejects, assertStrictEquals } from "../assert.ts";
import { type ConformanceCase, type Ctx, T } from "./fixtures.ts";

/** An audit event of node `node`, at T + k. */
function call(node: string, k: number): AuditEvent {
  const denied = k % 2 === 0;
  return {
    at: T + k,
    node,
    tokenId: denied ? null : "0123456789abcdef",
    role: denied ? null : "operator",
    method: k % 3 === 0 ? "DELETE" : "POST",
    route: "/api/v1/workflows/:id",
    path: `/api/v1/workflows/w-${k}%C3%A9`,
    status: denied ? 401 : 201,
    outcome: denied ? "denied" : "ok",
    requestId: denied ? null : `req-${k} ✓`,
  };
}

/** audit: listed newest first in the order recorded, paged by cursor */
async function newestFirstPaged(c: Ctx): Promise<void> {
  const s = c.storage;
  const node = c.id("node");
  const calls = [1, 2, 3, 4, 5].map((k) => call(node, k));
  await s.appendAudit(calls.slice(0, 2));
  await s.appendAudit([]);
  await s.appendAudit(calls.slice(2));
  // Newest means recorded last, not the largest `at`.
  const late = { ...call(node, 6), at: T - 1_000 };
  await s.appendAudit([late]);
  const first = await s.listAudit(2);
  assertEquals(first.items, [late, calls[4]]);
  assertStrictEquals(typeof first.next, "string");
  const second = await s.listAudit(2, first.next);
  assertEquals(second.items, [calls[3], calls[2]]);
  const third = await s.listAudit(2, second.next);
  assertEquals(third.items[0], calls[1]);
  const all = (await s.listAudit(1_000)).items.filter((e) => e.node === node);
  assertEquals(all, [late, ...[...calls].reverse()]);
  for (const bad of ["x", "-1", "1.5", "1:2"]) {
    await assertRejects(() => s.listAudit(2, bad), InvalidCursor, `cursor ${JSON.stringify(bad)}`);
  }
}

/** audit: trimAudit keeps only the newest N */
async function trimKeepsNewest(c: Ctx): Promise<void> {
  const s = c.storage;
  const node = c.id("trimmed");
  const calls = [0, 1, 2, 3, 4, 5].map((k) => call(node, k));
  await s.appendAudit(calls);
  const newestFirst = [...calls].reverse();
  await s.trimAudit(10);
  assertEquals((await s.listAudit(6)).items, newestFirst);
  await s.trimAudit(4);
  const kept = await s.listAudit(1_000);
  assertEquals(kept.items, newestFirst.slice(0, 4));
  assertStrictEquals(kept.next, null);
  await s.trimAudit(0);
  assertEquals((await s.listAudit(1_000)).items, []);
  const after = call(node, 10);
  await s.appendAudit([after]);
  assertEquals((await s.listAudit(1_000)).items, [after], "the log goes on after a trim");
}

/** The `AuditLog` role's conformance cases, in order. */
export const AUDIT_LOG_CASES: ConformanceCase[] = [
  { title: "audit: listed newest first in the order recorded, paged by cursor", run: newestFirstPaged },
  { title: "audit: trimAudit keeps only the newest N", run: trimKeepsNewest },
];
