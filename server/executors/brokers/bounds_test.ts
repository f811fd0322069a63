import { assertEquals } from "../../../testing/assert.ts";
import { BatchBounds, utf8Length } from "./bounds.ts";

Deno.test("utf8Length counts as TextEncoder does", () => {
  const encoder = new TextEncoder();
  for (const s of ["", "abc", "é", "€", "😀", "a😀b", "\ud800", "x\udc00y", "日本語"]) {
    assertEquals(utf8Length(s), encoder.encode(s).length, JSON.stringify(s));
  }
});

Deno.test("BatchBounds: stops at maxMessages, and at the first value that would pass maxBytes", () => {
  const byCount = new BatchBounds(2, 100);
  assertEquals([byCount.take("a"), byCount.take("b"), byCount.take("c")], [true, true, false]);
  assertEquals([byCount.stopped, byCount.room], [true, 0]);
  const byBytes = new BatchBounds(10, 4);
  assertEquals([byBytes.take("ab"), byBytes.take("é"), byBytes.take("c"), byBytes.take("")], [
    true,
    true,
    false,
    false,
  ]);
  assertEquals([byBytes.count, byBytes.bytes, byBytes.room], [2, 4, 0]);
  const exact = new BatchBounds(10, 3);
  assertEquals([exact.take("abc"), exact.room], [true, 9]);
});
