import fc from "npm:fast-check@4.11.0";
import { assert, assertStrictEquals } from "../testing/assert.ts";
import { BoundedCache } from "./cache.ts";

Deno.test("BoundedCache: never over capacity, the last written value is read, recent entries survive", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 16 }),
      fc.array(fc.tuple(fc.constantFrom("get", "set", "delete"), fc.integer({ min: 0, max: 20 }), fc.nat()), {
        maxLength: 200,
      }),
      (capacity, ops) => {
        const cache = new BoundedCache<number, number>(capacity);
        const truth = new Map<number, number>();
        for (const [op, key, value] of ops) {
          if (op === "set") {
            cache.set(key, value);
            truth.set(key, value);
            // The entry just written is always there.
            assertStrictEquals(cache.get(key), value);
          } else if (op === "delete") {
            cache.delete(key);
            truth.delete(key);
          } else {
            const v = cache.get(key);
            // A hit is never stale: it is the last value written (and not deleted since).
            if (v !== undefined) assertStrictEquals(v, truth.get(key));
          }
          assert(cache.size <= capacity, `size ${cache.size} > ${capacity}`);
        }
      },
    ),
  );
});

Deno.test("BoundedCache: of the last capacity/2 distinct keys written, none is evicted", () => {
  const cache = new BoundedCache<number, number>(10);
  for (let i = 0; i < 100; i++) cache.set(i, i);
  for (let i = 95; i < 100; i++) assertStrictEquals(cache.get(i), i);
  assertStrictEquals(cache.get(0), undefined);
});
