import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertMatch, assertNotEquals, assertStrictEquals } from "../testing/assert.ts";
import { DEFAULT_SHARD_COUNT, executionIdFor, hash128, shardOf } from "./ids.ts";

Deno.test("hash128: 32 hex digits, the same for the same text", () => {
  for (const text of ["", "a", "hello world", "é😀", "x".repeat(10_000)]) {
    assertMatch(hash128(text), /^[0-9a-f]{32}$/);
    assertStrictEquals(hash128(text), hash128([...text].join("")));
  }
});

Deno.test("hash128: stable across processes and versions (golden values)", () => {
  // Execution ids and shards derive from it and are persisted: these values must never change.
  assertStrictEquals(hash128(""), "ebb6c228cb72770f0c66c0248c03471f");
  assertStrictEquals(hash128("a"), "11caa9f566666090be353180aa6827db");
  assertStrictEquals(hash128("hello world"), "2d654f8a04c86fdf1beaf1ae44fd8930");
  assertStrictEquals(hash128("é😀"), "debf8a5b1b2760a548e3c1aa78afe407");
  assertStrictEquals(executionIdFor("wf-1", "key-1"), "ex-27bef2b724d17483fe746d9a4b97ed7e");
  assertStrictEquals(shardOf("ex-1"), 29);
  assertStrictEquals(shardOf("ex-1", 16), 13);
  assertStrictEquals(shardOf("exec-42", 7), 1);
});

Deno.test("hash128: distinct for distinct texts (10,000 near-identical inputs, no collision)", () => {
  const seen = new Map<string, string>();
  const texts = ["", "\u0000", "\u0000\u0000", " ", "a", "b", "ab", "ba"];
  for (let i = 0; i < 10_000; i++) texts.push(`ex-${i}`);
  for (const text of texts) {
    const h = hash128(text);
    assert(!seen.has(h), `collision: ${JSON.stringify(text)} and ${JSON.stringify(seen.get(h))}`);
    seen.set(h, text);
  }
  // Each of the four 32-bit words differs on its own (they are not copies of one another).
  const h = hash128("a");
  assertStrictEquals(new Set([0, 8, 16, 24].map((k) => h.slice(k, k + 8))).size, 4);
});

Deno.test("executionIdFor: deterministic; differs by workflow and by key", () => {
  assertStrictEquals(executionIdFor("wf", "k"), executionIdFor("wf", "k"));
  assertMatch(executionIdFor("wf", "k"), /^ex-[0-9a-f]{32}$/);
  assertNotEquals(executionIdFor("wf", "k"), executionIdFor("wf", "k2"));
  assertNotEquals(executionIdFor("wf", "k"), executionIdFor("wf2", "k"));
  // The separator keeps the pair unambiguous for valid workflow ids (no NUL in them).
  assertNotEquals(executionIdFor("ab", "c"), executionIdFor("a", "bc"));
});

Deno.test("shardOf: in range and stable; the default is 128 shards, all of them used", () => {
  assertStrictEquals(DEFAULT_SHARD_COUNT, 128);
  const counts = new Array(DEFAULT_SHARD_COUNT).fill(0);
  for (let i = 0; i < 12_800; i++) {
    const shard = shardOf(`ex-${i}`);
    assert(Number.isInteger(shard) && shard >= 0 && shard < DEFAULT_SHARD_COUNT, `shard ${shard}`);
    assertStrictEquals(shardOf(`ex-${i}`), shard);
    counts[shard]++;
  }
  // Roughly uniform: 100 expected per shard.
  assert(
    Math.min(...counts) > 40 && Math.max(...counts) < 180,
    `counts from ${Math.min(...counts)} to ${Math.max(...counts)}`,
  );
  assertStrictEquals(shardOf("anything", 1), 0);
});

Deno.test("shardOf (property): in [0, n) and the same for the same id", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 80 }),
      fc.integer({ min: 1, max: 100_000 }),
      (id, n) => {
        const shard = shardOf(id, n);
        assert(Number.isInteger(shard) && shard >= 0 && shard < n);
        assertStrictEquals(shardOf(id, n), shard);
        assertStrictEquals(shardOf(`${id}`, n), shard);
        assertEquals(shardOf(id), shardOf(id, DEFAULT_SHARD_COUNT));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("executionIdFor (property): the same pair gives the same id; a different key, a different id", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), fc.string(), fc.string(), (wf, k1, k2) => {
      assertStrictEquals(executionIdFor(wf, k1), executionIdFor(wf, k1));
      if (k1 !== k2) assertNotEquals(executionIdFor(wf, k1), executionIdFor(wf, k2));
    }),
    { numRuns: 300 },
  );
});
