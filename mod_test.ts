/**
 * The public face: every entry point in deno.json `exports` resolves, and the core entry (`./core`) pulls in only
 * the pure core — no database driver, transport or metrics library — as `deno info --json` sees its module
 * graph.
 */
import { assert, assertEquals } from "./testing/assert.ts";

const ROOT = new URL(".", import.meta.url);
const HEAVY = ["postgres", "@electric-sql/pglite", "ws", "prom-client"];

interface ModuleGraph {
  modules: { specifier: string; kind?: string }[];
}

async function moduleGraph(entry: string): Promise<ModuleGraph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The npm packages (names without versions) a module graph loads. */
function npmPackages(graph: ModuleGraph): string[] {
  return graph.modules.filter((m) => m.kind === "npm").map((m) =>
    m.specifier.replace(/^npm:\/?/, "").replace(/@[^@/]+$/, "")
  );
}

const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
  exports: Record<string, string>;
};

Deno.test("public face: the core entry loads no npm package and nothing outside core/", async () => {
  assertEquals(config.exports["."], "./mod.ts");
  assertEquals(config.exports["./core"], "./core/mod.ts");
  const graph = await moduleGraph("core/mod.ts");
  const heavy = npmPackages(graph).filter((p) => HEAVY.includes(p));
  assertEquals(heavy, [], `the core entry pulls in ${heavy.join(", ")}`);
  const local = graph.modules.filter((m) => m.specifier.startsWith("file:")).map((m) =>
    m.specifier.slice(ROOT.href.length)
  );
  assert(local.includes("core/decide.ts"), local.join(", "));
  const outside = local.filter((p) => !p.startsWith("core/"));
  assertEquals(outside, [], `the core entry reaches ${outside.join(", ")}`);
});

Deno.test("public face: the check itself sees a driver when an entry loads one", async () => {
  // The same check on the server entry, which does load the PostgreSQL driver: it must report it.
  const graph = await moduleGraph(config.exports["./server"]);
  assert(npmPackages(graph).includes("postgres"), npmPackages(graph).join(", "));
});

Deno.test("public face: every export resolves to a module with a module doc and an example", async () => {
  for (const [name, path] of Object.entries(config.exports)) {
    const source = await Deno.readTextFile(new URL(path, ROOT));
    assert(source.includes("@module"), `${name} (${path}) has a module doc`);
    assert(source.includes("@example"), `${name} (${path}) has an example`);
    await moduleGraph(path);
  }
});
