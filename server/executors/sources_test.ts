import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
} from "../../testing/assert.ts";
import { NodeError } from "./executor.ts";
import {
  fileCsvSource,
  fileTextSource,
  memoryCollection,
  randomNumbers,
  seededRandom,
  sequenceLength,
  sequenceNumbers,
  splitLines,
} from "./sources.ts";
import { testNodeContext } from "../../testing/node_context.ts";

const code = (c: string) => (e: unknown) => e instanceof NodeError && e.code === c && !e.retryable;

function seq(start: number, end: number, step: number) {
  return sequenceNumbers(testNodeContext({ config: { start, end, step } }));
}

Deno.test("sequence.numbers: inclusive, by step, counting down, wrong way empty", async () => {
  assertEquals((await seq(1, 5, 1)).records, [1, 2, 3, 4, 5]);
  assertEquals((await seq(0, 10, 3)).records, [0, 3, 6, 9]);
  assertEquals((await seq(5, 1, -2)).records, [5, 3, 1]);
  assertEquals((await seq(1, 5, -1)).records, []);
  assertEquals((await seq(5, 1, 1)).records, []);
  assertEquals((await seq(3, 3, 1)).records, [3]);
  assertEquals((await seq(0, 1, 0.1)).records, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  assertStrictEquals(sequenceLength(1, 100, 1), 100);
});

Deno.test("sequence.numbers: a huge range fails fast with output_too_large", async () => {
  const started = performance.now();
  await assertRejects(
    () =>
      sequenceNumbers(
        testNodeContext({ config: { start: 1, end: 1e12, step: 1 }, limits: { maxRecords: 1000 } }),
      ),
    code("output_too_large"),
  );
  assert(performance.now() - started < 1000);
});

Deno.test("random.numbers: in range, integers, reproducible with a seed, different without", async () => {
  const run = (seed?: number) =>
    randomNumbers(
      testNodeContext({ config: { count: 200, min: -3, max: 3, ...(seed === undefined ? {} : { seed }) } }),
    );
  const a = (await run(42)).records as number[];
  const b = (await run(42)).records as number[];
  const c = (await run(43)).records as number[];
  assertStrictEquals(a.length, 200);
  assertEquals(a, b);
  assertNotEquals(a, c);
  assert(a.every((x) => Number.isInteger(x) && x >= -3 && x <= 3));
  assertEquals(new Set(a).size, 7); // every value of the range shows up in 200 draws
  const u1 = (await randomNumbers(testNodeContext({ config: { count: 50, min: 1, max: 1e9 } }))).records;
  const u2 = (await randomNumbers(testNodeContext({ config: { count: 50, min: 1, max: 1e9 } }))).records;
  assertNotEquals(u1, u2);
  assertEquals(
    (await randomNumbers(testNodeContext({ config: { count: 3, min: 7, max: 7, seed: 1 } }))).records,
    [
      7,
      7,
      7,
    ],
  );
  await assertRejects(
    () => randomNumbers(testNodeContext({ config: { count: 3, min: 1.2, max: 1.8 } })),
    code("config_range"),
  );
  await assertRejects(
    () =>
      randomNumbers(testNodeContext({ config: { count: 5000, min: 1, max: 2 }, limits: { maxRecords: 10 } })),
    code("output_too_large"),
  );
});

Deno.test("seededRandom is deterministic and spreads large seeds", () => {
  const take = (s: number) => Array.from({ length: 4 }, seededRandom(s));
  assertEquals(take(2 ** 40), take(2 ** 40));
  assertNotEquals(take(2 ** 40), take(2 ** 40 + 2 ** 32));
  assertNotEquals(take(-1), take(1));
});

Deno.test("memory.collection emits a copy of data", async () => {
  const data = [{ a: 1 }, 2, "x"];
  const r = await memoryCollection(testNodeContext({ config: { data } }));
  assertEquals(r.records, data);
  (r.records[0] as { a: number }).a = 99;
  assertEquals(data[0], { a: 1 });
});

async function withTempFile(text: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/in.txt`;
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("file.text source: lines, CRLF, no trailing empty line, skipEmpty", async () => {
  await withTempFile("one\r\ntwo\n\n  \nthree\n", async (path) => {
    const all = await fileTextSource(testNodeContext({ config: { path, skipEmpty: false } }));
    assertEquals(all.records, ["one", "two", "", "  ", "three"]);
    const some = await fileTextSource(testNodeContext({ config: { path, skipEmpty: true } }));
    assertEquals(some.records, ["one", "two", "three"]);
  });
  await withTempFile("", async (path) => {
    assertEquals((await fileTextSource(testNodeContext({ config: { path, skipEmpty: false } }))).records, []);
  });
  assertEquals(splitLines("a\n\n"), ["a", ""]);
  await assertRejects(
    () =>
      fileTextSource(
        testNodeContext({ config: { path: "/nonexistent/x.txt", skipEmpty: false }, filesRoot: "/" }),
      ),
    code("file_not_found"),
  );
});

Deno.test("file.csv source: header to objects, quotes, newlines, custom delimiter", async () => {
  await withTempFile('id;name;note\r\n1;"Doe; Jane";"a ""b""\nc"\r\n2;Bob;\r\n', async (path) => {
    const r = await fileCsvSource(testNodeContext({ config: { path, delimiter: ";", header: true } }));
    assertEquals(r.records, [
      { id: "1", name: "Doe; Jane", note: 'a "b"\nc' },
      { id: "2", name: "Bob", note: "" },
    ]);
    const raw = await fileCsvSource(testNodeContext({ config: { path, delimiter: ";", header: false } }));
    assertEquals(raw.records[0], ["id", "name", "note"]);
    assertStrictEquals(raw.records.length, 3);
  });
  await withTempFile("a,b\n1,2,3\n", async (path) => {
    await assertRejects(
      () => fileCsvSource(testNodeContext({ config: { path, delimiter: ",", header: true } })),
      code("csv_columns"),
    );
  });
  await withTempFile("a,a\n1,2\n", async (path) => {
    await assertRejects(
      () => fileCsvSource(testNodeContext({ config: { path, delimiter: ",", header: true } })),
      code("csv_header"),
    );
  });
  await withTempFile("", async (path) => {
    const r = await fileCsvSource(testNodeContext({ config: { path, delimiter: ",", header: true } }));
    assertEquals(r.records, []);
  });
});
