import { assert, assertEquals, assertStrictEquals, assertThrows } from "../../testing/assert.ts";
import fc from "npm:fast-check@4.11.0";
import type { Json } from "../../core/json.ts";
import { NodeError } from "./executor.ts";
import { enforceCount, enforceLimits, utf8Length } from "./limits.ts";

const tooLarge = (e: unknown) => {
  assert(e instanceof NodeError);
  assertStrictEquals(e.code, "output_too_large");
  assertStrictEquals(e.retryable, false);
  return true;
};

Deno.test("too many records fail with output_too_large and nothing is truncated", () => {
  const records = [1, 2, 3, 4];
  assertThrows(() => enforceLimits(records, { maxRecords: 3, maxBytes: 1e9 }, "n"), tooLarge);
  assertEquals(records, [1, 2, 3, 4]);
  enforceLimits(records, { maxRecords: 4, maxBytes: 1e9 }, "n");
  assertThrows(() => enforceCount(1e12, { maxRecords: 10, maxBytes: 1 }, "n"), tooLarge);
});

Deno.test("the byte bound is the UTF-8 size of the JSON array, exactly", () => {
  const records = ["ab", { k: 1 }];
  const size = new TextEncoder().encode(JSON.stringify(records)).length; // ["ab",{"k":1}]
  enforceLimits(records, { maxRecords: 10, maxBytes: size }, "n");
  assertThrows(() => enforceLimits(records, { maxRecords: 10, maxBytes: size - 1 }, "n"), tooLarge);
  const wide = ["é€😀"];
  const wideSize = new TextEncoder().encode(JSON.stringify(wide)).length;
  enforceLimits(wide, { maxRecords: 10, maxBytes: wideSize }, "n");
  assertThrows(() => enforceLimits(wide, { maxRecords: 10, maxBytes: wideSize - 1 }, "n"), tooLarge);
  enforceLimits([], { maxRecords: 0, maxBytes: 2 }, "n");
  assertThrows(() => enforceLimits([], { maxRecords: 0, maxBytes: 1 }, "n"), tooLarge);
});

Deno.test("a huge record fails without a full UTF-8 count", () => {
  const big = "x".repeat(1_000_000);
  assertThrows(
    () => enforceLimits([big, big], { maxRecords: 10, maxBytes: 1_500_000 }, "node-7"),
    (e) => tooLarge(e) && (e as Error).message.includes("node-7"),
  );
});

Deno.test("utf8Length matches TextEncoder", () => {
  for (const s of ["", "abc", "é", "€", "😀", "a\u0000b", "\ud800x", "x\udc00"]) {
    assertStrictEquals(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s));
  }
});

Deno.test("enforceLimits returns the exact UTF-8 size of the records as a JSON array (property)", () => {
  const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as Json);
  fc.assert(
    fc.property(
      fc.array(fc.oneof(json, fc.double(), fc.integer(), fc.boolean(), fc.constant(null))),
      (records) => {
        const exact = new TextEncoder().encode(JSON.stringify(records)).length;
        assertStrictEquals(enforceLimits(records, { maxRecords: 1e9, maxBytes: 1e9 }, "n"), exact);
      },
    ),
  );
});
