import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../../testing/assert.ts";
import { NodeError, type SqlTarget } from "./executor.ts";
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

Deno.test("sql: only declared connections, never an undeclared name or an inline URL unless allowed", async () => {
  const url = "postgres://postgres@127.0.0.1:5432/postgres";
  const services = realServices({ sqlConnections: { reporting: url } });
  const inline = realServices({ allowInlineConnections: true });
  try {
    const refused = (target: SqlTarget, svc = services) =>
      assertThrows(
        () => svc.sql(target),
        (e) => e instanceof NodeError && e.code === "connection_not_granted" && !e.retryable,
      );
    refused({}); // no `default` declared: the engine's database is not one unless declared
    refused({ connection: "other" });
    refused({ connection: "__proto__" });
    refused({ connectionUrl: url });
    assert(typeof services.sql({ connection: "reporting" }).query === "function");
    assert(typeof inline.sql({ connectionUrl: url }).query === "function");
    refused({ connection: "reporting" }, inline);
    assert(services.fetch === globalThis.fetch || typeof services.fetch === "function");
  } finally {
    await services.close();
    await inline.close();
  }
});
