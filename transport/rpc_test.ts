import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { envelope } from "../testing/transport_contract.ts";
import { MemoryNetwork } from "./memory.ts";
import { Rpc, type RpcTimers } from "./rpc.ts";
import type { Envelope } from "./transport.ts";

/** Virtual time for both the network and the rpc timers. */
class VirtualTime implements RpcTimers {
  now = 0;
  #seq = 0;
  #tasks = new Map<number, { at: number; fn: () => void }>();
  schedule = (fn: () => void, delayMs = 0) => {
    this.setTimer(delayMs, fn);
  };
  setTimer(delayMs: number, fn: () => void): unknown {
    const id = this.#seq++;
    this.#tasks.set(id, { at: this.now + Math.max(0, delayMs), fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.#tasks.delete(handle as number);
  }
  /** Runs every task due up to `until`, in (time, creation) order. */
  advance(until = this.now): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#tasks) {
        if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.#tasks.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = until;
  }
  /** Lets resolved promises (responders) run, then delivers what they sent. */
  async settle(until = this.now): Promise<void> {
    for (let i = 0; i < 5; i++) {
      this.advance(until);
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

function setup(options: { maxOutstanding?: number; maxHandling?: number } = {}) {
  const time = new VirtualTime();
  const net = new MemoryNetwork({ schedule: time.schedule, logger: { warn() {} } });
  const a = net.join("a"), b = net.join("b");
  let n = 0;
  const logger = { warn() {} };
  const ra = new Rpc(a, { ...options, timers: time, newId: () => `a-${++n}`, logger });
  const rb = new Rpc(b, { ...options, timers: time, newId: () => `b-${++n}`, logger });
  const wire: Envelope[] = [];
  b.onMessage((e) => wire.push(e));
  a.onMessage((e) => wire.push(e));
  const close = async () => {
    ra.close();
    rb.close();
    await net.close();
  };
  return { time, net, a, b, ra, rb, wire, close };
}

Deno.test("rpc: correlates by id/replyTo with injected ids", async () => {
  const { time, ra, rb, wire, close } = setup();
  rb.handle("echo", (body) => body);
  const p = ra.ask("b", "echo", "x");
  await time.settle();
  assertEquals(await p, { ok: true, body: "x" });
  assertEquals(wire.map((e) => [e.from, e.type, e.id, e.replyTo]), [
    ["a", "echo", "a-1", undefined],
    ["b", "echo", "b-2", "a-1"],
  ]);
  await close();
});

Deno.test("rpc: a late reply after the timeout is dropped", async () => {
  const { time, ra, rb, close } = setup();
  let release!: (v: string) => void;
  rb.handle("slow", () => new Promise<string>((resolve) => release = resolve));
  const p = ra.ask("b", "slow", null, { timeoutMs: 100 });
  await time.settle();
  time.advance(100);
  const r = await p;
  assertEquals([r.ok, !r.ok && r.code], [false, "timeout"]);
  release("too late");
  await time.settle();
  assertStrictEquals(ra.outstanding, 0);
  rb.handle("fast", () => "ok");
  const next = ra.ask("b", "fast", null);
  await time.settle();
  assertEquals(await next, { ok: true, body: "ok" });
  await close();
});

Deno.test("rpc: outstanding asks are bounded; beyond the bound: refused", async () => {
  const { time, ra, rb, close } = setup({ maxOutstanding: 2 });
  rb.handle("never", () => new Promise(() => {}));
  const p1 = ra.ask("b", "never", 1, { timeoutMs: 50 });
  const p2 = ra.ask("b", "never", 2, { timeoutMs: 50 });
  const r3 = await ra.ask("b", "never", 3);
  assertEquals([r3.ok, !r3.ok && r3.code], [false, "refused"]);
  assertStrictEquals(ra.outstanding, 2);
  await time.settle(50);
  assertEquals((await Promise.all([p1, p2])).map((r) => !r.ok && r.code), ["timeout", "timeout"]);
  await close();
});

Deno.test("rpc: a throwing responder and a busy responder answer refused", async () => {
  const { time, ra, rb, close } = setup({ maxHandling: 1 });
  rb.handle("boom", () => {
    throw new Error("kaput");
  });
  const p = ra.ask("b", "boom", null);
  await time.settle();
  const r = await p;
  assert(!r.ok && r.code === "refused" && r.message.includes("kaput"), JSON.stringify(r));
  rb.handle("hold", () => new Promise(() => {}));
  const held = ra.ask("b", "hold", null, { timeoutMs: 1000 });
  const busy = ra.ask("b", "hold", null, { timeoutMs: 1000 });
  await time.settle();
  const rBusy = await busy;
  assert(!rBusy.ok && rBusy.code === "refused" && rBusy.message.includes("busy"), JSON.stringify(rBusy));
  await time.settle(1000);
  assertEquals((await held).ok, false);
  await close();
});

Deno.test("rpc: replies are accepted only from the asked peer; close refuses outstanding asks", async () => {
  const { time, net, a, ra, rb, close } = setup();
  const c = net.join("c");
  time.advance();
  rb.handle("never-answered", () => new Promise(() => {}));
  const p = ra.ask("b", "never-answered", null, { timeoutMs: 1000 });
  // c forges a reply to a's request.
  c.send({
    ...envelope("c", "a", "never-answered", { ok: true, body: "forged" }),
    replyTo: "a-1",
    id: "c-1",
  });
  await time.settle();
  assertStrictEquals(ra.outstanding, 1);
  ra.close();
  const r = await p;
  assertEquals([r.ok, !r.ok && r.code], [false, "refused"]);
  const after = await ra.ask("b", "x", null);
  assertEquals([after.ok, !after.ok && after.code], [false, "refused"]);
  assertStrictEquals(a.self, "a");
  await close();
});
