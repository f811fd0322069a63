/**
 * The transport contract suite: every `Transport` implementation runs it (like the storage conformance
 * suite). Imported only by tests and benches.
 *
 * @example
 * ```ts ignore
 * import { transportContract } from "./transport_contract.ts";
 * transportContract("memory", async (ids, options) => { ... });
 * ```
 *
 * @module
 */

import { assert, assertEquals, assertStrictEquals } from "./assert.ts";
import { type Envelope, ENVELOPE_VERSION, type Transport } from "../transport/transport.ts";
import { Rpc } from "../transport/rpc.ts";
import { sleep, waitUntil } from "./wait.ts";

/** A running cluster of transports, one per id, every pair connected when `makeCluster` resolves. */
export interface ContractCluster {
  /** In the order of `ids`; `up` replaces an entry when it makes a new transport. */
  transports: Transport[];
  /** Takes node `id` off the network (stopped or cut off): its peers see it down. */
  down(id: string): Promise<void>;
  /** Brings node `id` back (the same or a new transport, returned as soon as it exists, before its links). */
  up(id: string): Promise<Transport>;
  /** Warnings logged so far, when the implementation's logger is captured. */
  warnings?(): string[];
  close(): Promise<void>;
}

/** Options the suite asks of a cluster. */
export interface ClusterOptions {
  /** Bound of each per-peer send queue. */
  maxQueue?: number;
}

/** Builds a cluster for one test. */
export type MakeCluster = (ids: string[], options?: ClusterOptions) => Promise<ContractCluster>;

/** Polls `condition` every 5 ms until it holds; throws after `timeoutMs` (the contract's argument order). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  await waitUntil(what, condition, timeoutMs, 5);
}

/** An envelope of the current version. */
export function envelope(from: string, to: string, type: string, body: unknown): Envelope {
  return { v: ENVELOPE_VERSION, from, to, type, body };
}

