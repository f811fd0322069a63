/** The human output's pieces: short ids (and their way back), durations, relative times, tables. */
import { assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { ago, count, duration, shortId, table, truncate } from "./format.ts";
import { matchesShort } from "./ids.ts";

Deno.test("format: short ids, and every short id matches its whole id", () => {
  const ids = [
    "ex-6f260d08-1ce0-15dd-f21b-5c00e21b15f0",
    "ex-6f260d08f1ce015ddf21b5c00e21b15f",
    "ck-20757de16bde6a1ca8e1619f53b3455c@ex-f3bc1f2c-9bb4-4cbe-b29d-3caab80d9c49",
    "sch-b2a0b525-7d32-4bc9-8fd6-f5a5b8a91176@1796577101500",
    "sch-every-5m@1796577101500",
    "nightly",
  ];
  assertEquals(ids.map(shortId), [
    "ex-6f260d08",
    "ex-6f260d08",
    "ck-20757de1@ex-f3bc1f2c",
    "sch-b2a0b525@1796577101500",
    "sch-every-5m@1796577101500",
    "nightly",
  ]);
  for (const id of ids) assertStrictEquals(matchesShort(id, shortId(id)), true, id);
  assertStrictEquals(matchesShort(ids[2], "ex-f3bc1f2c"), false, "the pieces must line up");
  assertStrictEquals(matchesShort(ids[0], "ex-6f260d09"), false);
});

Deno.test("format: durations, relative times, counts", () => {
  assertEquals([0, 999, 1_000, 9_999, 10_000, 59_999, 60_000, 3_600_000, 90_000_000].map(duration), [
    "0ms",
    "999ms",
    "1.0s",
    "9.9s",
    "10s",
    "59s",
    "1m00s",
    "1h00m",
    "1d01h",
  ]);
  assertStrictEquals(duration(null), "-");
  const now = 10_000_000_000;
  assertEquals(
    [now, now - 500, now - 42_000, now - 7_200_000, now - 3 * 86_400_000, now + 61_000].map((t) =>
      ago(t, now)
    ),
    [
      "just now",
      "just now",
      "42s ago",
      "2h ago",
      "3d ago",
      "in 1m",
    ],
  );
  assertEquals([count(0), count(999), count(1_000), count(null)], ["0", "999", "1,000", "-"]);
});

Deno.test("format: tables align their columns and trim their lines", () => {
  assertEquals(
    table(["A", "LONG HEADER", "N"], [["xyz", "", "7"], ["", "b", "12"]], ["left", "left", "right"]),
    [
      "A    LONG HEADER   N",
      "xyz                7",
      "     b            12",
    ],
  );
  assertStrictEquals(truncate("abc", 3), "abc");
  assertStrictEquals(truncate("abcd", 3), "ab…");
});
