import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../../testing/assert.ts";
import { NodeError } from "./executor.ts";
import { readTextFileBounded, realServices, writeFileAtomic } from "./services.ts";

Deno.test("readTextFileBounded refuses a file over the bound", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f.txt`;
    await Deno.writeTextFile(path, "0123456789");
    assertStrictEquals(await readTextFileBounded(path, 10), "0123456789");
    await assertRejects(
      () => readTextFileBounded(path, 9),
      (e) => e instanceof NodeError && e.code === "file_too_large" && !e.retryable,
    );
    await assertRejects(
      () => readTextFileBounded(dir),
      (e) => e instanceof NodeError && e.code === "file_is_directory",
    );
    const big = "é".repeat(100_000);
    await Deno.writeTextFile(path, big);
    assertStrictEquals(await readTextFileBounded(path), big);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic replaces the whole file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f.txt`;
    await writeFileAtomic(path, "first");
    await writeFileAtomic(path, "second ✓");
    assertStrictEquals(await Deno.readTextFile(path), "second ✓");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["f.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sql without a database URL fails with sql_no_database", async () => {
  const services = realServices({});
  try {
    assertThrows(
      () => services.sql(undefined),
      (e) => e instanceof NodeError && e.code === "sql_no_database",
    );
    assert(services.fetch === globalThis.fetch || typeof services.fetch === "function");
  } finally {
    await services.close();
  }
});