/** Registers the contract tests of one implementation. */
export function transportContract(name: string, makeCluster: MakeCluster): void {
  const test = (title: string, fn: (ids: string[]) => Promise<void>) =>
    Deno.test(`${name} transport: ${title}`, () => fn(["a", "b", "c"]));

  /** Runs `fn` with a fresh cluster, closing it afterwards. */
  const withCluster = async (
    ids: string[],
    options: ClusterOptions,
    fn: (c: ContractCluster) => Promise<void>,
  ) => {
    const cluster = await makeCluster(ids, options);
    try {
      await fn(cluster);
    } finally {
      await cluster.close();
    }
  };

  test("delivers between three nodes, both ways", (ids) =>
    withCluster(ids, {}, async ({ transports }) => {
      const got: string[] = [];
      for (const t of transports) t.onMessage((e) => got.push(`${e.from}>${e.to}:${e.type}:${e.body}`));
      for (const from of transports) {
        for (const to of ids) {
          if (to !== from.self) assert(from.send(envelope(from.self, to, "hi", `${from.self}${to}`)));
        }
      }
      await waitFor(() => got.length === 6, "6 deliveries");
      assertEquals(got.sort(), [
        "a>b:hi:ab",
        "a>c:hi:ac",
        "b>a:hi:ba",
        "b>c:hi:bc",
        "c>a:hi:ca",
        "c>b:hi:cb",
      ]);
      const [a, b] = transports;
      assertEquals([a.stats().sent, a.stats().received, a.stats().queued], [2, 2, 0]);
      assertStrictEquals(b.stats().dropped, 0);
    }));

  test("preserves per-sender order (1,000 messages from each of two senders)", (ids) =>
    withCluster(ids, {}, async ({ transports: [a, b, c] }) => {
      const got: Record<string, number[]> = { a: [], c: [] };
      b.onMessage((e) => got[e.from].push(e.body as number));
      for (let i = 0; i < 1000; i++) {
        assert(a.send(envelope("a", "b", "seq", i)));
        assert(c.send(envelope("c", "b", "seq", i)));
        if (i % 100 === 0) await sleep(0); // spread over several ticks (and frames)
      }
      await waitFor(() => got.a.length === 1000 && got.c.length === 1000, "2,000 deliveries");
      const expected = Array.from({ length: 1000 }, (_, i) => i);
      assertEquals(got.a, expected);
      assertEquals(got.c, expected);
    }));

  test("send to an unknown peer (or from a foreign id) returns false and counts a drop", (ids) =>
    withCluster(ids, {}, async ({ transports: [a] }) => {
      await Promise.resolve();
      assertStrictEquals(a.send(envelope("a", "nobody", "x", 1)), false);
      assertStrictEquals(a.send(envelope("a", "a", "x", 1)), false);
      assertStrictEquals(a.send(envelope("b", "c", "x", 1)), false);
      assertStrictEquals(a.stats().dropped, 3);
    }));

  test("bounded queue: with a peer down, sends beyond the bound return false", (ids) =>
    withCluster(ids, { maxQueue: 50 }, async (cluster) => {
      const [a, b] = cluster.transports;
      const downs: string[] = [];
      a.onPeer((peer, up) => up || downs.push(peer));
      await cluster.down("c");
      await waitFor(() => downs.includes("c"), "a to see c down");
      for (let i = 0; i < 50; i++) assert(a.send(envelope("a", "c", "q", i)), `send ${i} accepted`);
      assertStrictEquals(a.send(envelope("a", "c", "q", 50)), false);
      assertStrictEquals(a.send(envelope("a", "c", "q", 51)), false);
      assertStrictEquals(a.stats().dropped, 2);
      assertStrictEquals(a.stats().queued, 50);
      // Other peers are unaffected.
      const got: unknown[] = [];
      b.onMessage((e) => got.push(e.body));
      assert(a.send(envelope("a", "b", "q", "still")));
      await waitFor(() => got.length === 1, "a to reach b");
      assertEquals(got, ["still"]);
    }));

  test("peer down and up events; queued envelopes flow after the peer comes back", (ids) =>
    withCluster(ids, {}, async (cluster) => {
      const [a, b] = cluster.transports;
      const events: string[] = [];
      a.onPeer((peer, up) => events.push(`a:${peer}:${up ? "up" : "down"}`));
      b.onPeer((peer, up) => events.push(`b:${peer}:${up ? "up" : "down"}`));
      await cluster.down("c");
      await waitFor(() => events.includes("a:c:down") && events.includes("b:c:down"), "c down at a and b");
      for (let i = 0; i < 5; i++) assert(a.send(envelope("a", "c", "later", i)));
      const c = await cluster.up("c");
      const got: unknown[] = [];
      c.onMessage((e) => got.push(e.body));
      await waitFor(() => events.includes("a:c:up") && events.includes("b:c:up"), "c up at a and b", 8000);
      await waitFor(() => got.length === 5, "the queued envelopes at c", 8000);
      assertEquals(got, [0, 1, 2, 3, 4]);
      assert(c.send(envelope("c", "b", "back", 1)));
      const atB: unknown[] = [];
      b.onMessage((e) => atB.push(e.body));
      await waitFor(() => atB.length === 1, "c to reach b");
    }));

  test("ignores envelopes of an unknown version", (ids) =>
    withCluster(ids, {}, async (cluster) => {
      const [a, b] = cluster.transports;
      const got: unknown[] = [];
      b.onMessage((e) => got.push(e.body));
      assert(a.send({ ...envelope("a", "b", "x", "future"), v: ENVELOPE_VERSION + 1 }));
      assert(a.send(envelope("a", "b", "x", "now")));
      await waitFor(() => got.length === 1, "one delivery");
      await sleep(20);
      assertEquals(got, ["now"]);
      if (cluster.warnings) assert(cluster.warnings().some((w) => w.includes("version")), "a warning logged");
    }));

  test("rpc: ask and reply, both ways, with the trace carried", (ids) =>
    withCluster(ids, {}, async ({ transports: [a, b] }) => {
      const ra = new Rpc(a), rb = new Rpc(b);
      try {
        const traces: (string | undefined)[] = [];
        rb.handle("add", (body, from, e) => {
          traces.push(e.trace);
          return { sum: (body as number[]).reduce((x, y) => x + y, 0), from };
        });
        ra.handle("upper", (body) => Promise.resolve(String(body).toUpperCase()));
        const trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assertEquals(await ra.ask("b", "add", [1, 2, 3], { trace }), {
          ok: true,
          body: { sum: 6, from: "a" },
        });
        assertEquals(await rb.ask("a", "upper", "hi"), { ok: true, body: "HI" });
        assertEquals(traces, [trace]);
        const none = await ra.ask("b", "nope", 1);
        assertEquals([none.ok, !none.ok && none.code], [false, "refused"]);
        assertStrictEquals(ra.outstanding, 0);
      } finally {
        ra.close();
        rb.close();
      }
    }));

  test("rpc: a responder that never answers times out within about timeoutMs", (ids) =>
    withCluster(ids, {}, async ({ transports: [a, b] }) => {
      const ra = new Rpc(a), rb = new Rpc(b);
      try {
        rb.handle("never", () => new Promise(() => {}));
        const started = performance.now();
        const r = await ra.ask("b", "never", null, { timeoutMs: 150 });
        const elapsed = performance.now() - started;
        assertEquals([r.ok, !r.ok && r.code], [false, "timeout"]);
        assert(elapsed >= 140 && elapsed < 1000, `timed out after ${elapsed} ms`);
        assertStrictEquals(ra.outstanding, 0);
      } finally {
        ra.close();
        rb.close();
      }
    }));

  test("rpc: unreachable for an unknown peer, and when the peer goes down mid-ask", (ids) =>
    withCluster(ids, {}, async (cluster) => {
      const [a, b] = cluster.transports;
      const ra = new Rpc(a), rb = new Rpc(b);
      try {
        const r = await ra.ask("nobody", "x", 1);
        assertEquals([r.ok, !r.ok && r.code], [false, "unreachable"]);
        rb.handle("never", () => new Promise(() => {}));
        const started = performance.now();
        const pending = ra.ask("b", "never", null, { timeoutMs: 10_000 });
        await sleep(20);
        await cluster.down("b");
        const r2 = await pending;
        assertEquals([r2.ok, !r2.ok && r2.code], [false, "unreachable"]);
        assert(performance.now() - started < 5000, "failed before the timeout");
      } finally {
        ra.close();
        rb.close();
      }
    }));
}
