import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../../testing/assert.ts";
import { type Json, NodeError } from "./executor.ts";
import {
  consoleLog,
  fileCsvSink,
  fileJsonlSink,
  fileTextSink,
  memoryCollect,
  recordsToCsv,
} from "./sinks.ts";
import { parseCsv } from "./csv.ts";
import { testNodeContext } from "../../testing/node_context.ts";

async function inTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function dirEntries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("console.log: logs up to limit records, passes all records through", async () => {
  const ctx = testNodeContext({ config: { limit: 2 }, records: ["a", { b: 1 }, 3], nodeId: "log1" });
  const r = await consoleLog(ctx);
  assertEquals(r.records, ["a", { b: 1 }, 3]);
  assertStrictEquals(r.recordsProcessed, 3);
  assertEquals(ctx.logs.map((l) => l.line), [
    "[log1] a",
    '[log1] {"b":1}',
    "[log1] … 1 more records not shown (limit 2)",
  ]);
  assertStrictEquals(ctx.logs[1].fields.index, 1);
  assertStrictEquals(ctx.logs[0].fields.executionId, ctx.executionId);
  const none = testNodeContext({ config: { limit: 0 }, records: [1] });
  await consoleLog(none);
  assertEquals(none.logs.map((l) => l.line), ["[node-1] … 1 more records not shown (limit 0)"]);
});

Deno.test("file.text sink: one line per record, atomically, no temp file left", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/out.txt`;
    await Deno.writeTextFile(path, "old content that is longer\n");
    const r = await fileTextSink(
      testNodeContext({ config: { path }, records: ["plain", 42, { a: [1, "x"] }, null] }),
    );
    assertEquals(r.records, []);
    assertStrictEquals(r.recordsProcessed, 4);
    assertStrictEquals(await Deno.readTextFile(path), 'plain\n42\n{"a":[1,"x"]}\nnull\n');
    assertEquals(await dirEntries(dir), ["out.txt"]);
    await fileTextSink(testNodeContext({ config: { path }, records: [] }));
    assertStrictEquals(await Deno.readTextFile(path), "");
  });
});

Deno.test("file.jsonl sink: one JSON document per line", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/out.jsonl`;
    const records: Json[] = ["s", { k: "line\nbreak" }, [1, 2]];
    await fileJsonlSink(testNodeContext({ config: { path }, records }));
    const text = await Deno.readTextFile(path);
    assertStrictEquals(text, '"s"\n{"k":"line\\nbreak"}\n[1,2]\n');
    assertEquals(text.trimEnd().split("\n").map((l) => JSON.parse(l)), records);
    assertEquals(await dirEntries(dir), ["out.jsonl"]);
  });
});

Deno.test("file.csv sink: header from the union of keys, quoting, round trip", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/out.csv`;
    const records: Json[] = [
      { id: 1, name: "Doe, Jane" },
      { id: 2, note: 'said "hi"', name: null },
      { id: 3, tags: ["a", "b"], ok: true },
    ];
    await fileCsvSink(testNodeContext({ config: { path, delimiter: ",", header: true }, records }));
    const text = await Deno.readTextFile(path);
    assertStrictEquals(
      text,
      'id,name,note,tags,ok\r\n1,"Doe, Jane",,,\r\n2,,"said ""hi""",,\r\n3,,,"[""a"",""b""]",true\r\n',
    );
    assertEquals(parseCsv(text)[2], ["2", "", 'said "hi"', "", ""]);
    assertEquals(await dirEntries(dir), ["out.csv"]);
  });
});

Deno.test("recordsToCsv: arrays as rows, scalars, no header, custom delimiter, mixing fails", () => {
  assertStrictEquals(recordsToCsv([[1, "a;b"], ["x", null]], ";", true), '1;"a;b"\r\nx;\r\n');
  assertStrictEquals(recordsToCsv([{ a: 1 }, { a: 2 }], ",", false), "1\r\n2\r\n");
  assertStrictEquals(recordsToCsv([1, "two"], ",", true), "1\r\ntwo\r\n");
  assertStrictEquals(recordsToCsv([], ",", true), "");
  assertThrows(
    () => recordsToCsv([{ a: 1 }, [1]], ",", true),
    (e) => e instanceof NodeError && e.code === "record_type",
  );
});

Deno.test("file sinks: a missing directory fails with file_not_found and leaves nothing", async () => {
  await inTempDir(async (dir) => {
    await assertRejects(
      () => fileTextSink(testNodeContext({ config: { path: `${dir}/no/such/out.txt` }, records: [1] })),
      (e) => e instanceof NodeError && e.code === "file_not_found" && !e.retryable,
    );
    assertEquals(await dirEntries(dir), []);
  });
});

Deno.test("memory.collect: output is the input", async () => {
  const r = await memoryCollect(testNodeContext({ records: [1, { a: 2 }] }));
  assertEquals(r.records, [1, { a: 2 }]);
  assert(r.handle === undefined);
});
