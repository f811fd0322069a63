/**
 * ShardRouting asks again when storage fenced a call off (`503 not_owner`: the shard moved while the call ran,
 * nothing was written): the new owner answers, within the ask timeout. A call forwarded here answers as it is.
 */
import { assertEquals } from "../../testing/assert.ts";
import type { ClusterMember } from "../cluster/member.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Engine } from "../runtime/engine.ts";
import { ApiError } from "./errors.ts";
import { type Forwarder, ShardRouting } from "./routing.ts";

const clock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as number),
} as Clock;

function setup() {
  const owned = new Set([7]);
  const engine = { ownedShards: owned } as unknown as Engine;
  const cluster = {
    opts: { nodeId: "a" },
    cutOff: false,
    ownerOf: () => (owned.has(7) ? "a" : "b"),
    member: () => ({ id: "b", status: "up" }),
  } as unknown as ClusterMember;
  const forwarded: string[] = [];
  const forwarder: Forwarder = {
    forward(to) {
      forwarded.push(to);
      return Promise.resolve({ ok: true, response: { status: 200, headers: {}, body: '{"by":"b"}' } });
    },
  };
  return { owned, routing: new ShardRouting(engine, cluster, forwarder, clock, 2_000), forwarded };
}

const request = { method: "POST", path: "/x", headers: {}, body: "" };

Deno.test("routing: a call fenced off as its shard moved is asked again of the new owner", async () => {
  const { owned, routing, forwarded } = setup();
  const res = await routing.route(7, request, false, () => {
    owned.delete(7); // the shard moved away while the call ran: storage refused the write
    throw new ApiError(503, "not_owner", "this node no longer owns the shard; retry");
  });
  assertEquals([res.status, await res.json()], [200, { by: "b" }]);
  assertEquals(forwarded, ["b"]);
});

Deno.test("routing: a forwarded call fenced off answers not_owner to the member that forwarded it", async () => {
  const { owned, routing, forwarded } = setup();
  const res = await routing.route(7, request, true, () => {
    owned.delete(7);
    throw new ApiError(503, "not_owner", "moved");
  });
  assertEquals(res.status, 503);
  assertEquals((await res.json()).error.code, "not_owner");
  assertEquals(forwarded, []);
});

Deno.test("routing: other refusals are not asked again", async () => {
  const { routing, forwarded } = setup();
  let calls = 0;
  const res = await routing.route(7, request, false, () => {
    calls++;
    return Promise.resolve(Response.json({ error: { code: "overloaded" } }, { status: 503 }));
  });
  assertEquals([res.status, calls, forwarded.length], [503, 1, 0]);
});
