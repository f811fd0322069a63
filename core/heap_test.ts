import fc from "npm:fast-check@4.11.0";
import { assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { MinHeap } from "./heap.ts";

Deno.test("MinHeap: pops in order, ties by insertion with a sequence number (property)", () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (keys) => {
    const h = new MinHeap<{ k: number; seq: number }>((a, b) => a.k < b.k || (a.k === b.k && a.seq < b.seq));
    keys.forEach((k, seq) => h.push({ k, seq }));
    const out: { k: number; seq: number }[] = [];
    for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
    const expected = keys.map((k, seq) => ({ k, seq })).sort((a, b) => a.k - b.k || a.seq - b.seq);
    assertEquals(out, expected);
  }));
});

Deno.test("MinHeap: empty, peek and clear", () => {
  const h = new MinHeap<number>((a, b) => a < b);
  assertStrictEquals(h.pop(), undefined);
  h.push(2);
  h.push(1);
  assertStrictEquals(h.peek(), 1);
  assertStrictEquals(h.size, 2);
  h.clear();
  assertStrictEquals(h.size, 0);
});
