import { assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { DEFAULT_CONFIG } from "./ops/config.ts";
import { commitLingerMs, openStorage, storageKind } from "./storage_choice.ts";

Deno.test("storage choice: auto and embedded open SQLite in a new data directory; a PGlite one stays PGlite", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-choice-" });
  try {
    const at = { ...DEFAULT_CONFIG, dataDir };
    assertEquals(
      (["auto", "embedded", "sqlite", "pglite", "memory"] as const).map((storage) =>
        storageKind({ ...at, storage })
      ),
      ["sqlite", "sqlite", "sqlite", "pglite", "memory"],
    );
    assertStrictEquals(storageKind({ ...at, databaseUrl: "postgres://h/db" }), "postgres");
    assertStrictEquals(storageKind({ ...at, storage: "embedded", databaseUrl: "postgres://h/db" }), "sqlite");
    const storage = await openStorage({ ...at, storage: "embedded" });
    assertStrictEquals(storage.kind, "sqlite");
    await storage.close();
    // PGlite's files beside SQLite's: SQLite is the directory's store.
    await Deno.mkdir(`${dataDir}/pg`);
    assertStrictEquals(storageKind(at), "sqlite");
    // PGlite's files alone (a directory from before SQLite was the default): it keeps its store.
    await Deno.remove(`${dataDir}/sqlite`, { recursive: true });
    assertStrictEquals(storageKind(at), "pglite");
    assertStrictEquals(storageKind({ ...at, storage: "sqlite" }), "sqlite");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("storage choice: the commit group lingers on the local stores it opened, not otherwise", () => {
  const c = DEFAULT_CONFIG;
  assertEquals(
    [
      commitLingerMs({ ...c, storage: "sqlite" }, false),
      commitLingerMs({ ...c, storage: "pglite" }, false),
      commitLingerMs({ ...c, storage: "sqlite" }, true),
      commitLingerMs({ ...c, storage: "memory" }, false),
      commitLingerMs({ ...c, storage: "postgres" }, false),
    ],
    [2, 2, 0, 0, 0],
  );
});
