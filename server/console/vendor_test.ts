/**
 * The vendored libraries cannot drift from their source: each file under `server/console/vendor/` is
 * byte-for-byte the file of the pinned npm package (as Deno's npm cache holds it; this test imports the
 * packages, so they are there), and `deno.json` pins the same versions the console serves.
 */
import "npm:preact@10.29.8";
import "npm:preact@10.29.8/hooks";
import "npm:htm@3.1.1";
import "npm:@dagrejs/dagre@3.1.4";
import { assert, assertEquals } from "../../testing/assert.ts";
import { VENDOR } from "./vendor.ts";

/** Deno's npm cache folder (`deno info --json`'s `npmCache`). */
async function npmCache(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).output();
  assert(out.success, "deno info --json failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)).npmCache;
}

/** Where a package's version is in the cache (under any registry's folder). */
function packageDir(cache: string, name: string, version: string): string {
  for (const registry of Deno.readDirSync(cache)) {
    const dir = `${cache}/${registry.name}/${name}/${version}`;
    try {
      if (Deno.statSync(dir).isDirectory) return dir;
    } catch {
      // not under this registry
    }
  }
  throw new Error(`${name}@${version} is not in Deno's npm cache (${cache})`);
}

Deno.test("console vendor: each vendored file is the pinned package's file, byte for byte", async () => {
  const cache = await npmCache();
  for (const v of VENDOR) {
    const source = await Deno.readFile(`${packageDir(cache, v.package, v.version)}/${v.file}`);
    const vendored = await Deno.readFile(new URL(`./vendor/${v.path}`, import.meta.url));
    assertEquals(vendored.length, source.length, `${v.path}: size`);
    assert(
      vendored.every((b, i) => b === source[i]),
      `${v.path} differs from ${v.package}@${v.version}/${v.file}`,
    );
  }
});

Deno.test("console vendor: deno.json pins the versions the console serves", async () => {
  const imports = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url))).imports;
  for (const v of VENDOR) {
    const pinned = imports[v.specifier] ?? "";
    assert(pinned.startsWith(`npm:${v.package}@${v.version}`), `${v.specifier}: deno.json has ${pinned}`);
  }
  // Each vendored package ships its licence beside it.
  for (const dir of new Set(VENDOR.map((v) => v.path.slice(0, v.path.lastIndexOf("/"))))) {
    assert(Deno.statSync(new URL(`./vendor/${dir}/LICENSE`, import.meta.url)).isFile, `${dir}/LICENSE`);
  }
});
