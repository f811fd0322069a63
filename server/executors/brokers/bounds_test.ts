import { assertEquals } from "../../../testing/assert.ts";
import { BatchBounds, utf8Length, valueBytes } from "./bounds.ts";

const m = (value: string) => ({ value, position: {} });

Deno.test("utf8Length counts as TextEncoder does", () => {
  const encoder = new TextEncoder();
  for (const s of ["", "abc", "é", "€", "😀", "a😀b", "\ud800", "x\udc00y", "日本語"]) {
    assertEquals(utf8Length(s), encoder.encode(s).length, JSON.stringify(s));
  }
});

Deno.test("BatchBounds: stops at maxMessages, and at the first value that would pass maxBytes", () => {
  const byCount = new BatchBounds(2, 100, valueBytes);
  assertEquals([byCount.take(m("a")), byCount.take(m("b")), byCount.take(m("c"))], [true, true, false]);
  assertEquals([byCount.stopped, byCount.room], [true, 0]);
  const byBytes = new BatchBounds(10, 4, valueBytes);
  assertEquals([byBytes.take(m("ab")), byBytes.take(m("é")), byBytes.take(m("c")), byBytes.take(m(""))], [
    true,
    true,
    false,
    false,
  ]);
  assertEquals([byBytes.count, byBytes.bytes, byBytes.room], [2, 4, 0]);
  const exact = new BatchBounds(10, 3, valueBytes);
  assertEquals([exact.take(m("abc")), exact.room], [true, 9]);
});

Deno.test("BatchBounds: a measure counts what the message becomes (the consumer's record as JSON)", () => {
  const asJson = (x: { value: string }) => JSON.stringify(x.value).length + 1;
  const bounds = new BatchBounds(10, 12, asJson);
  // "a\"b" is 4 characters of value, but 8 as a JSON string plus its comma: only one fits in 12.
  assertEquals([bounds.take(m('a"b')), bounds.take(m('a"b'))], [true, false]);
  assertEquals(bounds.bytes, 7);
});
