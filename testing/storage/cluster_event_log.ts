/**
 * Conformance cases of the `ClusterEventLog` role: events listed newest first (in
 * the order appended), filtered by type, limited, and trimmed to the newest N.
 * Events are not scoped by shard: each case uses event types of its own.
 *
 * @module
 */
import type { ClusterEvent } from "../../storage/storage.ts";
import { assertEquals, assertStrictEquals } from "../assert.ts";
import { type ConformanceCase, type Ctx, T } from "./fixtures.ts";

/** cluster events: listed newest first, filtered by type, limited */
async function clusterEventsNewestFirst(c: Ctx): Promise<void> {
  const s = c.storage;
  const x = c.id("x-event"), y = c.id("y-event");
  const event = (type: string, k: number, at = T + k): ClusterEvent => ({
    at,
    type,
    node: `node-${k}`,
    details: { k, shard: k * 3, nested: { list: [k, "two", null], ok: true }, none: null },
  });
  const appended = [event(x, 1), event(y, 2), event(x, 3), event(x, 4), event(y, 5)];
  for (const e of appended) await s.appendClusterEvent(e);
  assertEquals(await s.listClusterEvents(100, x), [appended[3], appended[2], appended[0]]);
  assertEquals(await s.listClusterEvents(100, y), [appended[4], appended[1]]);
  assertEquals(await s.listClusterEvents(2, x), [appended[3], appended[2]]);
  assertEquals(await s.listClusterEvents(1, y), [appended[4]]);
  // Without a type: every type, newest first.
  assertEquals(await s.listClusterEvents(3), [appended[4], appended[3], appended[2]]);
  assertEquals(await s.listClusterEvents(100, c.id("no-such-type")), []);
  // Newest means appended last, not the largest `at`.
  const late = event(x, 6, T - 1_000);
  await s.appendClusterEvent(late);
  assertEquals(await s.listClusterEvents(2, x), [late, appended[3]]);
}

/** trimClusterEvents keeps only the newest N */
async function trimKeepsNewest(c: Ctx): Promise<void> {
  const s = c.storage;
  const t = c.id("trimmed");
  const appended: ClusterEvent[] = [];
  for (let k = 0; k < 6; k++) {
    const e: ClusterEvent = { at: T + k, type: t, node: "node-1", details: { k } };
    appended.push(e);
    await s.appendClusterEvent(e);
  }
  const newestFirst = [...appended].reverse();
  await s.trimClusterEvents(10);
  assertEquals(await s.listClusterEvents(100, t), newestFirst);
  await s.trimClusterEvents(4);
  assertEquals(await s.listClusterEvents(100, t), newestFirst.slice(0, 4));
  assertStrictEquals((await s.listClusterEvents(1_000)).length, 4);
  await s.trimClusterEvents(1);
  assertEquals(await s.listClusterEvents(100, t), newestFirst.slice(0, 1));
  await s.trimClusterEvents(0);
  assertEquals(await s.listClusterEvents(100), []);
  // The log goes on after a trim.
  const after: ClusterEvent = { at: T + 10, type: t, node: "node-1", details: { k: 10 } };
  await s.appendClusterEvent(after);
  assertEquals(await s.listClusterEvents(100, t), [after]);
}

/** The `ClusterEventLog` role's conformance cases, in order. */
export const CLUSTER_EVENT_LOG_CASES: ConformanceCase[] = [
  { title: "cluster events: listed newest first, filtered by type, limited", run: clusterEventsNewestFirst },
  { title: "trimClusterEvents keeps only the newest N", run: trimKeepsNewest },
];
