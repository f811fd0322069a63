/**
 * Conformance cases of the `ClusterRegistry` role: heartbeats register and update
 * members (keeping the first `joinedAt`), listings by id, and removal. Members are
 * not scoped by shard: each case filters by its own ids.
 *
 * @module
 */
import type { MemberRecord } from "../../core/cluster.ts";
import type { ClusterRegistry } from "../../storage/storage.ts";
import { assertEquals, assertStrictEquals } from "../assert.ts";
import { type ConformanceCase, type Ctx, T } from "./fixtures.ts";

/** A member record at `T`, with `o` over it. */
const memberRecord = (id: string, o: Partial<MemberRecord> = {}): MemberRecord => ({
  id,
  address: "10.0.0.1:7000",
  httpAddress: "10.0.0.1:8080",
  roles: ["worker"],
  joinedAt: T,
  heartbeatAt: T,
  leaving: false,
  ...o,
});
/** The members whose ids start with `prefix` (a case's own), by id. */
const membersOf = async (s: ClusterRegistry, prefix: string) =>
  (await s.listMembers()).filter((m) => m.id.startsWith(prefix));

/** heartbeat registers a member, then updates it; joinedAt is kept from the first */
async function heartbeatRegistersThenUpdates(c: Ctx): Promise<void> {
  const s = c.storage;
  const id = c.id("a");
  const first = memberRecord(id, { roles: ["coordinator", "worker", "api-gateway"] });
  await s.heartbeat(first);
  assertEquals(await membersOf(s, c.id("")), [first]);
  await s.heartbeat(memberRecord(id, {
    address: "10.0.0.2:7001",
    httpAddress: "10.0.0.2:8081",
    roles: ["worker"],
    joinedAt: T + 5_000, // a restarted process's own idea: storage keeps the first
    heartbeatAt: T + 9_000,
    leaving: true,
  }));
  assertEquals(await membersOf(s, c.id("")), [{
    id,
    address: "10.0.0.2:7001",
    httpAddress: "10.0.0.2:8081",
    roles: ["worker"],
    joinedAt: T,
    heartbeatAt: T + 9_000,
    leaving: true,
  }]);
  // And back: a rejoin clears the leave flag; roles may be empty.
  await s.heartbeat(memberRecord(id, { roles: [], joinedAt: T + 20_000, heartbeatAt: T + 20_000 }));
  const [again] = await membersOf(s, c.id(""));
  assertEquals(again, memberRecord(id, { roles: [], joinedAt: T, heartbeatAt: T + 20_000 }));
  assertStrictEquals(again.leaving, false);
  assertStrictEquals(typeof again.heartbeatAt, "number");
}

/** listMembers is ordered by id; removeMember forgets one */
async function listMembersOrderedRemoveForgets(c: Ctx): Promise<void> {
  const s = c.storage;
  for (const k of ["c", "a", "d", "b"]) {
    await s.heartbeat(memberRecord(c.id(k), { heartbeatAt: T + k.charCodeAt(0) }));
  }
  assertEquals((await membersOf(s, c.id(""))).map((m) => m.id), ["a", "b", "c", "d"].map((k) => c.id(k)));
  await s.removeMember(c.id("b"));
  assertEquals((await membersOf(s, c.id(""))).map((m) => m.id), ["a", "c", "d"].map((k) => c.id(k)));
  await s.removeMember(c.id("b")); // gone already: no error
  await s.removeMember(c.id("never"));
  assertEquals((await membersOf(s, c.id(""))).map((m) => m.id), ["a", "c", "d"].map((k) => c.id(k)));
  // A removed member that heartbeats again registers anew, with its own joinedAt.
  await s.heartbeat(memberRecord(c.id("b"), { joinedAt: T + 100, heartbeatAt: T + 100 }));
  const b = (await membersOf(s, c.id(""))).find((m) => m.id === c.id("b"));
  assertEquals(b, memberRecord(c.id("b"), { joinedAt: T + 100, heartbeatAt: T + 100 }));
}

/** The `ClusterRegistry` role's conformance cases, in order. */
export const CLUSTER_REGISTRY_CASES: ConformanceCase[] = [
  {
    title: "heartbeat registers a member, then updates it; joinedAt is kept from the first",
    run: heartbeatRegistersThenUpdates,
  },
  { title: "listMembers is ordered by id; removeMember forgets one", run: listMembersOrderedRemoveForgets },
];
